"""The tenant graph: people → roles → stores → copies → keys, built from an inventory and an access matrix.

``build_graph`` is pure: it reads the inventory, the access matrix and (for full
names) the pilot spec, and returns a new ``networkx.MultiDiGraph``. Node ids are
ARNs; log group ARNs lose CloudTrail's ``:*`` suffix so both spellings meet.
Every node has ``kind``, ``arn``, ``name`` (the AWS name), ``label`` (the name people
use, such as a person's full name or a store's spec name), ``service`` (for example
"S3 bucket"), ``resource_kind`` (the inventory kind, "" when the node is not in the
inventory) and ``in_inventory``. Copies also have ``contents``.

Node kinds: person, role, store, copy, key. A role without a pilot:role tag (a
service role, such as the one AWS Backup assumes) has ``service_role`` set. A
tenant-tagged resource that is none of these keeps its inventory kind
(``backup_plan``, ``iam_policy`` ...).

Edges have ``kind`` and ``label``:

- ``assumes``: person → role, from matrix cells and role trust policies;
- ``access``: role (or person, for grants not made through a role) → resource, one
  edge per capability, keyed by the capability, with ``status``, ``statements``,
  ``actions``, ``unknown_conditions`` and ``people`` (person id → status of the
  per-person cells that produced it);
- ``flow``: store or copy → copy, with ``flow`` one of backup, backup copy,
  replication, audit log, access log;
- ``encrypted by``: store or copy → key.

What the graph could not decide (for example backup selections that failed to be
read) is listed in ``graph.graph["unknown"]``.
"""

from __future__ import annotations

import re
from collections import deque
from collections.abc import Iterable, Mapping
from typing import Any

import networkx as nx

from datamap import copies
from datamap.inventory import Inventory, Resource
from datamap.matrix import AccessCell, AccessMatrix
from infra import tags
from infra.capabilities import CAPABILITIES, Capability
from infra.spec import PilotSpec

PERSON, ROLE, STORE, COPY, KEY = "person", "role", "store", "copy", "key"
ASSUMES, ACCESS, FLOW, ENCRYPTED_BY = "assumes", "access", "flow", "encrypted by"

_ASSUMES_RE = re.compile(r"assumes role (\S+)")


def node_id(arn: str) -> str:
    """Return the node id for an ARN: log group ARNs without the ``:*`` that CloudTrail appends."""
    return arn[:-2] if arn.startswith("arn:") and ":log-group:" in arn and arn.endswith(":*") else arn


def build_graph(inventory: Inventory, matrix: AccessMatrix, spec: PilotSpec | None = None) -> nx.MultiDiGraph:
    """Build the tenant graph from the inventory, the access matrix and, for full names, the spec.

    The inputs are only read.

    >>> from datamap.inventory import Inventory
    >>> g = build_graph(Inventory("acme", "1", "plan", ()), AccessMatrix("acme", ()))
    >>> g.number_of_nodes(), g.graph["customer"]
    (0, 'acme')
    """
    builder = _Builder(inventory, spec)
    builder.add_principals_and_stores()
    builder.add_copies()
    builder.add_keys()
    for cell in sorted(matrix.cells, key=_cell_order):
        builder.add_cell(cell)
    builder.finish_access()
    builder.add_trust_edges()
    builder.add_leftovers()
    return builder.graph


def stores(graph: nx.MultiDiGraph) -> list[str]:
    """Return the node ids of the stores, sorted by label."""
    return sorted((n for n, d in graph.nodes(data=True) if d["kind"] == STORE),
                  key=lambda n: (graph.nodes[n]["label"], n))


def copies_of(graph: nx.MultiDiGraph, store: str) -> list[str]:
    """Return the node ids of every copy reachable from ``store`` (ARN or store name) along flows."""
    start = resolve_store(graph, store)
    seen: set[str] = set()
    queue = deque([start])
    while queue:
        current = queue.popleft()
        for _, target, data in graph.out_edges(current, data=True):
            if data["kind"] == FLOW and target not in seen and target != start:
                seen.add(target)
                queue.append(target)
    return sorted(seen, key=lambda n: (graph.nodes[n]["label"], n))


def who_can(graph: nx.MultiDiGraph, store: str) -> dict[str, dict[Capability, str]]:
    """Return {person id: {capability: "allow" or "unknown"}} for ``store`` (node id, ARN or store name).

    People with no capability on the store are left out.
    """
    return who_can_reach(graph, resolve_store(graph, store))


def who_can_reach(graph: nx.MultiDiGraph, node: str) -> dict[str, dict[Capability, str]]:
    """Return {person id: {capability: status}} for any node: a store, a copy, a key or a person's user.

    A person reaches the node through each role they assume and through grants made
    to them directly. When several paths give the same capability, "allow" wins
    over "unknown".
    """
    result: dict[str, dict[Capability, str]] = {}
    for person, data in graph.nodes(data=True):
        if data["kind"] != PERSON:
            continue
        found: dict[Capability, str] = {}
        for edge in _access_edges(graph, person, node):
            _merge_status(found, edge["capability"], edge["status"])
        for _, role, edge_data in graph.out_edges(person, data=True):
            if edge_data["kind"] != ASSUMES:
                continue
            for edge in _access_edges(graph, role, node):
                status = edge["people"].get(data["person"]) or edge["role_status"]
                if status:
                    _merge_status(found, edge["capability"], status)
        if found:
            result[data["person"]] = {c: found[c] for c in sorted(found, key=CAPABILITIES.index)}
    return dict(sorted(result.items()))


def resolve_store(graph: nx.MultiDiGraph, store: str) -> str:
    """Return the node id of a store given its node id, ARN or spec store name.

    Raises KeyError when no store matches.
    """
    if store in graph and graph.nodes[store]["kind"] == STORE:
        return store
    for node, data in graph.nodes(data=True):
        if data["kind"] == STORE and (data.get("store") == store or data["arn"] == store):
            return node
    raise KeyError(f"no store named {store!r} in the graph of {graph.graph.get('customer', '?')}")


def _access_edges(graph: nx.MultiDiGraph, source: str, target: str) -> Iterable[Mapping[str, Any]]:
    if not graph.has_edge(source, target):
        return ()
    return [d for d in graph.get_edge_data(source, target).values() if d["kind"] == ACCESS]


def _merge_status(found: dict[Capability, str], capability: Capability, status: str) -> None:
    if found.get(capability) != "allow":
        found[capability] = status


def _cell_order(cell: AccessCell) -> tuple:
    return (cell.principal_arn, cell.person, cell.role, cell.resource_arn, cell.capability, cell.status)


class _EdgeCells:
    """The combined content of one edge's access cells: unions of their lists, and the best status per person."""

    def __init__(self) -> None:
        self.statements: set[Any] = set()
        self.actions: set[str] = set()
        self.unknown_conditions: set[str] = set()
        self.people: dict[str, str] = {}
        self.role_status = ""


class _Builder:
    """The state of one ``build_graph`` call. It writes only to its own new graph."""

    def __init__(self, inventory: Inventory, spec: PilotSpec | None):
        self.inventory = inventory
        self.spec = spec
        self.graph = nx.MultiDiGraph(customer=inventory.customer, account_id=inventory.account_id,
                                     region=inventory.region or (spec.region if spec else ""),
                                     source=inventory.source, unknown=[])
        self.by_id = {node_id(r.arn): r for r in inventory.resources}
        self.buckets = {r.get("Name", r.name): r for r in inventory.of_kind("s3_bucket")}
        self.roles_by_tag = {r.tags[tags.ROLE]: r for r in inventory.of_kind("iam_role") if tags.ROLE in r.tags}
        self.roles_by_name: dict[str, Resource] = {}
        for role in inventory.of_kind("iam_role"):
            for name in (role.get("RoleName"), role.name, role.arn):
                if name:
                    self.roles_by_name.setdefault(name, role)
        self.full_names = {p.id: p.name for p in spec.people} if spec else {}
        self.people: dict[str, str] = {}   # person id -> the first node added for that person
        # The combined cells of each access edge, by (source, target, capability), until finish_access.
        self.access: dict[tuple[str, str, str], _EdgeCells] = {}

    def add_node(self, node: str, kind: str, label: str, resource: Resource | None = None, **extra: Any) -> str:
        if node in self.graph:
            return node
        if kind == PERSON:
            self.people.setdefault(extra["person"], node)
        arn = resource.arn if resource else extra.pop("arn", node)
        self.graph.add_node(
            node, kind=kind, label=label, arn=arn, name=resource.name if resource else extra.pop("name", label),
            service=copies.service_name(resource.kind if resource else "", arn),
            resource_kind=resource.kind if resource else "", region=resource.region if resource else "",
            in_inventory=resource is not None, tags=dict(resource.tags) if resource else {}, **extra)
        return node

    def add_principals_and_stores(self) -> None:
        for resource in self.inventory.resources:
            node = node_id(resource.arn)
            if resource.kind == "iam_user" and tags.PERSON in resource.tags:
                person = resource.tags[tags.PERSON]
                self.add_node(node, PERSON, self.full_names.get(person, person), resource, person=person)
            elif resource.kind == "iam_role" and (tags.ROLE in resource.tags or self._tenant_tagged(resource)):
                self._ensure_role(resource)
            elif _is_store(resource):
                store = resource.tags[tags.STORE]
                self.add_node(node, STORE, store, resource, store=store,
                              classification=self._classification(resource, store))

    def _tenant_tagged(self, resource: Resource) -> bool:
        return resource.tags.get(tags.CUSTOMER) == self.inventory.customer

    def _classification(self, resource: Resource, store: str) -> str:
        if tags.CLASSIFICATION in resource.tags:
            return resource.tags[tags.CLASSIFICATION]
        spec_store = next((s for s in self.spec.stores if s.name == store), None) if self.spec else None
        return spec_store.classification if spec_store else ""

    def add_copies(self) -> None:
        """Follow flows out of every store, then out of the copies found, until nothing new appears."""
        queue = deque(stores(self.graph))
        for store in list(queue):
            for trail, coverage in copies.trails_recording(self.inventory, self.by_id[store]):
                queue.extend(self._add_trail(store, trail, coverage))
        done: set[str] = set()
        while queue:
            source = queue.popleft()
            resource = self.by_id.get(source)
            if source in done or resource is None:
                continue
            done.add(source)
            for flow in copies.flows_from(self.inventory, resource, self.buckets):
                self._add_flow(source, flow)
                queue.append(node_id(flow.target_arn))
        sources = [data["arn"] for _, data in self.graph.nodes(data=True) if data["kind"] in (STORE, COPY)]
        self.graph.graph["unknown"].extend(copies.unreadable_flows(self.inventory, sources))

    def _add_trail(self, store: str, trail: Resource, coverage: str) -> list[str]:
        """Add the trail and its log destinations as copies of ``store``, and return the destinations."""
        trail_node = self.add_node(node_id(trail.arn), COPY, trail.name, trail, contents="records of access")
        self.graph.add_edge(store, trail_node, key=f"audit log:{trail.name}", kind=FLOW, flow="audit log",
                            label="audit log", coverage=coverage)
        targets = []
        for target_arn in copies.trail_destinations(trail, self.buckets):
            target = self._add_copy(target_arn, contents="audit log files")
            if not self.graph.has_edge(trail_node, target, "audit log delivery"):
                self.graph.add_edge(trail_node, target, key="audit log delivery", kind=FLOW, flow="audit log",
                                    label="audit log", coverage="all events the trail keeps")
            targets.append(target)
        return targets

    def _add_flow(self, source: str, flow: copies.Flow) -> None:
        target = self._add_copy(flow.target_arn, contents=flow.contents)
        self.graph.add_edge(source, target, key=f"{flow.flow}:{flow.detail}", kind=FLOW, flow=flow.flow,
                            label=flow.flow, detail=flow.detail, **dict(flow.attributes))
        if flow.target_key and target not in self.by_id:
            self._add_key_edge(target, flow.target_key)

    def _add_copy(self, arn: str, contents: str) -> str:
        node = node_id(arn)
        resource = self.by_id.get(node)
        if node in self.graph:
            return node
        label = resource.name if resource else copies.name_from_arn(arn)
        return self.add_node(node, COPY, label, resource, contents=contents)

    def add_keys(self) -> None:
        for node, data in list(self.graph.nodes(data=True)):
            resource = self.by_id.get(node)
            if data["kind"] in (STORE, COPY) and resource is not None:
                reference = copies.key_reference(resource)
                if reference:
                    self._add_key_edge(node, reference)

    def _add_key_edge(self, source: str, reference: str) -> None:
        key = copies.find_key(self.inventory, reference)
        if key is not None:
            aliases = sorted(key.get("Aliases") or ())
            target = self.add_node(node_id(key.arn), KEY, aliases[0] if aliases else key.get("KeyId", key.name), key,
                                   description=key.get("Description", ""))
        else:
            target = self.add_node(reference, KEY, copies.key_label(reference),
                                   arn=reference if reference.startswith("arn:") else "")
        self.graph.add_edge(source, target, key=ENCRYPTED_BY, kind=ENCRYPTED_BY, label=ENCRYPTED_BY)

    def add_cell(self, cell: AccessCell) -> None:
        target = self._cell_target(cell)
        principal = self.by_id.get(node_id(cell.principal_arn))
        person = self._person_node(cell) if cell.person else None
        role = self._role_node(cell, principal)
        if person and role:
            self.graph.add_edge(person, role, key=ASSUMES, kind=ASSUMES, label=ASSUMES,
                                source="access matrix", via=cell.via)
        source = role or person or self._principal_node(cell, principal)
        self._merge_access(source, target, cell, per_person=bool(role and person))

    def _cell_target(self, cell: AccessCell) -> str:
        node = node_id(cell.resource_arn)
        if node in self.graph:
            return node
        resource = self.by_id.get(node)
        if resource is not None and resource.kind == "iam_role":
            return self._ensure_role(resource)
        kind = KEY if resource is not None and resource.kind == "kms_key" else (
            resource.kind if resource is not None else "other")
        return self.add_node(node, kind, cell.resource_name or node, resource)

    def _person_node(self, cell: AccessCell) -> str:
        if cell.person in self.people:
            return self.people[cell.person]
        return self.add_node(f"person:{cell.person}", PERSON, self.full_names.get(cell.person, cell.person),
                             arn="", name=cell.person, person=cell.person)

    def _role_node(self, cell: AccessCell, principal: Resource | None) -> str | None:
        if principal is not None and principal.kind == "iam_role":
            return self._ensure_role(principal)
        # The role that ``via`` names comes first: a role tag can repeat when one
        # inventory contains several tenants.
        match = _ASSUMES_RE.search(cell.via)
        if match and match.group(1) in self.roles_by_name:
            return self._ensure_role(self.roles_by_name[match.group(1)])
        if cell.role in self.roles_by_tag:
            return self._ensure_role(self.roles_by_tag[cell.role])
        if cell.role:
            return self.add_node(f"role:{cell.role}", ROLE, cell.role, arn="", name=cell.role, role=cell.role,
                                 service_role=False)
        return None

    def _ensure_role(self, resource: Resource) -> str:
        """Return the node of an IAM role, adding it if needed.

        A role without a pilot:role tag is a service role (for example the one AWS
        Backup assumes): it is labelled with its AWS name and marked ``service_role``.
        """
        node = node_id(resource.arn)
        role = resource.tags.get(tags.ROLE, resource.get("RoleName", resource.name))
        return self.add_node(node, ROLE, role, resource, role=role, service_role=tags.ROLE not in resource.tags)

    def _principal_node(self, cell: AccessCell, principal: Resource | None) -> str:
        """Return the node of a principal that is neither a known person nor reached through a role."""
        node = node_id(cell.principal_arn)
        kind = principal.kind if principal is not None else "principal"
        label = principal.name if principal is not None else copies.name_from_arn(cell.principal_arn)
        return self.add_node(node, kind, label, principal)

    def _merge_access(self, source: str, target: str, cell: AccessCell, per_person: bool) -> None:
        key = Capability(cell.capability).value
        merged = self.access.get((source, target, key))
        if merged is None:
            # The edge is added now, so edges keep the order of the cells; finish_access fills it in.
            self.graph.add_edge(source, target, key=key, kind=ACCESS)
            merged = self.access[source, target, key] = _EdgeCells()
        merged.statements.update(cell.statements)
        merged.actions.update(cell.actions)
        merged.unknown_conditions.update(cell.unknown_conditions)
        if per_person:
            if merged.people.get(cell.person) != "allow":
                merged.people[cell.person] = cell.status
        elif merged.role_status != "allow":
            merged.role_status = cell.status

    def finish_access(self) -> None:
        """Fill in each access edge from its combined cells: sorted unions and the best statuses."""
        for (source, target, key), merged in self.access.items():
            statuses = set(merged.people.values()) | {merged.role_status}
            self.graph.edges[source, target, key].update(
                label=key, capability=Capability(key),
                status="allow" if "allow" in statuses else "unknown", role_status=merged.role_status,
                statements=tuple(sorted(merged.statements, key=lambda s: (s.policy, s.sid, s.effect, s.text))),
                actions=tuple(sorted(merged.actions)), unknown_conditions=tuple(sorted(merged.unknown_conditions)),
                people=dict(sorted(merged.people.items())))
        self.access.clear()

    def add_trust_edges(self) -> None:
        """Add person → role edges for people a role's trust policy names by ARN."""
        people = {data["arn"]: node for node, data in self.graph.nodes(data=True) if data["kind"] == PERSON}
        for role, data in list(self.graph.nodes(data=True)):
            resource = self.by_id.get(role)
            if data["kind"] != ROLE or resource is None:
                continue
            for principal_arn, conditions in _trusted_principals(resource):
                person = people.get(principal_arn)
                if person and not self.graph.has_edge(person, role, ASSUMES):
                    self.graph.add_edge(person, role, key=ASSUMES, kind=ASSUMES, label=ASSUMES,
                                        source="trust policy", conditions=conditions)

    def add_leftovers(self) -> None:
        """Add tenant-tagged resources that nothing above placed, under their inventory kind."""
        for resource in self.inventory.resources:
            node = node_id(resource.arn)
            if node not in self.graph and self._tenant_tagged(resource):
                kind = KEY if resource.kind == "kms_key" else resource.kind
                self.add_node(node, kind, resource.name, resource)


def _is_store(resource: Resource) -> bool:
    """Return True for a bucket or log group tagged with a store name and no purpose other than store."""
    return (resource.kind in ("s3_bucket", "log_group") and tags.STORE in resource.tags
            and resource.tags.get(tags.PURPOSE, "store") == "store")


def _trusted_principals(role: Resource) -> list[tuple[str, tuple[str, ...]]]:
    """Return (principal ARN, condition keys) for each AWS principal a role's trust policy allows to assume it.

    Only principals named by ARN count: an account root (``arn:aws:iam::<account>:root``)
    delegates to the account's own policies, which the access matrix evaluates.
    """
    document = role.get("AssumeRolePolicyDocument") or {}
    statements = document.get("Statement") or ()
    if isinstance(statements, Mapping):
        statements = (statements,)
    found = []
    for statement in statements:
        actions = statement.get("Action") or ()
        actions = (actions,) if isinstance(actions, str) else actions
        if statement.get("Effect") != "Allow" or not any(a in ("sts:AssumeRole", "sts:*", "*") for a in actions):
            continue
        principals = (statement.get("Principal") or {})
        aws = principals.get("AWS", ()) if isinstance(principals, Mapping) else ()
        aws = (aws,) if isinstance(aws, str) else aws
        conditions = tuple(sorted(f"{key} ({operator})" for operator, body in (statement.get("Condition") or {}).items()
                                  for key in body))
        found.extend((arn, conditions) for arn in aws if not arn.endswith(":root"))
    return found
