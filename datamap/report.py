"""The one-page data map: a Markdown page for a buyer's security review.

The page lists what data enters the tenant and where it is stored and encrypted.
It shows who can reach the data and which policy statement allows it, how long
every store and copy keeps it, how it is deleted at pilot end, and who owns what.
The same inputs give the same bytes.

Retention figures come from ``retention`` when the caller passes one, a mapping
{resource ARN: (days, "forever" or "unknown", reason)} whose values may also be
``datamap.retention.Retention`` results. Otherwise ``datamap.report_retention``
reads them straight from the inventory attributes. Below that table, every copy of
each store's data is listed with the path of flows that made it, from ``datamap.flows``.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping
from pathlib import Path

import networkx as nx

from datamap.flows import AUDIT_LOG, StoreFlows, effective_by_classification, flow_retention
from datamap.graph import ACCESS, ASSUMES, COPY, ENCRYPTED_BY, FLOW, PERSON, ROLE, STORE, who_can_reach
from datamap.inventory import Inventory, Resource
from datamap.matrix import AccessMatrix
from datamap.report_retention import RetentionFigure, retention_of
from datamap.retention.result import Retention
from infra.capabilities import Capability
from infra.spec import PilotSpec

SOURCES = {"live": "a read-only scan of the deployed AWS account",
           "plan": "the Pulumi program's plan (nothing deployed yet)",
           "stack-export": "a Pulumi stack export"}
OWNER_TITLES = {"permissions": "Permissions (who gets access)", "auditLogs": "Audit logs",
                "support": "Support", "data": "Customer data"}
STANDOUT = (Capability.EXPORT, Capability.DELETE, Capability.ADMIN)
AUDIT_CONTENTS = ("records of access", "audit log files")


def write_data_map(graph: nx.MultiDiGraph, inventory: Inventory, spec: PilotSpec, matrix: AccessMatrix,
                   retention: Mapping[str, RetentionFigure | Retention] | None = None, *,
                   path: str | Path) -> Path:
    """Write the data map to ``path`` (UTF-8 Markdown) and return the path."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(render_data_map(graph, inventory, spec, matrix, retention), encoding="utf-8")
    return path


def render_data_map(graph: nx.MultiDiGraph, inventory: Inventory, spec: PilotSpec, matrix: AccessMatrix,
                    retention: Mapping[str, RetentionFigure | Retention] | None = None) -> str:
    """Return the data map as Markdown text."""
    holders = _holders(graph)
    retention_by_node = {node: retention_of(graph, inventory, node, retention or {}) for node in holders}
    sections = [
        _header(inventory, spec),
        _entering(graph, spec),
        _stored(graph, inventory, holders),
        _reach(graph, spec, matrix),
        _retention_table(graph, spec, holders, retention_by_node),
        _copy_paths(spec, flow_retention(inventory, spec, graph, today=_read_on(inventory))),
        _deletion(spec, graph, holders, retention_by_node),
        _owners(spec),
        _gaps(graph, inventory),
        _terms(),
    ]
    return "\n\n".join(s for s in sections if s) + "\n"


def _holders(graph: nx.MultiDiGraph) -> list[str]:
    """Return stores, then copies, each sorted by label."""
    def nodes_of(kind: str) -> list[str]:
        return sorted((n for n, d in graph.nodes(data=True) if d["kind"] == kind),
                      key=lambda n: (graph.nodes[n]["label"], graph.nodes[n]["service"], n))
    return nodes_of(STORE) + nodes_of(COPY)


def _table_head(*titles: str) -> list[str]:
    return [_row(*titles), _row(*("---" for _ in titles))]


def _row(*cells: str) -> str:
    """Return one Markdown table row, escaping "|" inside a cell so it cannot split the cell."""
    return "| " + " | ".join(str(c).replace("|", "\\|").replace("\n", " ") for c in cells) + " |"


def _title(graph: nx.MultiDiGraph, node: str, with_name: bool = True) -> str:
    """Return "**store**" for a store, and for a copy its service followed by its name or its contents."""
    data = graph.nodes[node]
    if data["kind"] == STORE:
        return f"**{data['label']}**"
    contents = f" ({data['contents']})" if data.get("contents") else ""
    return f"{data['service']} {data['label']}" if with_name else f"{data['service']}{contents}"


def _header(inventory: Inventory, spec: PilotSpec) -> str:
    source = SOURCES.get(inventory.source, inventory.source)
    read_time = f", read at {inventory.taken_at}" if inventory.taken_at else ""
    return (f"# Data map: {spec.customer} pilot\n\n"
            f"Customer {spec.customer}, AWS account {inventory.account_id or 'unknown'}, region {spec.region}. "
            f"The pilot runs from {spec.start} to {spec.end}, and all customer data is to be deleted by "
            f"{spec.data_deleted_by} ({spec.retention_days_after_end} days after the pilot ends). "
            f"This map was built from {source}{read_time}.")


def _entering(graph: nx.MultiDiGraph, spec: PilotSpec) -> str:
    found = {d.get("store") for _, d in graph.nodes(data=True) if d["kind"] == STORE}
    rows = ["## What data enters", "", *_table_head("Store", "What it holds", "Classification", "Kind")]
    for store in spec.stores:
        kind = "S3 bucket" if store.kind == "s3" else "CloudWatch Logs log group"
        note = "" if store.name in found else " (not found in the account)"
        description = (store.description or "No description in the spec").rstrip(".") + "."
        exports = " Holds exports, so reading it counts as export." if store.holds_exports else ""
        rows.append(_row(f"**{store.name}**{note}", description + exports, store.classification, kind))
    return "\n".join(rows)


def _stored(graph: nx.MultiDiGraph, inventory: Inventory, holders: list[str]) -> str:
    rows = ["## Where it is stored", "",
            *_table_head("Store or copy", "AWS name", "Copy of", "Region", "Encrypted with")]
    for node in holders:
        data = graph.nodes[node]
        resource = inventory.by_arn(data["arn"])
        region = (resource.region or inventory.region) if resource else "unknown"
        sources = sorted({f"{graph.nodes[u]['label']} ({d['flow']})" for u, _, d in graph.in_edges(node, data=True)
                          if d["kind"] == FLOW})
        rows.append(_row(_title(graph, node, with_name=False), data["name"], ", ".join(sources) or "-",
                         region or "unknown", _encryption(graph, node, resource)))
    return "\n".join(rows)


def _encryption(graph: nx.MultiDiGraph, node: str, resource: Resource | None) -> str:
    keys = [graph.nodes[v] for _, v, d in graph.out_edges(node, data=True) if d["kind"] == ENCRYPTED_BY]
    if keys:
        return "; ".join(f"KMS key {k['label']}" + (f" ({k['description']})" if k.get("description") else "")
                         for k in keys)
    if resource is None:
        return "unknown: not in the inventory"
    if resource.kind == "s3_bucket":
        if not resource.known("Encryption"):
            return f"unknown: {resource.errors.get('Encryption', 'not read')}"
        algorithms = [(r.get("ApplyServerSideEncryptionByDefault") or {}).get("SSEAlgorithm")
                      for r in (resource.get("Encryption") or {}).get("Rules") or ()]
        return "keys managed by S3 (SSE-S3)" if "AES256" in algorithms else "no default encryption recorded"
    if resource.kind == "log_group":
        return "keys managed by CloudWatch Logs (no KMS key set)"
    if resource.kind == "cloudtrail_trail":
        return "no KMS key set: log files use the audit bucket's default encryption"
    return "not recorded"


def _reach(graph: nx.MultiDiGraph, spec: PilotSpec, matrix: AccessMatrix) -> str:
    """Return the access section: one row per person and per role no person assumes, then the deciding statements."""
    names = {p.id: p.name for p in spec.people}
    targets = _holders(graph) + sorted(n for n, d in graph.nodes(data=True) if d["kind"] not in (STORE, COPY))
    reach = {node: who_can_reach(graph, node) for node in targets}
    spec_order = [p.id for p in spec.people]
    people = sorted((n for n, d in graph.nodes(data=True) if d["kind"] == PERSON),
                    key=lambda n: (_position(spec_order, graph.nodes[n]["person"]), graph.nodes[n]["person"]))
    rows = ["## Who can reach it", "",
            "People sign in as their own IAM user and act through the role they assume.", "",
            *_table_head("Person", "Role", "What they can do")]

    details: list[tuple] = []
    for person in people:
        pid = graph.nodes[person]["person"]
        roles = [v for _, v, d in graph.out_edges(person, data=True) if d["kind"] == ASSUMES]
        grants, groups = _grants(graph, targets, lambda node, pid=pid: reach[node].get(pid))
        for nodes, capabilities, target in groups:
            details += _decisions(graph, graph.nodes[person]["label"], [person, *roles], nodes, capabilities, target)
        rows.append(_row(names.get(pid, graph.nodes[person]["label"]),
                         ", ".join(sorted(graph.nodes[r]["label"] for r in roles)) or "no role",
                         "; ".join(grants) or "nothing"))

    unassumed = sorted((n for n, d in graph.nodes(data=True) if d["kind"] == ROLE
                        and not any(e["kind"] == ASSUMES for _, _, e in graph.in_edges(n, data=True))),
                       key=lambda n: (graph.nodes[n]["label"], n))
    role_rows = []
    for role in unassumed:
        grants, groups = _grants(graph, targets, lambda node, role=role: _role_capabilities(graph, role, node))
        if grants:
            role_rows.append(_row(graph.nodes[role]["name"], "; ".join(grants)))
        for nodes, capabilities, target in groups:
            details += _decisions(graph, f"role {graph.nodes[role]['name']}", [role], nodes, capabilities, target)
    if role_rows:
        rows += ["", "Roles no person assumes, such as the roles AWS services use:", "",
                 *_table_head("Role", "What it can do"), *role_rows]

    if details:
        rows += ["", "Export, delete and admin grants, and grants the scan could not decide, with the policy "
                     "statements that decide each:", "", *_decision_lines(details)]
    if matrix.unclassified_actions:
        rows += ["", "Actions the capability table does not classify, so their effect is unknown: "
                 + ", ".join(sorted(matrix.unclassified_actions)) + "."]
    if matrix.assumptions:
        rows += ["", "The access analysis assumed: " + "; ".join(matrix.assumptions) + "."]
    return "\n".join(rows)


def _position(order: list[str], item: str) -> int:
    return order.index(item) if item in order else len(order)


def _grants(graph: nx.MultiDiGraph, targets: list[str],
            capabilities_of: Callable[[str], Mapping[Capability, str] | None]) -> tuple[list[str], list[tuple]]:
    """Return the grant texts ("records: view, change") and the (nodes, capabilities, target name) groups.

    Grants on IAM users and roles are grouped by capability text, so eight users
    managed the same way take one entry.
    """
    grants, groups = [], []
    principals: dict[tuple[str, str], list[str]] = {}
    for node in targets:
        capabilities = capabilities_of(node)
        if not capabilities:
            continue
        text = ", ".join(c.value if s == "allow" else f"{c.value} (unknown)" for c, s in capabilities.items())
        kind = graph.nodes[node]["kind"]
        if kind in (PERSON, ROLE):
            principals.setdefault((kind, text), []).append(node)
            continue
        grants.append(f"{graph.nodes[node]['label']}: {text}")
        groups.append(([node], capabilities, graph.nodes[node]["label"]))
    for (kind, text), nodes in sorted(principals.items()):
        target = f"the IAM users of {len(nodes)} people" if kind == PERSON else f"{len(nodes)} IAM roles"
        grants.append(f"{target.removeprefix('the ')}: {text}")
        groups.append((nodes, capabilities_of(nodes[0]), target))
    return grants, groups


def _role_capabilities(graph: nx.MultiDiGraph, role: str, node: str) -> dict[Capability, str]:
    found: dict[Capability, str] = {}
    if graph.has_edge(role, node):
        for edge in graph.get_edge_data(role, node).values():
            if edge["kind"] == ACCESS and found.get(edge["capability"]) != "allow":
                found[edge["capability"]] = edge["status"]
    return {c: found[c] for c in Capability if c in found}


def _decisions(graph: nx.MultiDiGraph, name: str, sources: list[str], nodes: list[str],
               capabilities: Mapping[Capability, str], target: str) -> list[tuple]:
    """Return (name, capability, status, statements, conditions, target) per export, delete, admin or unknown grant."""
    found = []
    for capability, status in capabilities.items():
        if capability not in STANDOUT and status == "allow":
            continue
        edges = [d for source in sources for node in nodes if graph.has_edge(source, node)
                 for d in graph.get_edge_data(source, node).values()
                 if d["kind"] == ACCESS and d["capability"] == capability]
        statements = "; ".join(sorted({str(s) for d in edges for s in d["statements"]})) or "no statement recorded"
        conditions = ", ".join(sorted({c for d in edges for c in d["unknown_conditions"]}))
        found.append((name, capability, status, statements, conditions, target))
    return found


def _decision_lines(decisions: list[tuple]) -> list[str]:
    """Return one line per principal, capability and deciding statements, naming every target they cover."""
    targets: dict[tuple, list[str]] = {}
    for name, capability, status, statements, conditions, target in decisions:
        targets.setdefault((name, capability, status, statements, conditions), []).append(target)
    lines = []
    for (name, capability, status, statements, conditions), covered in targets.items():
        on = ", ".join(covered)
        if status == "allow":
            lines.append(f"- {name}: **{capability.value}** on {on}, allowed by {statements}.")
            continue
        cause = (f"it depends on {conditions}, which the scan cannot evaluate" if conditions
                 else "the evaluator could not decide it")
        lines.append(f"- {name}: {capability.value} on {on} is **unknown**, because {cause} ({statements}).")
    return lines


def _retention_table(graph: nx.MultiDiGraph, spec: PilotSpec, holders: list[str],
                     retention_by_node: Mapping[str, RetentionFigure]) -> str:
    rows = ["## How long it is kept", "",
            f"\"Gone by\" assumes the last record is written on the pilot's last day, {spec.end}.", "",
            *_table_head("Store or copy", "Kept for", "Gone by", "Why")]
    for node in holders:
        value, reason = retention_by_node[node]
        rows.append(_row(_title(graph, node), _days(value), _gone_by(spec, graph, node, value), reason))
    return "\n".join(rows)


def _copy_paths(spec: PilotSpec, flows: Mapping[str, StoreFlows]) -> str:
    """Return every copy of each store's data with its path, how long it keeps the data and when it is gone."""
    copies = [copy for name in sorted(flows) for copy in flows[name].copies]
    if not copies:
        return ""
    rows = ["Every copy of each store's data, along the flows that made it. Records of access count from the access, "
            "exports from the export, and every other copy from when the data is written.", "",
            *_table_head("Copy", "Kept for", "Gone by", "Why")]
    for copy in copies:
        value = copy.retention
        figure = value.days if value.is_days else value.kind.value
        audit_end = spec.end + dt.timedelta(days=spec.audit_retention_days)
        promised = audit_end if AUDIT_LOG in copy.flows else spec.data_deleted_by
        late = ""
        if value.is_days:
            deleted_on = spec.end + dt.timedelta(days=value.days)
            late = f" (**after** the promised {promised})" if deleted_on > promised else ""
        else:
            deleted_on = "never by itself" if value.is_forever else "unknown"
        doubt = f" (if this flow exists: {copy.doubt})" if copy.doubt else ""
        rows.append(_row(copy.describe(), _days(figure), f"{deleted_on}{late}", value.reason + doubt))
    longest = "; ".join(f"{name}: {flows[name].effective}" for name in sorted(flows))
    classes = "; ".join(f"{name}: {value}" for name, value in effective_by_classification(flows).items())
    rows += ["", f"The longest any copy keeps each store's data: {longest}. By classification: {classes}."]
    return "\n".join(rows)


def _read_on(inventory: Inventory) -> dt.date | None:
    """Return the day the inventory was read, which decides date-based lifecycle rules; None when not recorded."""
    try:
        return dt.date.fromisoformat(inventory.taken_at[:10])
    except ValueError:
        return None


def _days(value: int | str) -> str:
    return f"{value} days" if isinstance(value, int) else str(value)


def _promised(spec: PilotSpec, graph: nx.MultiDiGraph, node: str) -> dt.date:
    """Return the date by which the spec promises the node's data is gone. Audit logs have their own retention."""
    if graph.nodes[node].get("contents") in AUDIT_CONTENTS:
        return spec.end + dt.timedelta(days=spec.audit_retention_days)
    return spec.data_deleted_by


def _gone_by(spec: PilotSpec, graph: nx.MultiDiGraph, node: str, value: int | str) -> str:
    if value == "forever":
        return "never by itself"
    if not isinstance(value, int):
        return "unknown"
    deleted_on = spec.end + dt.timedelta(days=value)
    promised = _promised(spec, graph, node)
    late = f" (**after** the promised {promised})" if deleted_on > promised else ""
    return f"{deleted_on}{late}"


def _deletion(spec: PilotSpec, graph: nx.MultiDiGraph, holders: list[str],
              retention_by_node: Mapping[str, RetentionFigure]) -> str:
    audit = [n for n in holders if graph.nodes[n].get("contents") in AUDIT_CONTENTS]
    data = [n for n in holders if n not in audit]
    never = [_title(graph, n) for n in holders if retention_by_node[n][0] == "forever"]
    unknown = [_title(graph, n) for n in holders
               if retention_by_node[n][0] != "forever" and not isinstance(retention_by_node[n][0], int)]
    lines = ["## How it is deleted at pilot end", "",
             f"1. Until the tenant is destroyed, the expiry rules above delete data on their own: customer data "
             f"{_latest(spec, data, retention_by_node)}, and audit logs (records of who accessed what) "
             f"{_latest(spec, audit, retention_by_node)}. S3 deletes expired objects in the background and "
             f"CloudWatch Logs typically within 72 hours of expiry, so a deletion can lag by a few days.",
             f"2. To delete everything at once, the vendor runs `pulumi destroy -s {spec.customer}`, which deletes "
             f"every resource the tenant's Pulumi stack manages. Resources made outside the stack (by hand or by "
             f"another tool) stay and must be deleted separately. AWS deletes a KMS key only after a waiting "
             f"period of 7 to 30 days."]
    if never:
        lines.append(f"3. Nothing deletes the data in {', '.join(never)} before `pulumi destroy` runs.")
    if unknown:
        lines.append(f"{3 + bool(never)}. When {', '.join(unknown)} will be emptied is unknown; see the table above.")
    return "\n".join(lines)


def _latest(spec: PilotSpec, nodes: list[str], retention_by_node: Mapping[str, RetentionFigure]) -> str:
    """Return when the last of ``nodes`` is emptied, as a phrase that follows the name of the data."""
    values = [retention_by_node[n][0] for n in nodes]
    if not values:
        return "(none stored)"
    if "forever" in values:
        return "only in part, because some of it is never deleted by itself (see below)"
    if any(not isinstance(v, int) for v in values):
        return "by an unknown date (see below)"
    return f"by {spec.end + dt.timedelta(days=max(values))}"


def _owners(spec: PilotSpec) -> str:
    lines = ["## Owners and support", ""]
    lines += [f"- {title}: {spec.owners.get(key, 'not named')}" for key, title in OWNER_TITLES.items()]
    support = spec.support
    lines.append(f"- Support path: write to {support.channel}. First reply within {_hours(support.first_reply_hours)}, "
                 f"then an update at least every {_hours(support.update_hours)} until the issue is closed.")
    return "\n".join(lines)


def _hours(value: float) -> str:
    number = int(value) if float(value).is_integer() else value
    return f"{number} hour" + ("" if number == 1 else "s")


def _gaps(graph: nx.MultiDiGraph, inventory: Inventory) -> str:
    gaps = list(graph.graph.get("unknown", ())) + list(inventory.errors)
    if not gaps:
        return ""
    return "\n".join(["## What this map could not read", "", *(f"- {gap}" for gap in gaps)])


def _terms() -> str:
    return ("## Terms\n\n"
            "- **Store**: where customer data rests (an S3 bucket or a CloudWatch Logs log group). "
            "**Copy**: anything that holds that data again: backups (AWS Backup recovery points), replicas, "
            "access logs and the audit trail (CloudTrail).\n"
            "- **view**: read records. **change**: create and update records. **export**: copy data out of its "
            "store, or read a store that holds exports. **delete**: destroy records or their old versions. "
            "**admin**: manage people, policies and settings, which can also delete or export indirectly.\n"
            "- **KMS key**: an AWS Key Management Service key that encrypts the data at rest; whoever cannot use "
            "the key cannot read the data.\n"
            "- **unknown**: the scan could not decide, for example because a policy depends on the caller's "
            "network address. Unknown is never counted as safe.")
