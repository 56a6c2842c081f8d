"""Views of the tenant graph for the diagram: the paths through one node, and crowded clusters collapsed.

Both functions are pure: they read a graph from ``datamap.graph.build_graph`` and
return a new ``networkx.MultiDiGraph`` with the same node and edge attributes, so
``datamap.render.to_dot`` draws either one.

``focus_graph(graph, name)`` keeps the paths through one store, copy, person or role.
``collapse_graph(graph, Collapse())`` draws one node per group where a cluster has
more nodes than its threshold:

- people: one node per set of roles they assume ("recorder: 11 people");
- roles: one node per role name, so the recorder roles of many tenants are one node;
- stores: one node per service and classification ("S3 bucket: 40 stores");
- copies: one node per service and contents; keys and other resources per service.

A group of one keeps the original node. A group node has ``count``, ``members``
(member labels, sorted), ``member_ids``, ``member_lines`` (the names its label shows)
and ``tooltip``. Edges between groups merge: one access edge per capability with
``status`` "allow" when any merged edge allows, plus ``sources`` and ``targets``
(how many original nodes each end stands for); one flow edge per flow name with
``count``.
"""

from __future__ import annotations

import difflib
import re
from collections import defaultdict, deque
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import networkx as nx

from datamap.graph import ACCESS, ASSUMES, COPY, ENCRYPTED_BY, FLOW, KEY, PERSON, ROLE, STORE, node_id
from infra.errors import InputError

FOCUS_KINDS = (STORE, COPY, PERSON, ROLE)
_NAME_FIELDS = ("arn", "name", "label", "store", "person", "role")
# Node kinds with a threshold, in the order they collapse: people group by role, so roles go first.
_COLLAPSE_ORDER = (ROLE, STORE, COPY, KEY, "other", PERSON)


@dataclass(frozen=True)
class Collapse:
    """Thresholds of ``collapse_graph``: a cluster with more nodes than its threshold is drawn as groups."""

    people: int = 12
    roles: int = 12
    stores: int = 15
    copies: int = 15
    keys: int = 15
    other: int = 15
    names_in_label: int = 6     # member names written in a group node's label
    names_in_tooltip: int = 40  # member names in its tooltip; both end with "and N more"

    def threshold(self, kind: str) -> int:
        return {PERSON: self.people, ROLE: self.roles, STORE: self.stores, COPY: self.copies,
                KEY: self.keys}.get(kind, self.other)


def diagram_view(graph: nx.MultiDiGraph, focus: str | None = None,
                 collapse: Collapse | None = Collapse()) -> nx.MultiDiGraph:
    """Return the graph the diagram draws: the paths through ``focus``, then collapsed by ``collapse``.

    ``collapse=None`` draws every node. Raises InputError for an unknown focus name.
    """
    view = focus_graph(graph, focus) if focus is not None else graph
    return collapse_graph(view, collapse) if collapse is not None else view


# --- focus ---------------------------------------------------------------------------------------------------


def resolve_node(graph: nx.MultiDiGraph, name: str) -> str:
    """Return the node id of the store, copy, person or role that ``name`` names.

    ``name`` is a node id, an ARN, an AWS name (bucket, log group, vault), a spec
    store or role name, a person id or a person's full name. An exact match wins,
    then a case-insensitive one. Raises InputError when nothing matches (with close
    matches) or when several nodes match (with their ARNs).
    """
    if name in graph and graph.nodes[name]["kind"] in FOCUS_KINDS:
        return name
    candidates = {n: _names(n, d) for n, d in graph.nodes(data=True) if d["kind"] in FOCUS_KINDS}
    normalized = node_id(name)
    matches = sorted(n for n, names in candidates.items() if normalized in names or name in names)
    if not matches:
        folded = name.casefold()
        matches = sorted(n for n, names in candidates.items() if folded in {x.casefold() for x in names})
    customer = graph.graph.get("customer", "?")
    if len(matches) == 1:
        return matches[0]
    if matches:
        listed = ", ".join(f"{graph.nodes[n]['kind']} {graph.nodes[n]['arn'] or n}" for n in matches[:10])
        more = f" and {len(matches) - 10} more" if len(matches) > 10 else ""
        raise InputError(f"focus {name!r} matches {len(matches)} nodes in the graph of {customer}: {listed}{more}; "
                         f"give the ARN of one")
    other = sorted(n for n, d in graph.nodes(data=True)
                   if d["kind"] not in FOCUS_KINDS and normalized in _names(n, d))
    if other:
        data = graph.nodes[other[0]]
        raise InputError(f"focus {name!r} names a {data['kind'].replace('_', ' ')} ({data['arn'] or other[0]}), "
                         f"which cannot be focused; give a store, copy, person or role")
    raise InputError(f"focus {name!r}: no store, copy, person or role in the graph of {customer} has that name, "
                     f"ARN or id; {_suggestions(graph, name, candidates)}")


def focus_basename(graph: nx.MultiDiGraph, name: str) -> str:
    """Return the diagram file name for a focus, without suffix: "diagram-focus-" and the node's label.

    Raises InputError like ``resolve_node``.
    """
    label = graph.nodes[resolve_node(graph, name)]["label"]
    return "diagram-focus-" + (re.sub(r"[^A-Za-z0-9._-]+", "-", label).strip("-.")[:80] or "node")


def _names(node: str, data: Mapping[str, Any]) -> set[str]:
    return {node} | {str(data[f]) for f in _NAME_FIELDS if data.get(f)}


def _suggestions(graph: nx.MultiDiGraph, name: str, candidates: Mapping[str, set[str]]) -> str:
    """Return "close matches: ..." from difflib, or else the names of the stores to choose from."""
    names = sorted({x for found in candidates.values() for x in found})
    by_fold: dict[str, str] = {}
    for candidate in names:
        by_fold.setdefault(candidate.casefold(), candidate)
    close = difflib.get_close_matches(name.casefold(), list(by_fold), n=5, cutoff=0.6)
    if close:
        return "close matches: " + ", ".join(by_fold[c] for c in close)
    stores = sorted({graph.nodes[n].get("store") or graph.nodes[n]["label"]
                     for n in candidates if graph.nodes[n]["kind"] == STORE})
    listed = ", ".join(stores[:10]) + (f" and {len(stores) - 10} more" if len(stores) > 10 else "")
    return f"stores are: {listed}" if stores else "the graph has no stores"


def focus_graph(graph: nx.MultiDiGraph, name: str) -> nx.MultiDiGraph:
    """Return the paths through one node as a new graph; ``name`` is resolved by ``resolve_node``.

    - A store or copy keeps the stores it is copied from, its copies (following
      flows to the end), their keys, and every principal with access to any of them,
      with the people who reach that access through a role.
    - A person keeps their roles, everything the person reaches through them or
      directly (with the capabilities that apply to this person), the copies of
      the stores and copies reached, and their keys.
    - A role keeps the people who assume it, everything it reaches, and those
      stores' copies and keys.

    ``graph.graph["focus"]`` is the node id.
    """
    target = resolve_node(graph, name)
    kind = graph.nodes[target]["kind"]
    if kind in (STORE, COPY):
        edges = _data_paths(graph, target)
    elif kind == PERSON:
        edges = _principal_paths(graph, target, _assumed_roles(graph, target), graph.nodes[target]["person"])
    else:
        edges = _principal_paths(graph, None, {target}, None)
    view = nx.MultiDiGraph(**{**graph.graph, "unknown": list(graph.graph.get("unknown", ())), "focus": target})
    view.add_node(target, **graph.nodes[target])
    for source, destination, key in sorted(edges):
        for node in (source, destination):
            if node not in view:
                view.add_node(node, **graph.nodes[node])
        view.add_edge(source, destination, key=key, **graph.edges[source, destination, key])
    return view


Edge = tuple[str, str, Any]


def _flow_closure(graph: nx.MultiDiGraph, start: Iterable[str], forward: bool) -> tuple[set[str], set[Edge]]:
    """Return the nodes reached from ``start`` along flows (downstream or upstream) and the flow edges taken."""
    seen, edges = set(start), set()
    queue = deque(seen)
    while queue:
        current = queue.popleft()
        found = graph.out_edges(current, keys=True, data=True) if forward else \
            graph.in_edges(current, keys=True, data=True)
        for source, target, key, data in found:
            if data["kind"] != FLOW:
                continue
            edges.add((source, target, key))
            other = target if forward else source
            if other not in seen:
                seen.add(other)
                queue.append(other)
    return seen, edges


def _key_edges(graph: nx.MultiDiGraph, nodes: Iterable[str]) -> set[Edge]:
    return {(s, t, k) for node in nodes for s, t, k, d in graph.out_edges(node, keys=True, data=True)
            if d["kind"] == ENCRYPTED_BY}


def _data_paths(graph: nx.MultiDiGraph, target: str) -> set[Edge]:
    downstream, edges = _flow_closure(graph, [target], forward=True)
    upstream, upstream_edges = _flow_closure(graph, [target], forward=False)
    edges |= upstream_edges
    data_nodes = downstream | upstream
    edges |= _key_edges(graph, data_nodes)
    access = {(s, t, k) for node in data_nodes for s, t, k, d in graph.in_edges(node, keys=True, data=True)
              if d["kind"] == ACCESS}
    edges |= access
    # People reach this access through a role only when the role's edge applies to them.
    by_role: dict[str, list[Mapping[str, Any]]] = defaultdict(list)
    for source, destination, key in access:
        if graph.nodes[source]["kind"] == ROLE:
            by_role[source].append(graph.edges[source, destination, key])
    for role, grants in by_role.items():
        for person, _, key, data in graph.in_edges(role, keys=True, data=True):
            person_id = graph.nodes[person].get("person")
            if data["kind"] == ASSUMES and any(_applies(g, person_id) for g in grants):
                edges.add((person, role, key))
    return edges


def _assumed_roles(graph: nx.MultiDiGraph, person: str) -> set[str]:
    return {role for _, role, data in graph.out_edges(person, data=True) if data["kind"] == ASSUMES}


def _applies(grant: Mapping[str, Any], person: str | None) -> bool:
    """Return True when a role's access edge applies to ``person`` (to anyone when ``person`` is None)."""
    if person is None:
        return True
    return bool(grant["people"].get(person) or grant["role_status"])


def _principal_paths(graph: nx.MultiDiGraph, person: str | None, roles: set[str], person_id: str | None,
                     ) -> set[Edge]:
    edges: set[Edge] = set()
    principals = set(roles) | ({person} if person else set())
    if person:
        edges |= {(person, role, ASSUMES) for role in roles}
    else:
        edges |= {(s, t, k) for role in roles for s, t, k, d in graph.in_edges(role, keys=True, data=True)
                  if d["kind"] == ASSUMES}
    reached = set()
    for principal in principals:
        for source, target, key, data in graph.out_edges(principal, keys=True, data=True):
            if data["kind"] == ACCESS and (source == person or _applies(data, person_id)):
                edges.add((source, target, key))
                reached.add(target)
    data_nodes = {n for n in reached if graph.nodes[n]["kind"] in (STORE, COPY)}
    copies, flow_edges = _flow_closure(graph, data_nodes, forward=True)
    return edges | flow_edges | _key_edges(graph, copies)


# --- collapse ------------------------------------------------------------------------------------------------


def collapse_graph(graph: nx.MultiDiGraph, collapse: Collapse = Collapse()) -> nx.MultiDiGraph:
    """Return a new graph in which each cluster above its threshold is drawn as groups.

    ``graph.graph["collapsed"]`` lists one sentence per collapsed cluster, such as
    "900 people drawn as 4 nodes, grouped by the roles they assume".
    """
    group_of: dict[str, str] = {}
    groups: dict[str, dict[str, Any]] = {}
    notes = []
    for kind in _COLLAPSE_ORDER:
        members = sorted(n for n, d in graph.nodes(data=True) if _cluster_kind(d) == kind)
        if len(members) <= collapse.threshold(kind):
            continue
        keyed: dict[tuple[str, ...], list[str]] = defaultdict(list)
        for node in members:
            keyed[_group_key(graph, node, group_of, groups)].append(node)
        for key, nodes in keyed.items():
            if len(nodes) > 1:
                group = f"group:{kind}:{'|'.join(key)}"
                groups[group] = _group_node(graph, kind, key, nodes, groups, collapse)
                group_of.update((node, group) for node in nodes)
        drawn = f"{len(keyed)} node" if len(keyed) == 1 else f"{len(keyed)} nodes"
        notes.append((kind, f"{len(members)} {_PLURALS[kind]} drawn as {drawn}, grouped {_GROUPED_BY[kind]}"))

    view = nx.MultiDiGraph(**{**graph.graph, "unknown": list(graph.graph.get("unknown", ())),
                              "collapsed": [*graph.graph.get("collapsed", ()), *_in_drawing_order(notes)]})
    for node, data in graph.nodes(data=True):
        if node in group_of:
            view.add_node(group_of[node], **groups[group_of[node]])
        else:
            view.add_node(node, **data)
    merged: dict[Edge, dict[str, Any]] = {}
    for source, target, key, data in sorted(graph.edges(keys=True, data=True), key=lambda e: e[:3]):
        new_source, new_target = group_of.get(source, source), group_of.get(target, target)
        if (new_source, new_target) == (source, target):
            view.add_edge(source, target, key=key, **data)
            continue
        new_key = data.get("flow", key) if data["kind"] == FLOW else key
        _merge_edge(merged.setdefault((new_source, new_target, new_key), {}), source, target, data)
    for (source, target, key), data in merged.items():
        data["sources"], data["targets"] = len(data["sources"]), len(data["targets"])
        view.add_edge(source, target, key=key, **data)
    return view


def _in_drawing_order(notes: list[tuple[str, str]]) -> list[str]:
    order = (PERSON, ROLE, STORE, COPY, KEY, "other")
    return [text for _, text in sorted(notes, key=lambda note: order.index(note[0]))]


_PLURALS = {PERSON: "people", ROLE: "roles", STORE: "stores", COPY: "copies", KEY: "keys", "other": "resources"}
_GROUPED_BY = {PERSON: "by the roles they assume", ROLE: "by role name", STORE: "by service and classification",
               COPY: "by service and contents", KEY: "by service", "other": "by kind"}


def _cluster_kind(data: Mapping[str, Any]) -> str:
    return data["kind"] if data["kind"] in (PERSON, ROLE, STORE, COPY, KEY) else "other"


def _group_key(graph: nx.MultiDiGraph, node: str, group_of: Mapping[str, str],
               groups: Mapping[str, Mapping[str, Any]]) -> tuple[str, ...]:
    data = graph.nodes[node]
    kind = _cluster_kind(data)
    if kind == PERSON:
        # Role node ids, not names: two tenants' "recorder" roles are different roles
        # unless the roles were collapsed by name first.
        return tuple(sorted({group_of.get(r, r) for r in _assumed_roles(graph, node)}))
    if kind == ROLE:
        return ("AWS service roles",) if data.get("service_role") else (data.get("role") or data["label"],)
    if kind == STORE:
        return (data["service"], data.get("classification") or "unclassified")
    if kind == COPY:
        return (data["service"], data.get("contents") or "")
    return (data["kind"], data["service"])


def _role_name(graph: nx.MultiDiGraph, groups: Mapping[str, Mapping[str, Any]], node: str) -> str:
    data = groups[node] if node in groups else graph.nodes[node]
    return data.get("role") or data["label"]


def _group_node(graph: nx.MultiDiGraph, kind: str, key: tuple[str, ...], nodes: list[str],
                groups: Mapping[str, Mapping[str, Any]], collapse: Collapse) -> dict[str, Any]:
    members = _member_names(graph, nodes)
    count = len(nodes)
    first = graph.nodes[nodes[0]]
    attributes: dict[str, Any] = {
        "kind": first["kind"], "arn": "", "name": "", "resource_kind": "", "region": "", "tags": {},
        "in_inventory": all(graph.nodes[n].get("in_inventory", True) for n in nodes),
        "count": count, "members": tuple(members), "member_ids": tuple(nodes),
        "member_lines": _wrap(_listed(members, collapse.names_in_label)),
        "tooltip": "\n".join(_listed(members, collapse.names_in_tooltip)),
    }
    if kind == PERSON:
        roles = " + ".join(sorted(_role_name(graph, groups, r) for r in key)) or "no role"
        attributes.update(label=f"{roles}: {count} people", service="", person="", role=roles)
    elif kind == ROLE:
        attributes.update(label=f"{key[0]}: {count} roles", service="", role=key[0],
                          service_role=bool(first.get("service_role")))
    elif kind == STORE:
        attributes.update(label=f"{key[0]}: {count} stores", service="", classification=key[1])
    elif kind == COPY:
        attributes.update(label=f"{key[0]}: {count} copies", service="", contents=key[1])
    else:
        attributes.update(label=f"{key[-1]}: {count} {_PLURALS[kind]}", service="")
    return attributes


def _member_names(graph: nx.MultiDiGraph, nodes: list[str]) -> list[str]:
    """Return the members' labels, sorted, or their AWS names when labels repeat (the same store in many tenants)."""
    labels = [graph.nodes[n]["label"] for n in nodes]
    if len(set(labels)) < len(labels):
        labels = [graph.nodes[n].get("name") or graph.nodes[n]["arn"] or n for n in nodes]
    return sorted(labels)


def _listed(names: list[str], limit: int) -> list[str]:
    shown = names[:limit]
    return shown + [f"and {len(names) - limit} more"] if len(names) > limit else shown


def _wrap(names: list[str], width: int = 48) -> tuple[str, ...]:
    """Return the names joined by commas into lines of about ``width`` characters."""
    lines: list[str] = []
    for name in names:
        if lines and len(lines[-1]) + len(name) + 2 <= width:
            lines[-1] = f"{lines[-1]}, {name}"
        else:
            lines.append(name)
    return tuple(lines)


def _merge_edge(merged: dict[str, Any], source: str, target: str, data: Mapping[str, Any]) -> None:
    """Fold one original edge into the merged edge between two groups (or a group and a node)."""
    if not merged:
        merged.update({k: v for k, v in data.items() if k in ("kind", "label", "capability", "flow")})
        merged.update(sources=set(), targets=set(), count=0)
        if data["kind"] == ACCESS:
            merged.update(status="unknown", role_status="", people={}, statements=(), actions=(),
                          unknown_conditions=())
    merged["sources"].add(source)
    merged["targets"].add(target)
    merged["count"] += 1
    if data["kind"] != ACCESS:
        return
    if data["status"] == "allow":
        merged["status"] = "allow"
    merged["role_status"] = merged["status"]
    merged["statements"] = tuple(sorted(set(merged["statements"]) | set(data["statements"]),
                                        key=lambda s: (s.policy, s.sid, s.effect, s.text)))
    merged["actions"] = tuple(sorted(set(merged["actions"]) | set(data["actions"])))
    merged["unknown_conditions"] = tuple(sorted(set(merged["unknown_conditions"]) | set(data["unknown_conditions"])))
