"""Data protection rules: KMS encryption, public access block, TLS only."""

from __future__ import annotations

from builders import (
    ACCOUNT, KEY_ARN, KEY_ID, PAB_ON, STORE_ARNS, bucket, context, document, log_group, secured_tenant, sse_kms,
    statement, trail, vault,
)
from policies.catalog import rule_by_id
from policies.findings import Status

RECORDS = "acme-records-111122223333"
RECORDS_ARN = STORE_ARNS["records"]


def run(rule_id: str, ctx) -> list:
    return rule_by_id(rule_id).evaluate(ctx)


def by_name(findings: list, name: str, kind: str = ""):
    (found,) = [f for f in findings if f.resource.name == name and kind in f.resource.arn]
    return found


def secured(*extra, **replace):
    return context(secured_tenant(*extra, replace=replace))


# PILOT-PRO-001 KMS on every store and copy

def test_kms_pass_everywhere():
    findings = run("PILOT-PRO-001", secured())

    assert len(findings) == 7  # three buckets, two log groups, the vault and the trail
    assert {f.status for f in findings} == {Status.PASS}
    assert "encrypts with tenant key alias/pilot/acme" in by_name(findings, RECORDS).message


def test_kms_sse_s3_fails():
    finding = by_name(run("PILOT-PRO-001", secured(records=bucket("records", encryption=sse_kms(None, "AES256")))),
                      RECORDS)

    assert finding.status is Status.FAIL
    assert finding.observed == "SSEAlgorithm AES256"
    assert f"Bucket {RECORDS} is not encrypted with a tenant KMS key" in finding.message
    assert "KMSMasterKeyID alias/pilot/acme" in finding.fix


def test_kms_aws_managed_key_fails():
    finding = by_name(run("PILOT-PRO-001", secured(records=bucket("records", encryption=sse_kms(None)))), RECORDS)

    assert finding.status is Status.FAIL
    assert "AWS managed key aws/s3" in finding.message


def test_kms_no_default_encryption_fails():
    finding = by_name(run("PILOT-PRO-001", secured(records=bucket("records", encryption=None))), RECORDS)

    assert finding.status is Status.FAIL
    assert "SSE-S3" in finding.observed


def test_kms_log_group_without_key_fails():
    finding = by_name(run("PILOT-PRO-001", secured(**{"app-logs": log_group(kms_key=None)})), "/pilot/acme/app-logs")

    assert finding.status is Status.FAIL
    assert "no kmsKeyId" in finding.message
    assert finding.fix == f"aws logs associate-kms-key --log-group-name /pilot/acme/app-logs --kms-key-id alias/pilot/acme"


def test_kms_trail_without_key_fails():
    finding = by_name(run("PILOT-PRO-001", secured(trail=trail(KmsKeyId=None))), "pilot-acme", ":trail/")

    assert finding.status is Status.FAIL
    assert "no KmsKeyId" in finding.message


def test_kms_foreign_key_fails():
    other = "arn:aws:kms:eu-west-1:999999999999:key/abcd"
    finding = by_name(run("PILOT-PRO-001", secured(vault=vault(other))), "pilot-acme", ":backup-vault:")

    assert finding.status is Status.FAIL
    assert f"encrypts with key {other}, which is not a key of the tenant" in finding.message


def test_kms_key_by_alias_or_id_passes():
    by_alias = bucket("records", encryption=sse_kms(f"arn:aws:kms:eu-west-1:{ACCOUNT}:alias/pilot/acme"))
    by_id = bucket("reports", encryption=sse_kms(KEY_ID))
    findings = run("PILOT-PRO-001", secured(records=by_alias, reports=by_id))

    assert by_name(findings, RECORDS).status is Status.PASS
    assert by_name(findings, "acme-reports-111122223333").status is Status.PASS


def test_kms_unread_setting_unknown():
    finding = by_name(run("PILOT-PRO-001", secured(records=bucket("records", errors={"Encryption": "AccessDenied"}))),
                      RECORDS)

    assert finding.status is Status.UNKNOWN
    assert "AccessDenied" in finding.message


def test_kms_unlisted_key_unknown():
    resources = secured_tenant()
    ctx = context([r for r in resources if r.kind != "kms_key"], errors=["kms:ListKeys: AccessDenied"])
    findings = run("PILOT-PRO-001", ctx)

    assert by_name(findings, RECORDS).status is Status.UNKNOWN
    assert f"encrypts with key {KEY_ARN}" in by_name(findings, RECORDS).message


# PILOT-PRO-002 public access block

def test_public_access_block_pass():
    findings = run("PILOT-PRO-002", secured())

    assert len(findings) == 3
    assert {f.status for f in findings} == {Status.PASS}


def test_public_access_block_missing_fails():
    finding = by_name(run("PILOT-PRO-002", secured(records=bucket("records", public_access=None))), RECORDS)

    assert finding.status is Status.FAIL
    assert finding.observed == "no public access block"
    assert finding.fix.startswith(f"aws s3api put-public-access-block --bucket {RECORDS}")


def test_public_access_block_flag_off_fails():
    partial = {**PAB_ON, "RestrictPublicBuckets": False}
    finding = by_name(run("PILOT-PRO-002", secured(records=bucket("records", public_access=partial))), RECORDS)

    assert finding.status is Status.FAIL
    assert "leaves RestrictPublicBuckets off" in finding.message
    assert "RestrictPublicBuckets=false" in finding.observed


def test_public_access_block_unread_unknown():
    unread = bucket("records", errors={"PublicAccessBlock": "AccessDenied"})
    finding = by_name(run("PILOT-PRO-002", secured(records=unread)), RECORDS)

    assert finding.status is Status.UNKNOWN
    assert "AccessDenied" in finding.message


# PILOT-PRO-003 TLS only

def deny_http(principal="*", resources=(RECORDS_ARN, f"{RECORDS_ARN}/*"), **condition):
    conditions = {"Bool": {"aws:SecureTransport": "false"}, **condition}
    return document(statement("DenyHttp", "s3:*", list(resources), effect="Deny", Principal=principal,
                              Condition=conditions))


def tls(policy):
    return by_name(run("PILOT-PRO-003", secured(records=bucket("records", policy=policy))), RECORDS)


def test_tls_program_policy_passes():
    findings = run("PILOT-PRO-003", secured())

    assert len(findings) == 3
    assert {f.status for f in findings} == {Status.PASS}
    assert "statement DenyPlainHttp (Deny)" in by_name(findings, RECORDS).message


def test_tls_no_policy_fails():
    finding = tls(None)

    assert finding.status is Status.FAIL
    assert finding.observed == "no bucket policy"
    assert '"aws:SecureTransport": "false"' in finding.fix


def test_tls_deny_for_account_only_fails():
    finding = tls(deny_http({"AWS": f"arn:aws:iam::{ACCOUNT}:root"}))

    assert finding.status is Status.FAIL
    assert "by 2 of 10 principals tried, such as an anonymous caller" in finding.message
    assert any("by a principal of another account (999999999999) is not denied" in e for e in finding.evidence)
    assert not any("outside the tenant" in e for e in finding.evidence)


def test_tls_deny_on_objects_only_fails():
    finding = tls(deny_http(resources=[f"{RECORDS_ARN}/*"]))

    assert finding.status is Status.FAIL
    assert "s3:ListBucket on the bucket" in finding.message
    assert "s3:GetObject" not in finding.message


def test_tls_allow_only_fails():
    allow = document(statement("TenantReads", "s3:GetObject", f"{RECORDS_ARN}/*", Principal="*",
                               Condition={"Bool": {"aws:SecureTransport": "true"}}))
    finding = tls(allow)

    assert finding.status is Status.FAIL
    assert "s3:GetObject on its objects (by 10 of 10 principals tried, such as an anonymous caller)" \
        in finding.message
    assert finding.observed == "not denied: s3:GetObject on its objects, s3:PutObject on its objects, " \
                               "s3:ListBucket on the bucket"


def test_tls_deny_with_extra_condition_unknown():
    finding = tls(deny_http(IpAddress={"aws:SourceIp": "203.0.113.0/24"}))

    assert finding.status is Status.UNKNOWN
    assert "aws:SourceIp (IpAddress)" in finding.message


def test_tls_deny_for_signed_callers_only_fails():
    # Every signed request carries aws:PrincipalArn. An anonymous one does not, so this Deny never covers it.
    finding = tls(deny_http(ArnLike={"aws:PrincipalArn": "arn:aws:iam::*:*"}))

    assert finding.status is Status.FAIL
    assert "(by 1 of 10 principals tried, such as an anonymous caller)" in finding.message
    assert len(finding.evidence) == 3


def test_tls_deny_sparing_services_misses_anonymous():
    # aws:PrincipalIsAWSService is absent from anonymous requests, so a Bool test on it is false for them.
    deny = statement("DenyHttp", "s3:*", [RECORDS_ARN, f"{RECORDS_ARN}/*"], effect="Deny", Principal="*",
                     Condition={"Bool": {"aws:SecureTransport": "false", "aws:PrincipalIsAWSService": "false"}})
    finding = tls(document(deny))

    assert finding.status is Status.FAIL
    assert "(by 1 of 10 principals tried, such as an anonymous caller)" in finding.message


def test_tls_not_principal_deny_covers_anonymous():
    # A NotPrincipal Deny applies to every caller it does not list, anonymous ones too.
    deny = statement("DenyHttp", "s3:*", [RECORDS_ARN, f"{RECORDS_ARN}/*"], effect="Deny",
                     NotPrincipal={"AWS": "arn:aws:iam::444455556666:root"},
                     Condition={"Bool": {"aws:SecureTransport": "false"}})
    finding = tls(document(deny))

    assert finding.status is Status.PASS
    assert "for all 10 principals tried" in finding.message


def test_tls_unread_policy_unknown():
    finding = by_name(run("PILOT-PRO-003", secured(records=bucket("records", errors={"Policy": "AccessDenied"}))),
                      RECORDS)

    assert finding.status is Status.UNKNOWN
    assert "AccessDenied" in finding.message


def test_tls_invalid_policy_unknown():
    finding = tls({"Version": "2012-10-17", "Statement": [{"Effect": "Deny", "Action": "s3:*"}]})

    assert finding.status is Status.UNKNOWN
    assert "the bucket policy is invalid" in finding.message


def test_kms_vault_without_key_unknown():
    finding = by_name(run("PILOT-PRO-001", secured(vault=vault(None))), "pilot-acme", ":backup-vault:")

    assert finding.status is Status.UNKNOWN
    assert "EncryptionKeyArn is empty" in finding.message
