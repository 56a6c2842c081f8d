"""PILOT-RET-007: every copy of a store's data is deleted within what the spec allows."""

from __future__ import annotations

import dataclasses

from builders import (
    ACCOUNT, CUSTOMER, REGION, backup_plan, backup_rule, bucket, context, lifecycle, log_group, tenant,
)
from datamap.inventory import Resource
from infra import naming, tags
from policies.findings import Status
from policies.rules.flows import RULES

(RULE,) = RULES

RECORDS = naming.bucket(CUSTOMER, "records", ACCOUNT)
REPLICA = f"{CUSTOMER}-replica-{ACCOUNT}"
AUDIT = naming.audit_bucket(CUSTOMER, ACCOUNT)
TRAIL_GROUP = naming.audit_log_group(CUSTOMER)


def logged(resource: Resource, **attributes) -> Resource:
    """Return the bucket with server access logging read (off unless given) and other attributes replaced."""
    return dataclasses.replace(resource, attributes={**resource.attributes, "Logging": None, **attributes})


def records(**kwargs) -> Resource:
    """Return the records store with a 13 + 7 day lifecycle, short enough for 10-day backups within 30 days."""
    kwargs.setdefault("lifecycle_config", lifecycle(13, 7))
    return logged(bucket("records", **kwargs))


def replica(lifecycle_config) -> Resource:
    return logged(bucket("replica", name=REPLICA, resource_tags={tags.CUSTOMER: CUSTOMER, tags.PURPOSE: "replica"},
                         lifecycle_config=lifecycle_config))


def replicating(destination: str = REPLICA) -> dict:
    return {"Role": f"arn:aws:iam::{ACCOUNT}:role/replication", "Rules": [
        {"ID": "copy-all", "Status": "Enabled", "Priority": 1, "Filter": {},
         "Destination": {"Bucket": f"arn:aws:s3:::{destination}"}}]}


def trail_resources(audit_lifecycle) -> tuple[Resource, ...]:
    """Return a trail with data events on the records bucket, its bucket and its log group."""
    trail = Resource("cloudtrail_trail", f"arn:aws:cloudtrail:{REGION}:{ACCOUNT}:trail/pilot-acme", "pilot-acme",
                     REGION, {tags.CUSTOMER: CUSTOMER, tags.PURPOSE: "audit"}, {
                         "Name": "pilot-acme", "S3BucketName": AUDIT, "AdvancedEventSelectors": None,
                         "CloudWatchLogsLogGroupArn": naming.log_group_arn(REGION, ACCOUNT, TRAIL_GROUP) + ":*",
                         "EventSelectors": [{"ReadWriteType": "All", "DataResources": [
                             {"Type": "AWS::S3::Object", "Values": [f"arn:aws:s3:::{RECORDS}/"]}]}]})
    audit_bucket = logged(bucket("audit", name=AUDIT, lifecycle_config=audit_lifecycle,
                                 resource_tags={tags.CUSTOMER: CUSTOMER, tags.PURPOSE: "audit"}))
    group = log_group(name=TRAIL_GROUP, retention=365, resource_tags={tags.CUSTOMER: CUSTOMER,
                                                                     tags.PURPOSE: "audit"})
    return trail, audit_bucket, group


def compliant(*extra: Resource, **replace: Resource) -> tuple[Resource, ...]:
    parts = {"records": records(), "reports": logged(bucket("reports", lifecycle_config=lifecycle(23, 7))),
             "plan": backup_plan(backup_rule(10))}
    parts.update(replace)
    return tenant(*extra, replace=parts)


def run(resources):
    return RULE.evaluate(context(resources))


def at_path(findings, path: str):
    found = [f for f in findings if f.message.startswith((path + " keeps ", path + " would keep "))]
    assert len(found) == 1, [f.message for f in findings]
    return found[0]


def test_flow_rule_compliant_passes():
    findings = run(compliant())

    assert findings
    assert [f.message for f in findings if f.status is not Status.PASS] == []


def test_flow_rule_lists_every_copy():
    paths = {f.message.split(" keeps ")[0] for f in run(compliant())}

    assert paths == {f"records → {RECORDS}", "records → backup rule daily → pilot-acme",
                     "records → export → reports", f"reports → {naming.bucket(CUSTOMER, 'reports', ACCOUNT)}",
                     f"app-logs → {naming.log_group(CUSTOMER, 'app-logs')}"}


def test_flow_rule_replica_without_expiration():
    resources = compliant(replica(None))
    resources = tuple(dataclasses.replace(r, attributes={**r.attributes, "ReplicationConfiguration": replicating()})
                      if r.name == RECORDS else r for r in resources)
    finding = at_path(run(resources), f"records → replication → {REPLICA}")

    assert finding.status is Status.FAIL
    assert finding.resource.name == REPLICA
    assert finding.message.startswith(f"records → replication → {REPLICA} keeps data forever; the spec allows 90 "
                                      "days")
    assert f"add an expiration lifecycle rule of at most 90 days to {REPLICA}" in finding.message


def test_flow_rule_replica_with_expiration():
    resources = compliant(replica(lifecycle(83, 7)))
    resources = tuple(dataclasses.replace(r, attributes={**r.attributes, "ReplicationConfiguration": replicating()})
                      if r.name == RECORDS else r for r in resources)

    assert at_path(run(resources), f"records → replication → {REPLICA}").status is Status.PASS


def test_flow_rule_backup_too_long():
    finding = at_path(run(compliant(plan=backup_plan(backup_rule(45)))), "records → backup rule daily → pilot-acme")

    assert finding.status is Status.FAIL
    assert finding.observed == "65 days"
    assert finding.expected == "at most 30 days"
    assert "retentionDaysAfterEnd" in finding.message
    assert "set DeleteAfterDays of backup rule daily of plan pilot-acme to at most 10 days" in finding.message


def test_flow_rule_backup_store_window():
    """A backup that alone fits, but not with the days the store keeps the data."""
    finding = at_path(run(compliant(records=records(lifecycle_config=lifecycle(83, 7)))),
                      "records → backup rule daily → pilot-acme")

    assert finding.status is Status.FAIL
    assert finding.observed == "100 days"
    assert "so no DeleteAfterDays keeps recovery points within 30 days" in finding.message


def test_flow_rule_copy_action_longer():
    copy = {"DestinationBackupVaultArn": f"arn:aws:backup:eu-west-2:{ACCOUNT}:backup-vault:pilot-acme-dr",
            "Lifecycle": {"DeleteAfterDays": 60}}
    findings = run(compliant(plan=backup_plan(backup_rule(10, copies=[copy]))))
    finding = at_path(findings, "records → backup rule daily → pilot-acme → copy action → pilot-acme-dr")

    assert finding.status is Status.FAIL
    assert finding.observed == "80 days"
    assert "Lifecycle.DeleteAfterDays of copy action of backup rule daily" in finding.message
    assert at_path(findings, "records → backup rule daily → pilot-acme").status is Status.PASS


def test_flow_rule_cold_storage():
    rule = backup_rule(None)
    rule["Lifecycle"] = {"MoveToColdStorageAfterDays": 1, "DeleteAfterDays": 10}
    finding = at_path(run(compliant(plan=backup_plan(rule))), "records → backup rule daily → pilot-acme")

    assert finding.status is Status.FAIL
    assert finding.observed == "111 days"
    assert "cold storage" in finding.message


def test_flow_rule_versioned_without_noncurrent_expiration():
    finding = at_path(run(compliant(records=records(lifecycle_config=lifecycle(13, None)))), f"records → {RECORDS}")

    assert finding.status is Status.FAIL
    assert finding.message.startswith(f"records → {RECORDS} keeps data forever; the spec allows 90 days")
    assert "NoncurrentVersionExpiration" in finding.message


def test_flow_rule_trail_bucket_without_lifecycle():
    findings = run(compliant(*trail_resources(None)))
    finding = at_path(findings, f"records → audit log (trail pilot-acme) → {AUDIT}")

    assert finding.status is Status.FAIL
    assert finding.resource.name == AUDIT
    assert "keeps records of each access forever; the spec allows 365 days (the pilot spec's audit retention)" \
        in finding.message
    assert at_path(findings, f"records → audit log (trail pilot-acme) → {TRAIL_GROUP}").status is Status.PASS


def test_flow_rule_trail_within_audit_retention():
    """Audit records count against the audit retention, not the store's 90 days."""
    finding = at_path(run(compliant(*trail_resources(lifecycle(358, 7)))),
                      f"records → audit log (trail pilot-acme) → {AUDIT}")

    assert finding.status is Status.PASS
    assert finding.observed == "365 days"


def test_flow_rule_unknown_hop():
    unread = dataclasses.replace(records(), attributes={k: v for k, v in records().attributes.items()
                                                        if k != "LifecycleConfiguration"},
                                 errors={"LifecycleConfiguration": "AccessDenied"})
    findings = run(compliant(records=unread))
    own = at_path_prefix(findings, f"How long records → {RECORDS} keeps")

    assert own.status is Status.UNKNOWN
    assert "AccessDenied" in own.message
    assert at_path_prefix(findings, "How long records → backup rule daily").status is Status.UNKNOWN


def at_path_prefix(findings, prefix: str):
    found = [f for f in findings if f.message.startswith(prefix)]
    assert found, [f.message for f in findings]
    return found[0]


def test_flow_rule_doubtful_flow_unknown():
    plan = backup_plan(backup_rule(45), errors={"Selections": "HTTP 500"})
    findings = run(compliant(plan=plan))
    reports = at_path(findings, "reports → backup rule daily → pilot-acme")

    assert reports.status is Status.UNKNOWN
    assert "whether this flow exists is unknown" in reports.message
    assert "HTTP 500" in reports.message


def test_flow_rule_export_checked():
    """Data exported into reports is bounded by the source store's retention too."""
    short = logged(bucket("records", lifecycle_config=lifecycle(13, 7),
                          resource_tags={**records().tags, tags.RETENTION_DAYS: "20"}))
    finding = at_path(run(compliant(records=short)), "records → export → reports")

    assert finding.status is Status.FAIL
    assert "keeps exported data for 30 days after the export; the spec allows 20 days" in finding.message


def test_flow_rule_without_spec():
    (finding,) = RULE.evaluate(context(compliant(), the_spec=None))

    assert finding.status is Status.UNKNOWN
    assert "no pilot spec" in finding.message


def test_flow_rule_without_matrix():
    """Without an access matrix an export flow may exist; within the limit it still passes."""
    findings = RULE.evaluate(context(compliant(), the_matrix=None))

    assert at_path(findings, "records → export → reports").status is Status.PASS
    assert at_path(findings, "app-logs → export → reports").status is Status.PASS


def test_flow_rule_log_group_fix():
    findings = run(compliant(**{"app-logs": log_group("app-logs", None)}))
    finding = at_path(findings, f"app-logs → {naming.log_group(CUSTOMER, 'app-logs')}")

    assert finding.status is Status.FAIL
    assert f"--log-group-name {naming.log_group(CUSTOMER, 'app-logs')} --retention-in-days 30" in finding.fix


def test_flow_rule_unversioned_replica_fix():
    unversioned = dataclasses.replace(replica(None), attributes={**replica(None).attributes, "Versioning": {}})
    resources = compliant(unversioned)
    resources = tuple(dataclasses.replace(r, attributes={**r.attributes, "ReplicationConfiguration": replicating()})
                      if r.name == RECORDS else r for r in resources)
    finding = at_path(run(resources), f"records → replication → {REPLICA}")

    assert finding.status is Status.FAIL
    assert "NoncurrentVersionExpiration" not in finding.fix
