"""datamap.graph and datamap.copies: nodes, edges and queries of the tenant graph."""

from __future__ import annotations

import copy
import dataclasses

import pytest
from acme_tenant import (ACCOUNT, KEY_ARN, KEY_ID, PEOPLE, PLAN_ARN, STORE_ARNS, TRAIL_ARN, bucket_arn, cell,
                         log_group_arn, role_arn, user_arn)

from datamap.graph import (ACCESS, ASSUMES, ENCRYPTED_BY, FLOW, build_graph, copies_of, node_id, stores, who_can,
                           who_can_reach)
from datamap.matrix import AccessCell
from infra.capabilities import Capability

V, C, E, D, A = (Capability.VIEW, Capability.CHANGE, Capability.EXPORT, Capability.DELETE, Capability.ADMIN)
RECORDERS = [p for p, (_, role) in PEOPLE.items() if role == "recorder"]


def graph_of(tenant, with_spec=True):
    return build_graph(tenant.inventory, tenant.matrix, tenant.spec if with_spec else None)


def edges_of_kind(graph, kind):
    return {(graph.nodes[u]["label"], graph.nodes[v]["label"], data["label"])
            for u, v, data in graph.edges(data=True) if data["kind"] == kind}


def test_graph_nodes(tenant):
    graph = graph_of(tenant)
    found = {(data["kind"], data["label"]) for _, data in graph.nodes(data=True)}
    expected = {("person", name) for name, _ in PEOPLE.values()}
    expected |= {("role", "recorder"), ("role", "reporting"), ("role", "it-admin")}
    expected |= {("store", "records"), ("store", "reports"), ("store", "app-logs")}
    expected |= {("copy", "pilot-acme"), ("copy", f"acme-audit-{ACCOUNT}"), ("copy", "/pilot/acme/audit-trail"),
                 ("copy", f"acme-access-logs-{ACCOUNT}"), ("copy", f"acme-records-replica-{ACCOUNT}")}
    expected |= {("key", KEY_ID), ("backup_plan", "pilot-acme"), ("role", "acme-backup-service")}
    assert found == expected
    copy_services = sorted(d["service"] for _, d in graph.nodes(data=True) if d["kind"] == "copy")
    assert copy_services == ["AWS Backup vault", "CloudTrail trail", "CloudWatch Logs log group", "S3 bucket",
                             "S3 bucket", "S3 bucket"]


def test_graph_nodes_carry_arn_and_name(tenant):
    graph = graph_of(tenant)
    for node, data in graph.nodes(data=True):
        assert data["arn"] == node, node
        assert data["name"], node
        assert tenant.inventory.by_arn(data["arn"]) is not None, node


def test_graph_assumes_edges(tenant):
    graph = graph_of(tenant)
    expected = {(name, role, "assumes") for name, role in PEOPLE.values()}
    assert edges_of_kind(graph, ASSUMES) == expected


def test_graph_access_edges(tenant):
    graph = graph_of(tenant)
    found = {(graph.nodes[u]["label"], graph.nodes[v]["label"], d["label"], d["status"])
             for u, v, d in graph.edges(data=True) if d["kind"] == ACCESS}
    expected = {
        ("recorder", "records", "view", "allow"), ("recorder", "records", "change", "allow"),
        ("recorder", "app-logs", "view", "allow"),
        ("reporting", "records", "view", "allow"), ("reporting", "reports", "export", "allow"),
        ("reporting", "app-logs", "view", "unknown"),
        ("it-admin", "records", "admin", "allow"), ("it-admin", "records", "delete", "allow"),
        ("it-admin", "reports", "admin", "allow"), ("it-admin", "app-logs", "admin", "allow"),
    }
    expected |= {("it-admin", name, "admin", "allow") for name, _ in PEOPLE.values()}
    assert found == expected


def test_graph_access_edge_statements(tenant):
    graph = graph_of(tenant)
    edge = graph.edges[role_arn("recorder"), bucket_arn("records"), "change"]
    assert [s.sid for s in edge["statements"]] == ["ChangeRecords"]
    assert edge["people"] == {p: "allow" for p in sorted(RECORDERS)}
    unknown = graph.edges[role_arn("reporting"), STORE_ARNS["app-logs"], "view"]
    assert unknown["unknown_conditions"] == ("aws:SourceIp (IpAddress)",)


def test_graph_flow_edges(tenant):
    graph = graph_of(tenant)
    expected = {
        ("records", "pilot-acme", "backup"),
        ("records", "pilot-acme", "audit log"),
        ("reports", "pilot-acme", "audit log"),
        ("records", f"acme-records-replica-{ACCOUNT}", "replication"),
        ("records", f"acme-access-logs-{ACCOUNT}", "access log"),
        ("pilot-acme", f"acme-audit-{ACCOUNT}", "audit log"),
        ("pilot-acme", "/pilot/acme/audit-trail", "audit log"),
    }
    assert edges_of_kind(graph, FLOW) == expected
    backup = graph.edges[bucket_arn("records"), f"arn:aws:backup:eu-west-1:{ACCOUNT}:backup-vault:pilot-acme",
                         "backup:plan pilot-acme rule daily"]
    assert backup["delete_after_days"] == 30
    assert backup["selected_by"] == "selection pilot-acme-tagged: tag pilot:backup=true"


def test_graph_key_edges(tenant):
    graph = graph_of(tenant)
    sources = {graph.nodes[u]["label"] for u, v, d in graph.edges(data=True) if d["kind"] == ENCRYPTED_BY}
    assert sources == {"records", "reports", "app-logs", "pilot-acme", f"acme-audit-{ACCOUNT}",
                       "/pilot/acme/audit-trail", f"acme-records-replica-{ACCOUNT}"}
    targets = {v for u, v, d in graph.edges(data=True) if d["kind"] == ENCRYPTED_BY}
    assert targets == {KEY_ARN}


def test_graph_labels_without_spec(tenant):
    graph = graph_of(tenant, with_spec=False)
    assert graph.nodes[user_arn("ana.silva")]["label"] == "ana.silva"
    assert graph.nodes[bucket_arn("records")]["classification"] == "confidential"


def test_graph_leaves_out_untagged(tenant):
    graph = graph_of(tenant)
    assert "arn:aws:iam::aws:policy/AWSBackupServiceRolePolicyForBackup" not in graph
    assert graph.nodes[PLAN_ARN]["kind"] == "backup_plan"


def test_stores_sorted(tenant):
    graph = graph_of(tenant)
    assert stores(graph) == [STORE_ARNS["app-logs"], STORE_ARNS["records"], STORE_ARNS["reports"]]


def test_copies_of_records(tenant):
    graph = graph_of(tenant)
    labels = {graph.nodes[n]["service"] + " " + graph.nodes[n]["label"] for n in copies_of(graph, "records")}
    assert labels == {"AWS Backup vault pilot-acme", "CloudTrail trail pilot-acme",
                      f"S3 bucket acme-audit-{ACCOUNT}", "CloudWatch Logs log group /pilot/acme/audit-trail",
                      f"S3 bucket acme-access-logs-{ACCOUNT}", f"S3 bucket acme-records-replica-{ACCOUNT}"}
    assert copies_of(graph, "app-logs") == []


def test_who_can_records(tenant):
    result = who_can(graph_of(tenant), "records")
    expected = {p: {V: "allow", C: "allow"} for p in RECORDERS}
    expected["grace.lee"] = {V: "allow"}
    expected["hugo.berg"] = {D: "allow", A: "allow"}
    assert result == expected


def test_who_can_unknown_cell(tenant):
    result = who_can(graph_of(tenant), STORE_ARNS["app-logs"])
    assert result["grace.lee"] == {V: "unknown"}
    assert result["ana.silva"] == {V: "allow"}


def test_who_can_unknown_store(tenant):
    with pytest.raises(KeyError, match="no store named 'missing'"):
        who_can(graph_of(tenant), "missing")


def test_who_can_role_level_cell(tenant):
    """A cell on the role itself reaches every person the trust policy names."""
    role_cell = AccessCell(principal_arn=role_arn("reporting"), person="", role="reporting",
                           resource_arn=bucket_arn("reports"), resource_name="reports", capability=D,
                           status="allow", actions=("s3:DeleteObject",))
    graph = graph_of(tenant.with_cells([*tenant.matrix.cells, role_cell]))
    assert who_can(graph, "reports")["grace.lee"] == {E: "allow", D: "allow"}


def test_who_can_direct_grant(tenant):
    direct = dataclasses.replace(cell("ana.silva", "reports", "view", "Direct"), role="", via="")
    graph = graph_of(tenant.with_cells([direct]))
    assert graph.has_edge(user_arn("ana.silva"), bucket_arn("reports"), "view")
    assert who_can(graph, "reports") == {"ana.silva": {V: "allow"}}


def test_who_can_reach_user(tenant):
    graph = graph_of(tenant)
    assert who_can_reach(graph, user_arn("ana.silva")) == {"hugo.berg": {A: "allow"}}


def test_graph_does_not_mutate_inputs(tenant):
    before = (copy.deepcopy(tenant.inventory.to_json()), copy.deepcopy(tenant.matrix), copy.deepcopy(tenant.spec))
    graph = graph_of(tenant)
    who_can(graph, "records")
    copies_of(graph, "records")
    assert tenant.inventory.to_json() == before[0]
    assert tenant.matrix == before[1]
    assert tenant.spec == before[2]


def test_graph_same_for_shuffled_input(tenant):
    shuffled = dataclasses.replace(tenant.inventory, resources=tuple(reversed(tenant.inventory.resources)))
    first = graph_of(tenant)
    second = build_graph(shuffled, dataclasses.replace(tenant.matrix, cells=tuple(reversed(tenant.matrix.cells))),
                         tenant.spec)
    assert sorted(first.edges(keys=True)) == sorted(second.edges(keys=True))
    assert dict(first.nodes(data="label")) == dict(second.nodes(data="label"))


def test_node_id_strips_log_group_star():
    assert node_id(log_group_arn("audit-trail") + ":*") == log_group_arn("audit-trail")
    assert node_id(bucket_arn("records")) == bucket_arn("records")


def test_backup_list_of_tags_is_or(tenant):
    """ListOfTags entries are alternatives: a customer tag alone picks buckets without the backup tag."""
    plan = tenant.inventory.by_arn(PLAN_ARN)
    selection = {"SelectionName": "tagged", "ListOfTags": [
        {"ConditionType": "STRINGEQUALS", "ConditionKey": "pilot:customer", "ConditionValue": "acme"},
        {"ConditionType": "STRINGEQUALS", "ConditionKey": "pilot:backup", "ConditionValue": "true"}]}
    graph = graph_of(tenant.with_resource(PLAN_ARN, {"Selections": [selection], "Rules": plan.get("Rules")}))
    backed_up = {graph.nodes[u]["label"] for u, _, d in graph.edges(data=True) if d.get("flow") == "backup"}
    assert backed_up == {"records", "reports", f"acme-audit-{ACCOUNT}", f"acme-access-logs-{ACCOUNT}",
                         f"acme-records-replica-{ACCOUNT}"}


def test_backup_not_resources(tenant):
    selection = {"SelectionName": "all-but-records", "Resources": ["arn:aws:s3:::*"],
                 "NotResources": [bucket_arn("records")]}
    graph = graph_of(tenant.with_resource(PLAN_ARN, {"Selections": [selection]}))
    backed_up = {graph.nodes[u]["label"] for u, _, d in graph.edges(data=True) if d.get("flow") == "backup"}
    assert "records" not in backed_up
    assert "reports" in backed_up


def test_backup_selections_unreadable(tenant):
    graph = graph_of(tenant.with_resource(PLAN_ARN, errors={"Selections": "HTTP 500 from backup"}))
    assert not [e for e in graph.edges(data=True) if e[2].get("flow") == "backup"]
    assert graph.graph["unknown"] == [
        "backup plan pilot-acme: Selections could not be read (HTTP 500 from backup), so the copies it makes "
        "are unknown"]


def test_replica_outside_inventory(tenant):
    other_key = "arn:aws:kms:eu-central-1:444455556666:key/other"
    replication = {"Rules": [{"ID": "offsite", "Status": "Enabled", "Destination": {
        "Bucket": "arn:aws:s3:::offsite-copy", "Account": "444455556666",
        "EncryptionConfiguration": {"ReplicaKmsKeyID": other_key}}}]}
    graph = graph_of(tenant.with_resource(bucket_arn("records"), {"ReplicationConfiguration": replication}))
    replica = graph.nodes["arn:aws:s3:::offsite-copy"]
    assert replica["in_inventory"] is False
    assert replica["label"] == "offsite-copy"
    assert graph.has_edge("arn:aws:s3:::offsite-copy", other_key, ENCRYPTED_BY)
    assert graph.nodes[other_key]["label"] == "KMS key other"


def test_replication_disabled_rule(tenant):
    replication = {"Rules": [{"ID": "paused", "Status": "Disabled",
                              "Destination": {"Bucket": bucket_arn("records-replica")}}]}
    graph = graph_of(tenant.with_resource(bucket_arn("records"), {"ReplicationConfiguration": replication}))
    assert not graph.has_edge(bucket_arn("records"), bucket_arn("records-replica"))


def test_trail_prefix_selector(tenant):
    selectors = [{"ReadWriteType": "WriteOnly", "DataResources": [
        {"Type": "AWS::S3::Object", "Values": [bucket_arn("records") + "/exports/"]}]}]
    graph = graph_of(tenant.with_resource(TRAIL_ARN, {"EventSelectors": selectors}))
    edge = graph.edges[bucket_arn("records"), TRAIL_ARN, "audit log:pilot-acme"]
    assert edge["coverage"] == "writes only, part of the store only"
    assert not graph.has_edge(bucket_arn("reports"), TRAIL_ARN)


def test_trail_advanced_selectors(tenant):
    selectors = [{"Name": "store data", "FieldSelectors": [
        {"Field": "eventCategory", "Equals": ["Data"]},
        {"Field": "resources.type", "Equals": ["AWS::S3::Object"]},
        {"Field": "resources.ARN", "StartsWith": ["arn:aws:s3:::"], "NotStartsWith": [bucket_arn("reports") + "/"]},
        {"Field": "readOnly", "Equals": ["true"]}]}]
    graph = graph_of(tenant.with_resource(TRAIL_ARN, {"EventSelectors": [], "AdvancedEventSelectors": selectors}))
    assert graph.edges[bucket_arn("records"), TRAIL_ARN, "audit log:pilot-acme"]["coverage"] == "reads only"
    assert not graph.has_edge(bucket_arn("reports"), TRAIL_ARN)


def test_key_named_by_key_id(tenant):
    encryption = {"Rules": [{"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "aws:kms",
                                                                    "KMSMasterKeyID": KEY_ID}}]}
    graph = graph_of(tenant.with_resource(bucket_arn("reports"), {"Encryption": encryption}))
    assert graph.has_edge(bucket_arn("reports"), KEY_ARN, ENCRYPTED_BY)


def test_key_aws_managed(tenant):
    encryption = {"Rules": [{"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "aws:kms"}}]}
    graph = graph_of(tenant.with_resource(bucket_arn("reports"), {"Encryption": encryption}))
    assert graph.has_edge(bucket_arn("reports"), "alias/aws/s3", ENCRYPTED_BY)
    assert graph.nodes["alias/aws/s3"]["label"] == "AWS managed key aws/s3"


def test_trail_one_selector_kind_enough(tenant):
    """CloudTrail returns only one of the two selector attributes; the other missing is not a gap."""
    trail = tenant.inventory.by_arn(TRAIL_ARN)
    attributes = {k: v for k, v in trail.attributes.items() if k != "AdvancedEventSelectors"}
    changed = dataclasses.replace(tenant.inventory, resources=tuple(
        dataclasses.replace(r, attributes=attributes) if r.arn == TRAIL_ARN else r for r in tenant.inventory.resources))
    assert build_graph(changed, tenant.matrix, tenant.spec).graph["unknown"] == []


def test_trail_selectors_unreadable(tenant):
    changed = tenant.with_resource(TRAIL_ARN, errors={"EventSelectors": "AccessDenied"})
    graph = graph_of(changed)
    assert graph.graph["unknown"] == [
        "cloudtrail trail pilot-acme: EventSelectors could not be read (AccessDenied), so the copies it makes "
        "are unknown"]
    assert not graph.has_edge(bucket_arn("records"), TRAIL_ARN)


def test_graph_service_role_flag(tenant):
    graph = graph_of(tenant)
    service = graph.nodes["arn:aws:iam::111122223333:role/pilot/acme/service/acme-backup-service"]
    assert service["kind"] == "role"
    assert service["service_role"] is True
    assert graph.nodes[role_arn("recorder")]["service_role"] is False
