"""datamap.flows: every copy of a store's data, the hops that made it, and how long it lives."""

from __future__ import annotations

import dataclasses

from acme_tenant import ACCOUNT, PLAN_ARN, STORE_ARNS, TRAIL_ARN, bucket_arn, log_group_arn

from datamap.flows import ACCESS_EVENT, EXPORT_EVENT, WRITE, effective_by_classification, flow_retention
from datamap.graph import build_graph
from infra import tags

RECORDS = f"acme-records-{ACCOUNT}"
REPLICA = f"acme-records-replica-{ACCOUNT}"
AUDIT = f"acme-audit-{ACCOUNT}"
DAILY = {"RuleName": "daily", "TargetBackupVaultName": "pilot-acme", "Lifecycle": {"DeleteAfterDays": 30}}


def flows_of(tenant, with_graph=True):
    graph = build_graph(tenant.inventory, tenant.matrix, tenant.spec) if with_graph else None
    return flow_retention(tenant.inventory, tenant.spec, graph)


def copy_at(flows, store, path):
    found = [c for c in flows[store].copies if c.path == tuple(path)]
    assert len(found) == 1, [c.describe() for c in flows[store].copies]
    return found[0]


def with_plan_rules(tenant, *rules):
    return tenant.with_resource(PLAN_ARN, {"Rules": list(rules)})


def lifecycle(rule_id="expire", current=None, noncurrent=None, status="Enabled", filter_=None):
    rule = {"ID": rule_id, "Status": status, "Filter": filter_ or {}}
    if current is not None:
        rule["Expiration"] = {"Days": current}
    if noncurrent is not None:
        rule["NoncurrentVersionExpiration"] = {"NoncurrentDays": noncurrent}
    return {"Rules": [rule]}


def test_flows_stores_keyed_by_name(tenant):
    flows = flows_of(tenant)

    assert sorted(flows) == ["app-logs", "records", "reports"]
    assert flows["records"].arn == STORE_ARNS["records"]
    assert flows["records"].classification == "confidential"


def test_flows_store_itself(tenant):
    own = flows_of(tenant)["records"].copies[0]

    assert own.path == ("records", RECORDS)
    assert own.kind == "store"
    assert own.retention.days == 90
    assert own.counted_from == WRITE


def test_flows_replica_path(tenant):
    replica = copy_at(flows_of(tenant), "records", ["records", "replication", REPLICA])

    assert replica.describe() == f"records → replication → {REPLICA}"
    assert replica.retention.days == 90
    assert replica.arn == bucket_arn("records-replica")


def test_flows_replica_without_expiration(tenant):
    changed = tenant.with_resource(bucket_arn("records-replica"), {"LifecycleConfiguration": None})
    replica = copy_at(flows_of(changed), "records", ["records", "replication", REPLICA])

    assert replica.retention.is_forever
    assert f"bucket {REPLICA} has no lifecycle rules" in replica.retention.reason


def test_flows_disabled_replication_counts(tenant):
    records = tenant.inventory.by_arn(bucket_arn("records"))
    config = {**records.get("ReplicationConfiguration"), "Rules": [
        {**records.get("ReplicationConfiguration")["Rules"][0], "Status": "Disabled"}]}
    changed = tenant.with_resource(bucket_arn("records"), {"ReplicationConfiguration": config})
    replica = copy_at(flows_of(changed), "records", ["records", "replication", REPLICA])

    assert replica.retention.days == 90
    assert any("disabled now" in note for note in replica.retention.notes)


def test_flows_replica_outside_inventory(tenant):
    changed = dataclasses.replace(tenant, inventory=dataclasses.replace(tenant.inventory, resources=tuple(
        r for r in tenant.inventory.resources if r.arn != bucket_arn("records-replica"))))
    replica = copy_at(flows_of(changed), "records", ["records", "replication", REPLICA])

    assert replica.retention.is_unknown
    assert "not in the inventory" in replica.retention.reason


def test_flows_backup_adds_store_window(tenant):
    backup = copy_at(flows_of(tenant), "records", ["records", "backup rule daily", "pilot-acme"])

    assert backup.made_within.days == 90
    assert backup.kept.days == 30
    assert backup.retention.days == 120
    assert "copies every unexpired version on each run" in backup.retention.reason


def test_flows_backup_copy_action(tenant):
    rule = {**DAILY, "CopyActions": [{"DestinationBackupVaultArn": "arn:aws:backup:eu-west-2:1:backup-vault:dr",
                                      "Lifecycle": {"DeleteAfterDays": 60}}]}
    flows = flows_of(with_plan_rules(tenant, rule))
    copy = copy_at(flows, "records", ["records", "backup rule daily", "pilot-acme", "copy action", "dr"])

    assert copy.kind == "backup copy"
    assert copy.retention.days == 150
    assert copy.arn == "arn:aws:backup:eu-west-2:1:backup-vault:dr"


def test_flows_rule_after_copy_action(tenant):
    rule = {**DAILY, "CopyActions": [{"DestinationBackupVaultArn": "arn:aws:backup:eu-west-2:1:backup-vault:dr"}]}
    weekly = {**DAILY, "RuleName": "weekly"}
    backup = copy_at(flows_of(with_plan_rules(tenant, rule, weekly)), "records",
                     ["records", "backup rule weekly", "pilot-acme"])

    assert backup.retention.reason.startswith("AWS Backup copies every unexpired version on each run")


def test_flows_copy_action_inherits_lifecycle(tenant):
    rule = {**DAILY, "CopyActions": [{"DestinationBackupVaultArn": "arn:aws:backup:eu-west-2:1:backup-vault:dr"}]}
    copy = copy_at(flows_of(with_plan_rules(tenant, rule)), "records",
                   ["records", "backup rule daily", "pilot-acme", "copy action", "dr"])

    assert copy.kept.days == 30
    assert copy.retention.days == 120


def test_flows_cold_storage_floor(tenant):
    rule = {**DAILY, "Lifecycle": {"MoveToColdStorageAfterDays": 10, "DeleteAfterDays": 20}}
    backup = copy_at(flows_of(with_plan_rules(tenant, rule)), "records", ["records", "backup rule daily", "pilot-acme"])

    assert backup.kept.days == 100
    assert "cold storage" in backup.kept.reason
    assert backup.retention.days == 190


def test_flows_continuous_backup(tenant):
    rule = {**DAILY, "EnableContinuousBackup": True, "Lifecycle": {"DeleteAfterDays": 14}}
    backup = copy_at(flows_of(with_plan_rules(tenant, rule)), "records", ["records", "backup rule daily", "pilot-acme"])

    assert backup.retention.days == 104


def test_flows_backup_without_lifecycle(tenant):
    rule = {key: value for key, value in DAILY.items() if key != "Lifecycle"}
    backup = copy_at(flows_of(with_plan_rules(tenant, rule)), "records", ["records", "backup rule daily", "pilot-acme"])

    assert backup.retention.is_forever


def test_flows_backup_of_forever_store(tenant):
    changed = tenant.with_resource(bucket_arn("records"), {"LifecycleConfiguration": None})
    backup = copy_at(flows_of(changed), "records", ["records", "backup rule daily", "pilot-acme"])

    assert backup.retention.is_forever
    assert backup.retention.reason.startswith("AWS Backup copies every unexpired version on each run while "
                                              f"{RECORDS} keeps the data, forever")


def test_flows_unselected_store(tenant):
    kinds = {c.kind for c in flows_of(tenant)["reports"].copies}

    assert "backup" not in kinds


def test_flows_selections_unreadable(tenant):
    changed = tenant.with_resource(PLAN_ARN, errors={"Selections": "HTTP 500"})
    flows = flows_of(changed)
    backup = copy_at(flows, "reports", ["reports", "backup rule daily", "pilot-acme"])

    assert "could not be read (HTTP 500)" in backup.doubt
    assert backup.retention.days == 60


def test_flows_backup_of_replica(tenant):
    replica_tags = {tags.CUSTOMER: "acme", tags.PURPOSE: "replica", tags.BACKUP: "true"}
    changed = tenant.with_resource(bucket_arn("records-replica"), resource_tags=replica_tags)
    backup = copy_at(flows_of(changed), "records",
                     ["records", "replication", REPLICA, "backup rule daily", "pilot-acme"])

    assert backup.retention.days == 120


def test_flows_trail_records(tenant):
    flows = flows_of(tenant)
    bucket = copy_at(flows, "records", ["records", "audit log (trail pilot-acme)", AUDIT])
    group = copy_at(flows, "records", ["records", "audit log (trail pilot-acme)", "/pilot/acme/audit-trail"])

    assert bucket.counted_from == ACCESS_EVENT
    assert bucket.retention.days == 365
    assert group.retention.days == 365
    assert group.arn == log_group_arn("audit-trail")


def test_flows_trail_bucket_no_lifecycle(tenant):
    changed = tenant.with_resource(bucket_arn("audit"), {"LifecycleConfiguration": None})
    bucket = copy_at(flows_of(changed), "reports", ["reports", "audit log (trail pilot-acme)", AUDIT])

    assert bucket.retention.is_forever


def test_flows_trail_prefix_recorded(tenant):
    prefixed = lifecycle("logs", 300, 7, filter_={"Prefix": "AWSLogs/"})
    changed = tenant.with_resource(bucket_arn("audit"), {"LifecycleConfiguration": prefixed})
    unrecorded = copy_at(flows_of(changed), "records", ["records", "audit log (trail pilot-acme)", AUDIT])
    recorded = copy_at(flows_of(changed.with_resource(TRAIL_ARN, {"S3KeyPrefix": None})), "records",
                       ["records", "audit log (trail pilot-acme)", AUDIT])

    assert unrecorded.retention.is_forever
    assert recorded.retention.days == 307


def test_flows_access_log_prefix(tenant):
    prefixed = lifecycle("records-logs", 10, filter_={"Prefix": "records/"})
    changed = tenant.with_resource(bucket_arn("access-logs"), {"LifecycleConfiguration": prefixed})
    logs = copy_at(flows_of(changed), "records", ["records", "access log", f"acme-access-logs-{ACCOUNT}"])

    assert logs.retention.days == 10
    assert logs.counted_from == ACCESS_EVENT


def test_flows_no_logs_of_logs(tenant):
    logging = {"TargetBucket": f"acme-access-logs-{ACCOUNT}", "TargetPrefix": "audit/"}
    changed = tenant.with_resource(bucket_arn("audit"), {"Logging": logging})
    paths = [c.path for c in flows_of(changed)["records"].copies]

    assert not [p for p in paths if p.count("access log") and AUDIT in p]


def test_flows_exports_from_graph(tenant):
    flows = flows_of(tenant)
    export = copy_at(flows, "records", ["records", "export", "reports"])
    doubtful = copy_at(flows, "app-logs", ["app-logs", "export", "reports"])

    assert export.counted_from == EXPORT_EVENT
    assert export.retention.days == 30
    assert export.doubt == ""
    assert "could not decide" in doubtful.doubt


def test_flows_exports_without_graph(tenant):
    export = copy_at(flows_of(tenant, with_graph=False), "records", ["records", "export", "reports"])

    assert "no access graph" in export.doubt


def test_flows_no_export_without_grant(tenant):
    cells = [c for c in tenant.matrix.cells if c.person != "grace.lee"]
    flows = flows_of(tenant.with_cells(cells))

    assert not [c for c in flows["records"].copies if c.kind == "export"]


def test_flows_noncurrent_forever(tenant):
    markers = {"ID": "markers", "Status": "Enabled", "Filter": {}, "Expiration": {"ExpiredObjectDeleteMarker": True}}
    config = {"Rules": [*lifecycle(current=83)["Rules"], markers]}
    own = flows_of(tenant.with_resource(bucket_arn("records"), {"LifecycleConfiguration": config}))["records"].copies[0]

    assert own.retention.is_forever
    assert "has no NoncurrentVersionExpiration" in own.retention.reason
    assert "ExpiredObjectDeleteMarker removes only delete markers" in own.retention.reason


def test_flows_disabled_rule(tenant):
    disabled = lifecycle(current=83, noncurrent=7, status="Disabled")
    own = flows_of(tenant.with_resource(bucket_arn("records"), {"LifecycleConfiguration": disabled}))["records"]

    assert own.copies[0].retention.is_forever


def test_flows_tag_filter(tenant):
    tagged = lifecycle(current=83, noncurrent=7, filter_={"Tag": {"Key": "temp", "Value": "yes"}})
    own = flows_of(tenant.with_resource(bucket_arn("records"), {"LifecycleConfiguration": tagged}))["records"]

    assert own.copies[0].retention.is_forever


def test_flows_object_lock_unknown(tenant):
    lock = {"ObjectLockEnabled": "Enabled", "Rule": {"DefaultRetention": {"Mode": "GOVERNANCE", "Days": 30}}}
    own = flows_of(tenant.with_resource(bucket_arn("records"), {"ObjectLockConfiguration": lock}))["records"]

    assert own.copies[0].retention.is_unknown
    assert "legal hold" in own.copies[0].retention.reason


def test_flows_lifecycle_unreadable(tenant):
    changed = tenant.with_resource(bucket_arn("records"), errors={"LifecycleConfiguration": "AccessDenied"})
    own = flows_of(changed)["records"].copies[0]

    assert own.retention.is_unknown
    assert "AccessDenied" in own.retention.reason


def test_flows_scan_errors(tenant):
    changed = dataclasses.replace(tenant, inventory=dataclasses.replace(
        tenant.inventory, errors=("backup:ListBackupPlans: AccessDenied",)))
    unlisted = copy_at(flows_of(changed), "records", ["records", "backup", "not listed"])

    assert unlisted.retention.is_unknown
    assert flows_of(changed)["records"].effective.is_unknown


def test_flows_effective(tenant):
    flows = flows_of(tenant)

    assert flows["records"].effective.days == 365
    assert flows["app-logs"].effective.days == 30
    assert {k: v.days for k, v in effective_by_classification(flows).items()} == {"confidential": 365, "internal": 30}


def test_flows_same_for_shuffled_input(tenant):
    shuffled = dataclasses.replace(tenant, inventory=dataclasses.replace(
        tenant.inventory, resources=tuple(reversed(tenant.inventory.resources))))

    assert flows_of(shuffled) == flows_of(tenant)
