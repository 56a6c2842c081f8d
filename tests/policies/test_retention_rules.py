"""Retention rules: store tags, bucket lifecycle, backups and log groups."""

from __future__ import annotations

import datetime as dt

from builders import (
    backup_plan, backup_rule, bucket, context, lifecycle, log_group, spec, store_tags, tag_selection, tenant,
)
from infra import tags
from policies.catalog import rule_by_id
from policies.findings import Status


def run(rule_id: str, ctx) -> list:
    return rule_by_id(rule_id).evaluate(ctx)


def by_name(findings: list, name: str):
    (found,) = [f for f in findings if f.resource.name == name]
    return found


RECORDS = "acme-records-111122223333"
REPORTS = "acme-reports-111122223333"


# PILOT-RET-001 store tags

def test_tags_pass_for_compliant_tenant():
    findings = run("PILOT-RET-001", context())

    assert [f.status for f in findings] == [Status.PASS] * 3


def test_tags_missing_tag_fails():
    ctx = context(tenant(replace={"records": bucket("records", resource_tags=store_tags("records",
                                                                                         retention_days=None))}))
    finding = by_name(run("PILOT-RET-001", ctx), RECORDS)

    assert finding.status is Status.FAIL
    assert "pilot:retention-days is missing" in finding.message
    assert "pilot:retention-days=90" in finding.fix


def test_tags_disagreeing_value_fails():
    ctx = context(tenant(replace={"records": bucket("records", resource_tags=store_tags("records",
                                                                                         retention_days="365"))}))
    finding = by_name(run("PILOT-RET-001", ctx), RECORDS)

    assert finding.status is Status.FAIL
    assert "pilot:retention-days is '365', expected '90'" in finding.evidence


def test_tags_wrong_customer_fails():
    ctx = context(tenant(replace={"records": bucket("records", resource_tags=store_tags("records",
                                                                                         customer="globex"))}))
    assert by_name(run("PILOT-RET-001", ctx), RECORDS).status is Status.FAIL


def test_tags_store_not_in_spec_fails():
    extra = bucket("scratch", name="acme-scratch-111122223333")
    finding = by_name(run("PILOT-RET-001", context(tenant(extra))), "acme-scratch-111122223333")

    assert finding.status is Status.FAIL
    assert "store scratch is not declared in the pilot spec" in finding.evidence


def test_tags_without_spec_unknown_or_fail():
    complete = context(the_spec=None)
    broken = context(tenant(replace={"records": bucket("records", resource_tags=store_tags(
        "records", classification="secret"))}), the_spec=None)

    assert {f.status for f in run("PILOT-RET-001", complete)} == {Status.UNKNOWN}
    finding = by_name(run("PILOT-RET-001", broken), RECORDS)
    assert finding.status is Status.FAIL
    assert "not one of public" in finding.message


def test_tags_unread_unknown():
    ctx = context(tenant(replace={"records": bucket("records", errors={"tags": "AccessDenied"})}))

    assert by_name(run("PILOT-RET-001", ctx), RECORDS).status is Status.UNKNOWN


def test_tags_missing_store_fails_or_unknown():
    without_records = tenant(replace={"records": bucket("reports", name="placeholder",
                                                        resource_tags={tags.CUSTOMER: "acme"})})
    failed = by_name(run("PILOT-RET-001", context(without_records)), RECORDS)
    unsure = by_name(run("PILOT-RET-001", context(without_records, errors=["s3:ListBuckets: AccessDenied"])),
                     RECORDS)

    assert failed.status is Status.FAIL
    assert "no resource named acme-records-111122223333 exists" in failed.message
    assert unsure.status is Status.UNKNOWN


# PILOT-RET-002/003/004 bucket lifecycle

def test_lifecycle_pass_for_program_shape():
    for rule_id in ("PILOT-RET-002", "PILOT-RET-003", "PILOT-RET-004"):
        findings = run(rule_id, context())
        assert [f.status for f in findings] == [Status.PASS, Status.PASS], rule_id


def test_current_prefix_only_rule_fails():
    ctx = context(tenant(replace={"records": bucket("records", lifecycle_config=lifecycle(
        filter_={"Prefix": "logs/"}))}))
    finding = by_name(run("PILOT-RET-002", ctx), RECORDS)

    assert finding.status is Status.FAIL
    assert finding.observed == "forever"
    assert "applies only to keys starting with 'logs/'" in finding.message
    assert "filter is empty" in finding.fix


def test_current_longer_than_tag_fails():
    ctx = context(tenant(replace={"records": bucket("records", lifecycle_config=lifecycle(120, 7))}))
    finding = by_name(run("PILOT-RET-002", ctx), RECORDS)

    assert finding.status is Status.FAIL
    assert finding.observed == "120 days"
    assert finding.expected == "at most 90 days"


def test_limit_uses_stricter_tag():
    short_tag = bucket("records", resource_tags=store_tags("records", retention_days="60"))
    finding = by_name(run("PILOT-RET-002", context(tenant(replace={"records": short_tag}))), RECORDS)

    assert finding.status is Status.FAIL
    assert "shorter than the pilot spec's 90 days" in finding.message


def test_no_lifecycle_fails():
    ctx = context(tenant(replace={"records": bucket("records", lifecycle_config=None)}))

    assert by_name(run("PILOT-RET-002", ctx), RECORDS).status is Status.FAIL


def test_lifecycle_unread_unknown():
    ctx = context(tenant(replace={"records": bucket("records", errors={"LifecycleConfiguration": "AccessDenied"})}))
    finding = by_name(run("PILOT-RET-002", ctx), RECORDS)

    assert finding.status is Status.UNKNOWN
    assert "AccessDenied" in finding.message


def test_lifecycle_without_limit_unknown():
    untagged = bucket("records", resource_tags=store_tags("records", retention_days=None))
    finding = by_name(run("PILOT-RET-002", context(tenant(replace={"records": untagged}), the_spec=None)), RECORDS)

    assert finding.status is Status.UNKNOWN
    assert "retention limit is unknown" in finding.message


def test_lifecycle_future_date_unknown():
    dated = {"Rules": [{"ID": "cutover", "Filter": {}, "Status": "Enabled", "Expiration": {"Date": "2030-01-01"},
                        "NoncurrentVersionExpiration": {"NoncurrentDays": 1}}]}
    finding = by_name(run("PILOT-RET-002", context(tenant(replace={"records": bucket(
        "records", lifecycle_config=dated)}))), RECORDS)

    assert finding.status is Status.UNKNOWN


def test_noncurrent_missing_fails():
    ctx = context(tenant(replace={"records": bucket("records", lifecycle_config=lifecycle(83, None))}))
    finding = by_name(run("PILOT-RET-003", ctx), RECORDS)

    assert finding.status is Status.FAIL
    assert finding.observed == "forever"
    assert "NoncurrentVersionExpiration" in finding.message


def test_noncurrent_unversioned_bucket_passes():
    ctx = context(tenant(replace={"records": bucket("records", versioning={}, lifecycle_config=lifecycle(90, None))}))

    assert by_name(run("PILOT-RET-003", ctx), RECORDS).status is Status.PASS


def test_noncurrent_object_lock_without_default_unknown():
    locked = bucket("records", lock={"ObjectLockEnabled": "Enabled"})
    finding = by_name(run("PILOT-RET-003", context(tenant(replace={"records": locked}))), RECORDS)

    assert finding.status is Status.UNKNOWN
    assert "legal hold" in finding.message
    assert by_name(run("PILOT-RET-002", context(tenant(replace={"records": locked}))), RECORDS).status is Status.PASS


def test_noncurrent_versioning_unread_unknown():
    ctx = context(tenant(replace={"records": bucket("records", errors={"Versioning": "AccessDenied"})}))

    assert by_name(run("PILOT-RET-003", ctx), RECORDS).status is Status.UNKNOWN


def test_data_sum_over_limit_fails():
    ctx = context(tenant(replace={"records": bucket("records", lifecycle_config=lifecycle(90, 7))}))
    finding = by_name(run("PILOT-RET-004", ctx), RECORDS)

    assert finding.status is Status.FAIL
    assert finding.observed == "97 days"
    assert by_name(run("PILOT-RET-002", ctx), RECORDS).status is Status.PASS


def test_data_object_lock_default_fails():
    lock = {"ObjectLockEnabled": "Enabled", "Rule": {"DefaultRetention": {"Mode": "COMPLIANCE", "Days": 365}}}
    finding = by_name(run("PILOT-RET-004", context(tenant(replace={"records": bucket("records", lock=lock)}))),
                      RECORDS)

    assert finding.status is Status.FAIL
    assert "Object Lock default retention (COMPLIANCE, 365 days)" in finding.evidence


def test_data_unread_unknown():
    ctx = context(tenant(replace={"records": bucket("records", errors={"ObjectLockConfiguration": "Timeout"})}))

    assert by_name(run("PILOT-RET-004", ctx), RECORDS).status is Status.UNKNOWN


# PILOT-RET-005 backups

def test_backup_within_limit_passes():
    (finding,) = run("PILOT-RET-005", context())

    assert finding.status is Status.PASS
    assert finding.expected == "at most 30 days"


def test_backup_longer_than_after_end_fails():
    ctx = context(tenant(replace={"plan": backup_plan(backup_rule(90))}))
    (finding,) = run("PILOT-RET-005", ctx)

    assert finding.status is Status.FAIL
    assert "30 days after pilot end" in finding.message
    assert "backup rule daily: 90 days" == finding.observed


def test_backup_without_lifecycle_fails():
    (finding,) = run("PILOT-RET-005", context(tenant(replace={"plan": backup_plan(backup_rule(None))})))

    assert finding.status is Status.FAIL
    assert finding.observed == "backup rule daily: forever"


def test_backup_copy_action_counts():
    copy = {"DestinationBackupVaultArn": "arn:aws:backup:us-west-2:111122223333:backup-vault:dr",
            "Lifecycle": {"DeleteAfterDays": 365}}
    (finding,) = run("PILOT-RET-005", context(tenant(replace={"plan": backup_plan(backup_rule(30, copies=[copy]))})))

    assert finding.status is Status.FAIL
    assert "copy to arn:aws:backup:us-west-2:111122223333:backup-vault:dr" in finding.observed


def test_backup_limit_follows_selection():
    long_after_end = spec(dates={"start": "2027-01-11", "end": "2027-04-09", "retentionDaysAfterEnd": 120})
    plan = backup_plan(backup_rule(90))
    picked = run("PILOT-RET-005", context(tenant(replace={"plan": plan}), the_spec=long_after_end))
    unread = run("PILOT-RET-005", context(tenant(replace={"plan": backup_plan(
        backup_rule(90), selections=None, errors={"Selections": "HTTP 500"})}), the_spec=long_after_end))
    customer_wide = run("PILOT-RET-005", context(tenant(replace={"plan": backup_plan(
        backup_rule(90), selections=[tag_selection((tags.CUSTOMER, "acme"), (tags.BACKUP, "true"))])}),
        the_spec=long_after_end))

    assert picked[0].status is Status.PASS
    assert picked[0].expected == "at most 90 days"
    assert unread[0].status is Status.FAIL
    assert "selections were not read" in unread[0].message
    assert customer_wide[0].status is Status.FAIL
    assert "store reports keeps data 30 days" in customer_wide[0].message


def test_backup_without_spec_unknown():
    (finding,) = run("PILOT-RET-005", context(the_spec=None))

    assert finding.status is Status.UNKNOWN


def test_backup_rules_unread_unknown():
    plan = backup_plan(errors={"Rules": "AccessDenied"})
    (finding,) = run("PILOT-RET-005", context(tenant(replace={"plan": plan})))

    assert finding.status is Status.UNKNOWN
    assert "AccessDenied" in finding.message


def test_backup_continuous_copy_unknown():
    copy = {"DestinationBackupVaultArn": "arn:aws:backup:us-west-2:111122223333:backup-vault:dr"}
    plan = backup_plan(backup_rule(7, continuous=True, copies=[copy]))
    (finding,) = run("PILOT-RET-005", context(tenant(replace={"plan": plan})))

    assert finding.status is Status.UNKNOWN


# PILOT-RET-006 log groups

def test_log_group_within_limit_passes():
    (finding,) = run("PILOT-RET-006", context())

    assert finding.status is Status.PASS


def test_log_group_without_retention_fails():
    (finding,) = run("PILOT-RET-006", context(tenant(replace={"app-logs": log_group("app-logs", None)})))

    assert finding.status is Status.FAIL
    assert finding.observed == "forever"
    assert finding.fix == ("aws logs put-retention-policy --log-group-name /pilot/acme/app-logs "
                           "--retention-in-days 30")


def test_log_group_too_long_fails():
    (finding,) = run("PILOT-RET-006", context(tenant(replace={"app-logs": log_group("app-logs", 60)})))

    assert finding.status is Status.FAIL
    assert finding.expected == "at most 30 days"


def test_log_group_forever_without_limit_fails():
    stray = log_group("debug", None, name="/pilot/acme/debug", resource_tags={tags.CUSTOMER: "acme"})
    finding = by_name(run("PILOT-RET-006", context(tenant(stray))), "/pilot/acme/debug")

    assert finding.status is Status.FAIL
    assert "no limit is declared" in finding.message


def test_log_group_finite_without_limit_unknown():
    stray = log_group("debug", 14, name="/pilot/acme/debug", resource_tags={tags.CUSTOMER: "acme"})
    finding = by_name(run("PILOT-RET-006", context(tenant(stray))), "/pilot/acme/debug")

    assert finding.status is Status.UNKNOWN


def test_log_group_unread_unknown():
    unread = log_group("app-logs", None, errors={"retentionInDays": "ThrottlingException"})
    (finding,) = run("PILOT-RET-006", context(tenant(replace={"app-logs": unread})))

    assert finding.status is Status.UNKNOWN


def test_audit_log_group_uses_audit_retention():
    audit = log_group("audit", 400, name="/pilot/acme/audit-trail",
                      resource_tags={tags.CUSTOMER: "acme", tags.PURPOSE: "audit"})
    finding = by_name(run("PILOT-RET-006", context(tenant(audit))), "/pilot/acme/audit-trail")

    assert finding.status is Status.FAIL
    assert finding.expected == "at most 365 days"
    assert finding.fix.endswith("--retention-in-days 365")


def test_date_rule_uses_context_today():
    dated = {"Rules": [{"ID": "cutover", "Filter": {}, "Status": "Enabled",
                        "Expiration": {"Date": "2027-01-01T00:00:00Z"}}]}
    ctx = context(tenant(replace={"records": bucket("records", lifecycle_config=dated)}), today=dt.date(2027, 2, 1))

    assert by_name(run("PILOT-RET-002", ctx), RECORDS).status is Status.PASS


def test_tags_malformed_retention_value_fails():
    ctx = context(tenant(replace={"records": bucket("records", resource_tags=store_tags("records",
                                                                                         retention_days="ninety"))}),
                  the_spec=None)
    finding = by_name(run("PILOT-RET-001", ctx), RECORDS)

    assert finding.status is Status.FAIL
    assert "not a positive whole number of days" in finding.message


def test_tags_missing_log_group_store_named():
    resources = tenant(replace={"app-logs": bucket("reports", name="placeholder",
                                                   resource_tags={tags.CUSTOMER: "acme"})})
    finding = by_name(run("PILOT-RET-001", context(resources)), "/pilot/acme/app-logs")

    assert finding.status is Status.FAIL


def test_message_keeps_name_case():
    mixed = log_group("debug", None, name="/aws/lambda/OrdersApi", resource_tags={tags.CUSTOMER: "acme"})
    finding = by_name(run("PILOT-RET-006", context(tenant(mixed))), "/aws/lambda/OrdersApi")

    assert finding.message.startswith("Log group /aws/lambda/OrdersApi keeps events forever")


def test_unlisted_backup_plans_and_log_groups_unknown():
    ctx = context(tenant(), errors=["backup:ListBackupPlans: AccessDenied", "logs:DescribeLogGroups: Throttling"])
    backup = run("PILOT-RET-005", ctx)
    logs = run("PILOT-RET-006", ctx)

    assert [f.status for f in backup] == [Status.UNKNOWN, Status.PASS]
    assert "backup:ListBackupPlans: AccessDenied" in backup[0].message
    assert [f.status for f in logs] == [Status.UNKNOWN, Status.PASS]


AUDIT = "acme-audit-111122223333"


def audit_bucket(lifecycle_config, retention: str = "365"):
    audit_tags = {tags.CUSTOMER: "acme", tags.PURPOSE: "audit", tags.RETENTION_DAYS: retention}
    return bucket("audit", name=AUDIT, resource_tags=audit_tags, lifecycle_config=lifecycle_config)


def test_audit_bucket_checked_against_audit_retention():
    within = run("PILOT-RET-004", context(tenant(audit_bucket(lifecycle(358, 7)))))
    beyond = run("PILOT-RET-004", context(tenant(audit_bucket(lifecycle(400, 7), retention="400"))))

    assert by_name(within, AUDIT).status is Status.PASS
    finding = by_name(beyond, AUDIT)
    assert finding.status is Status.FAIL
    assert finding.expected == "at most 365 days"
    assert "the pilot spec's audit retention" in finding.message


def test_bucket_without_declared_retention_skipped():
    untagged = bucket("scratch", name="acme-scratch-111122223333", resource_tags={tags.CUSTOMER: "acme"},
                      lifecycle_config=None)
    findings = run("PILOT-RET-002", context(tenant(untagged)))

    assert "acme-scratch-111122223333" not in {f.resource.name for f in findings}
    assert len(findings) == 2
