"""datamap.views: focus on one node, collapse crowded clusters, and draw both with the real ``dot``."""

from __future__ import annotations

import dataclasses
import random
import shutil

import networkx as nx
import pytest
from acme_tenant import (ACCOUNT, KEY_ARN, PEOPLE, REGION, STORE_ARNS, TRAIL_ARN, VAULT_ARN, bucket_arn, cell,
                         log_group_arn, role_arn, user_arn)

from datamap.graph import ACCESS, ASSUMES, FLOW, build_graph
from datamap.inventory import Resource
from datamap.render import render, to_dot
from datamap.views import Collapse, collapse_graph, diagram_view, focus_graph, resolve_node
from infra import tags
from infra.errors import InputError
from pilotctl import workflow

needs_dot = pytest.mark.skipif(shutil.which("dot") is None, reason="Graphviz dot is not installed")

RECORDER_NAMES = sorted(name for name, role in PEOPLE.values() if role == "recorder")
ALL_NAMES = {name for name, _ in PEOPLE.values()}
RECORDS_COPIES = {"pilot-acme", f"acme-audit-{ACCOUNT}", "/pilot/acme/audit-trail", f"acme-access-logs-{ACCOUNT}",
                  f"acme-records-replica-{ACCOUNT}"}
KEY_LABEL = KEY_ARN.rsplit("/", 1)[1]


def graph_of(tenant):
    return build_graph(tenant.inventory, tenant.matrix, tenant.spec)


def labels(graph, kind=None):
    return {d["label"] for _, d in graph.nodes(data=True) if kind is None or d["kind"] == kind}


def access_edges(graph):
    return {(graph.nodes[u]["label"], graph.nodes[v]["label"], k) for u, v, k, d in graph.edges(keys=True, data=True)
            if d["kind"] == ACCESS}


def shuffled(tenant, seed):
    rng = random.Random(seed)
    resources, cells = list(tenant.inventory.resources), list(tenant.matrix.cells)
    rng.shuffle(resources)
    rng.shuffle(cells)
    inventory = dataclasses.replace(tenant.inventory, resources=tuple(resources))
    return dataclasses.replace(tenant, inventory=inventory).with_cells(cells)


def with_recorders(tenant, count):
    """Return the tenant with ``count`` more recorders, each with a user and the recorders' cells on records."""
    resources, cells = list(tenant.inventory.resources), list(tenant.matrix.cells)
    for index in range(count):
        person = f"extra{index:02d}"
        resources.append(Resource("iam_user", user_arn(person), f"acme-{person}", "", {
            tags.CUSTOMER: "acme", tags.PERSON: person, tags.ROLE: "recorder"}, {"UserName": f"acme-{person}"}))
        for capability in ("view", "change"):
            cells.append(dataclasses.replace(cell("ana.silva", "records", capability, "Records"),
                                             principal_arn=user_arn(person), person=person))
    inventory = dataclasses.replace(tenant.inventory, resources=tuple(resources))
    return dataclasses.replace(tenant, inventory=inventory).with_cells(cells)


# --- collapse ---


def test_collapse_people_at_threshold(tenant):
    view = collapse_graph(graph_of(tenant), Collapse(people=8))
    assert labels(view, "person") == ALL_NAMES
    assert view.graph["collapsed"] == []


def test_collapse_people_by_role(tenant):
    view = collapse_graph(graph_of(tenant), Collapse(people=7))
    assert labels(view, "person") == {"recorder: 6 people", "Grace Lee", "Hugo Berg"}
    group = "group:person:" + role_arn("recorder")
    assert view.nodes[group]["count"] == 6
    assert list(view.nodes[group]["members"]) == RECORDER_NAMES
    assert [(k, d["count"]) for _, _, k, d in view.out_edges(group, keys=True, data=True)] == [(ASSUMES, 6)]
    assert view.graph["collapsed"] == ["8 people drawn as 3 nodes, grouped by the roles they assume"]


def test_collapse_people_default_limit(tenant):
    view = collapse_graph(graph_of(with_recorders(tenant, 20)))
    group = view.nodes["group:person:" + role_arn("recorder")]
    assert group["label"] == "recorder: 26 people"
    assert group["member_lines"][-1].endswith("and 20 more")
    assert group["tooltip"].splitlines() == sorted(group["members"])
    assert len(group["members"]) == 26


def test_collapse_stores_by_kind(tenant):
    view = collapse_graph(graph_of(tenant), Collapse(stores=2))
    assert labels(view, "store") == {"S3 bucket: 2 stores", "app-logs"}
    group = "group:store:S3 bucket|confidential"
    assert view.nodes[group]["classification"] == "confidential"
    assert view.nodes[group]["members"] == ("records", "reports")
    recorder = {k: d for _, t, k, d in view.out_edges(role_arn("recorder"), keys=True, data=True) if t == group}
    assert sorted(recorder) == ["change", "view"]
    assert recorder["view"]["targets"] == 1
    admin = view.edges[role_arn("it-admin"), group, "admin"]
    assert (admin["targets"], admin["status"]) == (2, "allow")
    reporting = {k for _, t, k in view.out_edges(role_arn("reporting"), keys=True) if t == group}
    assert reporting == {"view", "export"}


def test_collapse_stores_unknown_stays_unknown(tenant):
    view = collapse_graph(graph_of(tenant), Collapse(stores=1))
    group = "group:store:CloudWatch Logs log group|internal"
    assert group not in view  # a group of one keeps its node
    assert view.edges[role_arn("reporting"), STORE_ARNS["app-logs"], "view"]["status"] == "unknown"


def test_collapse_copies_by_contents(tenant):
    records = tenant.inventory.by_arn(bucket_arn("records"))
    rules = [*records.get("ReplicationConfiguration")["Rules"],
             {"ID": "second", "Status": "Enabled", "Priority": 2, "Filter": {},
              "Destination": {"Bucket": bucket_arn("records-replica-2")}}]
    changed = tenant.with_resource(bucket_arn("records"), {"ReplicationConfiguration": {"Role": "r", "Rules": rules}})
    view = collapse_graph(graph_of(changed), Collapse(copies=3))
    group = "group:copy:S3 bucket|replicated objects"
    assert view.nodes[group]["label"] == "S3 bucket: 2 copies"
    flow = view.edges[bucket_arn("records"), group, "replication"]
    assert (flow["kind"], flow["count"], flow["targets"]) == (FLOW, 2, 2)
    assert view.graph["collapsed"] == ["7 copies drawn as 6 nodes, grouped by service and contents"]


def test_collapse_roles_across_tenants(tenant):
    graph = graph_of(tenant)
    other = nx.relabel_nodes(graph, {n: f"other/{n}" for n in graph})
    view = collapse_graph(nx.compose(graph, other), Collapse(roles=4))
    assert labels(view, "role") == {"recorder: 2 roles", "reporting: 2 roles", "it-admin: 2 roles",
                                    "AWS service roles: 2 roles"}
    assert labels(view, "person") == {"recorder: 12 people", "reporting: 2 people", "it-admin: 2 people"}
    assert view.edges["group:person:group:role:recorder", "group:role:recorder", ASSUMES]["count"] == 12


def test_graph_role_named_by_via(tenant):
    second = Resource("iam_role", role_arn("recorder-2"), "acme-recorder-2", "", {
        tags.CUSTOMER: "acme", tags.ROLE: "recorder"}, {"RoleName": "acme-recorder-2"})
    inventory = dataclasses.replace(tenant.inventory, resources=(*tenant.inventory.resources, second))
    graph = build_graph(inventory, tenant.matrix, tenant.spec)
    assert graph.has_edge(role_arn("recorder"), bucket_arn("records"), "change")
    assert not graph.has_edge(role_arn("recorder-2"), bucket_arn("records"), "change")


def test_collapse_leaves_input_alone(tenant):
    graph = graph_of(tenant)
    before = (sorted(graph.nodes), sorted(graph.edges(keys=True)))
    collapse_graph(graph, Collapse(people=1, roles=1, stores=1, copies=1, keys=0, other=0))
    assert (sorted(graph.nodes), sorted(graph.edges(keys=True))) == before


def test_dot_collapsed_labels(tenant):
    text = to_dot(collapse_graph(graph_of(tenant), Collapse(people=7, stores=2)))
    assert "<b>recorder: 6 people</b>" in text
    assert "Ana Silva, Ben Okafor, Chloe Martin, Dev Patel" in text
    assert "Ana Silva\nBen Okafor" in text  # tooltip: one name a line
    assert 'label="view (1 of 2), change (1 of 2)"' in text
    assert "8 people drawn as 3 nodes, grouped by the roles they assume" in text


# --- focus ---


def test_focus_store(tenant):
    view = focus_graph(graph_of(tenant), "records")
    assert labels(view, "person") == ALL_NAMES
    assert labels(view, "role") == {"recorder", "reporting", "it-admin"}
    assert labels(view, "store") == {"records"}
    assert labels(view, "copy") == RECORDS_COPIES
    assert labels(view, "key") == {KEY_LABEL}
    assert access_edges(view) == {("recorder", "records", "view"), ("recorder", "records", "change"),
                                  ("reporting", "records", "view"), ("it-admin", "records", "admin"),
                                  ("it-admin", "records", "delete")}
    assert view.graph["focus"] == bucket_arn("records")


def test_focus_store_names(tenant):
    graph = graph_of(tenant)
    expected = set(focus_graph(graph, "records"))
    for name in (bucket_arn("records"), f"acme-records-{ACCOUNT}", "RECORDS"):
        assert set(focus_graph(graph, name)) == expected, name


def test_focus_log_group_arn_with_suffix(tenant):
    view = focus_graph(graph_of(tenant), STORE_ARNS["app-logs"] + ":*")
    assert labels(view, "store") == {"app-logs"}
    assert labels(view, "copy") == set()


def test_focus_copy(tenant):
    view = focus_graph(graph_of(tenant), f"acme-audit-{ACCOUNT}")
    assert labels(view, "store") == {"records", "reports"}
    assert labels(view, "copy") == {"pilot-acme", f"acme-audit-{ACCOUNT}"}
    assert {(view.nodes[u]["label"], view.nodes[v]["label"]) for u, v, d in view.edges(data=True)
            if d["kind"] == FLOW} == {("records", "pilot-acme"), ("reports", "pilot-acme"),
                                      ("pilot-acme", f"acme-audit-{ACCOUNT}")}
    assert TRAIL_ARN in view
    assert log_group_arn("audit-trail") not in view


def test_focus_person(tenant):
    graph = graph_of(tenant)
    view = focus_graph(graph, "Grace Lee")
    assert labels(view, "person") == {"Grace Lee"}
    assert labels(view, "role") == {"reporting"}
    assert labels(view, "store") == {"records", "reports", "app-logs"}
    assert labels(view, "copy") == RECORDS_COPIES
    assert access_edges(view) == {("reporting", "records", "view"), ("reporting", "reports", "export"),
                                  ("reporting", "app-logs", "view")}
    assert set(focus_graph(graph, "grace.lee")) == set(view)
    assert set(focus_graph(graph, user_arn("grace.lee"))) == set(view)


def test_focus_person_own_cells_only(tenant):
    extra = cell("ana.silva", "reports", "view", "AnaOnly")
    graph = graph_of(tenant.with_cells([*tenant.matrix.cells, extra]))
    assert "reports" in labels(focus_graph(graph, "ana.silva"), "store")
    assert "reports" not in labels(focus_graph(graph, "ben.okafor"), "store")
    people = labels(focus_graph(graph, "reports"), "person")
    assert people == {"Ana Silva", "Grace Lee", "Hugo Berg"}


def test_focus_role(tenant):
    view = focus_graph(graph_of(tenant), "recorder")
    assert labels(view, "person") == set(RECORDER_NAMES)
    assert labels(view, "store") == {"records", "app-logs"}
    assert labels(view, "copy") == RECORDS_COPIES


def test_focus_admin_reaches_users(tenant):
    view = focus_graph(graph_of(tenant), "hugo.berg")
    assert labels(view, "person") == ALL_NAMES
    assert ("it-admin", "Ana Silva", "admin") in access_edges(view)
    assert labels(view, "store") == {"records", "reports", "app-logs"}


def test_focus_unknown_suggests(tenant):
    with pytest.raises(InputError) as caught:
        focus_graph(graph_of(tenant), "recrods")
    message = str(caught.value)
    assert message.startswith("focus 'recrods': no store, copy, person or role in the graph of acme")
    assert "close matches: records" in message
    assert caught.value.exit_code == 2


def test_focus_unknown_lists_stores(tenant):
    with pytest.raises(InputError, match="stores are: app-logs, records, reports"):
        focus_graph(graph_of(tenant), "zzzz-qqqq")


def test_focus_ambiguous(tenant):
    with pytest.raises(InputError) as caught:
        resolve_node(graph_of(tenant), "pilot-acme")
    message = str(caught.value)
    assert "matches 2 nodes" in message
    assert VAULT_ARN in message
    assert TRAIL_ARN in message


def test_focus_rejects_keys(tenant):
    with pytest.raises(InputError) as caught:
        focus_graph(graph_of(tenant), KEY_ARN)
    assert str(caught.value) == (f"focus {KEY_ARN!r} names a key ({KEY_ARN}), which cannot be focused; "
                                 f"give a store, copy, person or role")


def test_focus_then_collapse(tenant):
    view = diagram_view(graph_of(tenant), focus="records", collapse=Collapse(people=7))
    assert labels(view, "person") == {"recorder: 6 people", "Grace Lee", "Hugo Berg"}
    assert view.graph["focus"] == bucket_arn("records")


# --- determinism and drawing ---

VIEWS = {"collapsed": {"collapse": Collapse(people=3, stores=2, copies=2, keys=0, other=0)},
         "focused": {"focus": "records", "collapse": Collapse(people=3)},
         "person": {"focus": "Hugo Berg", "collapse": Collapse(people=3)}}


@pytest.mark.parametrize("view", sorted(VIEWS))
def test_dot_same_for_shuffled_input(tenant, view):
    expected = to_dot(diagram_view(graph_of(tenant), **VIEWS[view]))
    for seed in range(5):
        assert to_dot(diagram_view(graph_of(shuffled(tenant, seed)), **VIEWS[view])) == expected, seed


@needs_dot
@pytest.mark.parametrize("view", sorted(VIEWS))
def test_render_bytes_same_for_shuffled_input(tenant, tmp_path, view):
    first = render(graph_of(tenant), tmp_path / "first", "view", **VIEWS[view])
    second = render(graph_of(shuffled(tenant, 3)), tmp_path / "second", "view", **VIEWS[view])
    for fmt in ("dot", "svg", "png"):
        assert first[fmt].read_bytes() == second[fmt].read_bytes(), fmt


@needs_dot
def test_render_focus(tenant, tmp_path):
    paths = render(graph_of(tenant), tmp_path, "focus", focus="records")
    assert paths["png"].read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    svg = paths["svg"].read_text(encoding="utf-8")
    assert "store records: who can reach it, its copies and their keys" in svg
    assert "reports" not in svg
    assert "app&#45;logs" not in svg


@needs_dot
def test_render_collapsed_large(tenant, tmp_path):
    paths = render(graph_of(with_recorders(tenant, 20)), tmp_path, "large")
    svg = paths["svg"].read_text(encoding="utf-8")
    assert "recorder: 26 people" in svg
    assert "extra19" in svg  # in the group's tooltip
    assert "28 people drawn as 3 nodes" in svg


def test_render_unknown_focus_writes_nothing(tenant, tmp_path):
    with pytest.raises(InputError, match="close matches: records"):
        render(graph_of(tenant), tmp_path / "out", "focus", focus="recrods")
    assert not (tmp_path / "out").exists()


@needs_dot
def test_map_tenant_focus(tenant, tmp_path):
    outputs = workflow.map_tenant(tenant.inventory, tenant.spec, tenant.matrix, tmp_path, focus="Grace Lee")
    assert outputs.diagram_svg == tmp_path / "diagram-focus-Grace-Lee.svg"
    assert outputs.diagram_png.exists()
    assert "Pilot tenant acme, person Grace Lee" in outputs.diagram_svg.read_text(encoding="utf-8")
    assert not (tmp_path / "diagram.svg").exists()


def test_map_tenant_unknown_focus(tenant, tmp_path):
    with pytest.raises(InputError, match="close matches: Grace Lee"):
        workflow.map_tenant(tenant.inventory, tenant.spec, tenant.matrix, tmp_path, focus="Grace Le")
    assert list(tmp_path.iterdir()) == []


def test_region_in_subtitle(tenant):
    assert f"AWS account {ACCOUNT}, {REGION}" in to_dot(focus_graph(graph_of(tenant), "records"))
