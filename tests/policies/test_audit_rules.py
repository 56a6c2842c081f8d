"""Audit rules: trail logging and validation, data events, protected audit bucket, audit retention."""

from __future__ import annotations

import dataclasses

from builders import (
    ACCOUNT, AUDIT_BUCKET, TRAIL_ARN, STORE_ARNS, audit_bucket, context, data_events, document, lifecycle, role,
    secured_tenant, statement, trail,
)
from infra import documents
from policies.catalog import rule_by_id
from policies.findings import Status

RECORDS = "acme-records-111122223333"
REPORTS = "acme-reports-111122223333"
AUDIT_ARN = f"arn:aws:s3:::{AUDIT_BUCKET}"


def run(rule_id: str, ctx) -> list:
    return rule_by_id(rule_id).evaluate(ctx)


def by_name(findings: list, name: str):
    (found,) = [f for f in findings if f.resource.name == name]
    return found


def secured(*extra, errors=(), **replace):
    return context(secured_tenant(*extra, replace=replace), errors=errors)


def without_trail(errors=()):
    return context([r for r in secured_tenant() if r.kind != "cloudtrail_trail"], errors=errors)


# PILOT-AUD-001 and PILOT-AUD-002: trail settings

def test_trail_logging_passes():
    (finding,) = run("PILOT-AUD-001", secured())

    assert finding.status is Status.PASS
    assert finding.message == "Trail pilot-acme is logging (IsLogging is true)."


def test_trail_stopped_fails():
    (finding,) = run("PILOT-AUD-001", secured(trail=trail(IsLogging=False)))

    assert finding.status is Status.FAIL
    assert finding.observed == "IsLogging false"
    assert finding.fix == "aws cloudtrail start-logging --name pilot-acme"


def test_no_trail_fails():
    (finding,) = run("PILOT-AUD-001", without_trail())

    assert finding.status is Status.FAIL
    assert finding.resource.name == "tenant acme"
    assert "Tenant acme has no CloudTrail trail, so nothing records who did what in it" in finding.message


def test_no_trail_listing_unknown():
    (finding,) = run("PILOT-AUD-001", without_trail(errors=["cloudtrail:ListTrails: AccessDenied"]))

    assert finding.status is Status.UNKNOWN
    assert "cloudtrail:ListTrails: AccessDenied" in finding.message


def test_empty_inventory_unknown():
    (finding,) = run("PILOT-AUD-001", context([]))

    assert finding.status is Status.UNKNOWN
    assert "holds no resources" in finding.message


def test_trail_status_unread_unknown():
    (finding,) = run("PILOT-AUD-001", secured(trail=trail(errors={"IsLogging": "AccessDenied"})))

    assert finding.status is Status.UNKNOWN
    assert "AccessDenied" in finding.message


def test_log_validation_passes():
    (finding,) = run("PILOT-AUD-002", secured())

    assert finding.status is Status.PASS


def test_log_validation_off_fails():
    (finding,) = run("PILOT-AUD-002", secured(trail=trail(LogFileValidationEnabled=False)))

    assert finding.status is Status.FAIL
    assert "LogFileValidationEnabled false" in finding.message
    assert finding.fix == "aws cloudtrail update-trail --name pilot-acme --enable-log-file-validation"


def test_log_validation_unread_unknown():
    (finding,) = run("PILOT-AUD-002", secured(trail=trail(errors={"LogFileValidationEnabled": "Throttling"})))

    assert finding.status is Status.UNKNOWN


# PILOT-AUD-003 data events

def events(*selectors, advanced=(), **changes):
    """Return the data-event findings by bucket name for a trail with these selectors."""
    found = run("PILOT-AUD-003", secured(trail=trail(EventSelectors=list(selectors),
                                                       AdvancedEventSelectors=list(advanced), **changes)))
    return {f.resource.name: f for f in found}


def advanced_selector(*fields, name="data"):
    base = [{"Field": "eventCategory", "Equals": ["Data"]}, {"Field": "resources.type", "Equals": ["AWS::S3::Object"]}]
    return {"Name": name, "FieldSelectors": base + list(fields)}


def test_data_events_program_passes():
    findings = run("PILOT-AUD-003", secured())

    assert len(findings) == 2  # the two S3 stores; the audit bucket is not a store
    assert {f.status for f in findings} == {Status.PASS}
    assert "trail pilot-acme event selector #0 (All)" in by_name(findings, RECORDS).message


def test_data_events_all_buckets_passes():
    found = events(data_events("arn:aws:s3"))

    assert found[RECORDS].status is Status.PASS
    assert found[REPORTS].status is Status.PASS


def test_data_events_write_only_fails():
    found = events(data_events(kind="WriteOnly"))

    assert found[RECORDS].status is Status.FAIL
    assert found[RECORDS].observed == "reads not recorded, writes recorded"
    assert "No logging trail records all reads of objects" in found[RECORDS].message
    assert "records only WriteOnly data events" in found[RECORDS].message


def test_data_events_read_and_write_selectors_pass():
    found = events(data_events(kind="ReadOnly"), data_events(kind="WriteOnly"))

    assert found[RECORDS].status is Status.PASS


def test_data_events_missing_bucket_fails():
    found = events(data_events(f"{STORE_ARNS['reports']}/"))

    assert found[RECORDS].status is Status.FAIL
    assert found[REPORTS].status is Status.PASS
    assert "no data event selector names it" in found[RECORDS].message


def test_data_events_prefix_fails():
    found = events(data_events(f"{STORE_ARNS['records']}/uploads/", f"{STORE_ARNS['reports']}/"))

    assert found[RECORDS].status is Status.FAIL
    assert "records only keys starting with 'uploads/'" in found[RECORDS].message


def test_data_events_stopped_trail_fails():
    found = events(data_events(), IsLogging=False)

    assert found[RECORDS].status is Status.FAIL
    assert "trail pilot-acme is not logging" in found[RECORDS].message


def test_data_events_other_region_fails():
    found = run("PILOT-AUD-003", secured(trail=trail(region="us-east-1", IsMultiRegionTrail=False)))

    assert by_name(found, RECORDS).status is Status.FAIL
    assert "records only region us-east-1" in by_name(found, RECORDS).message


def test_data_events_advanced_passes():
    selector = advanced_selector({"Field": "resources.ARN", "StartsWith": [f"{STORE_ARNS['records']}/"]})
    found = events(advanced=[selector])

    assert found[RECORDS].status is Status.PASS
    assert found[REPORTS].status is Status.FAIL
    assert "advanced event selector data" in found[RECORDS].message


def test_data_events_advanced_read_only_fails():
    found = events(advanced=[advanced_selector({"Field": "readOnly", "Equals": ["true"]})])

    assert found[RECORDS].status is Status.FAIL
    assert found[RECORDS].observed == "reads recorded, writes not recorded"


def test_data_events_advanced_event_name_fails():
    found = events(advanced=[advanced_selector({"Field": "eventName", "Equals": ["PutObject"]})])

    assert found[RECORDS].status is Status.FAIL
    assert "filters on eventName" in found[RECORDS].message


def test_data_events_advanced_exclusion_fails():
    excluded = {"Field": "resources.ARN", "NotStartsWith": [f"{STORE_ARNS['records']}/tmp/"]}
    found = events(advanced=[advanced_selector(excluded)])

    assert found[RECORDS].status is Status.FAIL
    assert found[REPORTS].status is Status.PASS


def test_data_events_unread_selectors_unknown():
    found = run("PILOT-AUD-003", secured(trail=trail(errors={"EventSelectors": "AccessDenied",
                                                             "AdvancedEventSelectors": "AccessDenied"})))

    assert by_name(found, RECORDS).status is Status.UNKNOWN
    assert "AccessDenied" in by_name(found, RECORDS).message


def test_data_events_undocumented_value_unknown():
    found = events(data_events(f"arn:aws:s3:::acme-", f"{STORE_ARNS['reports']}/"))

    assert found[RECORDS].status is Status.UNKNOWN
    assert "a form the CloudTrail documentation does not describe" in found[RECORDS].message


# PILOT-AUD-004 audit bucket protected from tenant principals

def test_audit_bucket_protected_passes():
    (finding,) = run("PILOT-AUD-004", secured())

    assert finding.status is Status.PASS
    assert finding.resource.name == AUDIT_BUCKET
    assert finding.observed == "6 principals explicitly denied"
    assert "statement TenantCannotDeleteAudit (Deny)" in finding.message


def test_audit_bucket_without_deny_fails():
    only_tls = audit_bucket(policy=document(statement("DenyPlainHttp", "s3:*", [AUDIT_ARN, f"{AUDIT_ARN}/*"],
                                                      effect="Deny", Principal="*",
                                                      Condition={"Bool": {"aws:SecureTransport": "false"}})))
    (finding,) = run("PILOT-AUD-004", secured(audit=only_tls))

    assert finding.status is Status.FAIL
    assert "user acme-ana.silva s3:DeleteObject is refused only because no policy allows it today" in finding.message
    assert "Condition ArnLike aws:PrincipalArn" in finding.fix


def test_audit_bucket_outside_deny_path_fails():
    cleaner = role("", {"clean": document(statement("Clean", "s3:DeleteObject", f"{AUDIT_ARN}/*"))},
                   trust=document(statement("Ec2", "sts:AssumeRole", "*", Principal={"Service": "ec2.amazonaws.com"})),
                   full_name="log-cleaner")
    outside_path = dataclasses.replace(cleaner, arn=f"arn:aws:iam::{ACCOUNT}:role/log-cleaner")
    (finding,) = run("PILOT-AUD-004", secured(outside_path))

    assert finding.status is Status.FAIL
    assert "role log-cleaner s3:DeleteObject is allowed by role log-cleaner inline policy clean statement Clean" \
        in finding.message


def test_audit_bucket_policy_unread_unknown():
    (finding,) = run("PILOT-AUD-004", secured(audit=audit_bucket(errors={"Policy": "AccessDenied"})))

    assert finding.status is Status.UNKNOWN
    assert "AccessDenied" in finding.message


def test_audit_bucket_not_in_inventory_unknown():
    resources = [r for r in secured_tenant() if r.name != AUDIT_BUCKET]
    (finding,) = run("PILOT-AUD-004", context(resources))

    assert finding.status is Status.UNKNOWN
    assert f"writes to bucket {AUDIT_BUCKET}, which is not in the inventory" in finding.message


def test_audit_bucket_iam_unlisted_unknown():
    (finding,) = run("PILOT-AUD-004", secured(errors=["iam:ListRoles: AccessDenied"]))

    assert finding.status is Status.UNKNOWN
    assert "iam:ListRoles: AccessDenied" in finding.message


def test_audit_bucket_no_trail_fails():
    (finding,) = run("PILOT-AUD-004", without_trail())

    assert finding.status is Status.FAIL


# PILOT-AUD-005 audit retention

def retention(**changes):
    (finding,) = run("PILOT-AUD-005", secured(audit=audit_bucket(**changes)))
    return finding


def test_audit_retention_program_passes():
    finding = retention()

    assert finding.status is Status.PASS
    assert finding.observed == "at least 365 days"
    assert "expires log files after 358 days" in finding.message


def test_audit_retention_short_fails():
    finding = retention(lifecycle_config=lifecycle(300, 7))

    assert finding.status is Status.FAIL
    assert finding.observed == "307 days"
    assert "can delete logs of trail pilot-acme after 307 days, but the pilot spec's audit retention is 365 days" \
        in finding.message


def test_audit_retention_unversioned_counts_current_only():
    finding = retention(versioning={}, lifecycle_config=lifecycle(360, 7))

    assert finding.status is Status.FAIL
    assert finding.observed == "360 days"


def test_audit_retention_no_lifecycle_passes():
    finding = retention(lifecycle_config=None)

    assert finding.status is Status.PASS
    assert finding.observed == "until deleted"


def test_audit_retention_tag_rule_ignored():
    tagged = lifecycle(30, 1, filter_={"Tag": {"Key": "tmp", "Value": "yes"}})
    finding = retention(lifecycle_config={"Rules": tagged["Rules"] + lifecycle(358, 7)["Rules"]})

    assert finding.status is Status.PASS


def test_audit_retention_prefix_rule_counts():
    scratch = lifecycle(30, 1, filter_={"Prefix": "scratch/"})
    finding = retention(lifecycle_config={"Rules": scratch["Rules"] + lifecycle(358, 7)["Rules"]})

    assert finding.status is Status.FAIL
    assert finding.observed == "31 days"


def test_audit_retention_object_lock_extends():
    lock = {"ObjectLockEnabled": "Enabled", "Rule": {"DefaultRetention": {"Mode": "COMPLIANCE", "Years": 1}}}
    finding = retention(lifecycle_config=lifecycle(30, 1), lock=lock)

    assert finding.status is Status.PASS
    assert "Object Lock default retention (365 days) keeps them longer" in finding.message


def test_audit_retention_unread_unknown():
    finding = retention(errors={"LifecycleConfiguration": "AccessDenied"})

    assert finding.status is Status.UNKNOWN
    assert "was not read" in finding.message


def test_audit_retention_no_spec_unknown():
    (finding,) = run("PILOT-AUD-005", context(secured_tenant(), the_spec=None))

    assert finding.status is Status.UNKNOWN
    assert "no pilot spec" in finding.message


def test_data_events_unlisted_trail_unknown():
    ctx = secured(trail=trail(EventSelectors=[]), errors=["cloudtrail:ListTags: AccessDenied"])
    found = run("PILOT-AUD-003", ctx)

    assert by_name(found, RECORDS).status is Status.UNKNOWN
    assert "the scan could not list every trail" in by_name(found, RECORDS).message


def test_audit_bucket_identity_deny_fails():
    guarded = role("guarded", {"no-delete": document(statement("NoDelete", "s3:*", "*", effect="Deny"))},
                   full_name="guarded-writer")
    outside_path = dataclasses.replace(guarded, arn=f"arn:aws:iam::{ACCOUNT}:role/guarded-writer")
    (finding,) = run("PILOT-AUD-004", secured(outside_path))

    assert finding.status is Status.FAIL
    assert "is denied only by role guarded-writer inline policy no-delete statement NoDelete (Deny)" \
        in finding.message


def test_audit_bucket_policy_deletable_fails():
    program = documents.audit_bucket_policy(AUDIT_ARN, TRAIL_ARN, ACCOUNT, "acme")
    deny = program["Statement"][-1]
    deny["Action"] = [a for a in deny["Action"] if a != "s3:DeleteBucketPolicy"]
    (finding,) = run("PILOT-AUD-004", secured(audit=audit_bucket(policy=program)))

    assert finding.status is Status.FAIL
    assert "s3:DeleteBucketPolicy is refused only because no policy allows it today" in finding.message


def test_data_events_region_unknown():
    found = run("PILOT-AUD-003", secured(trail=trail(region="us-east-1", errors={"IsMultiRegionTrail": "Throttling"})))

    assert by_name(found, RECORDS).status is Status.UNKNOWN
    assert "records events in the region of bucket" in by_name(found, RECORDS).message
