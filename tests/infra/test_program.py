"""The Pulumi program under Pulumi's mocks: the inputs it would send to AWS."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from infra.capabilities import Capability, classify
from infra.sandbox.fabricate import PlanHooks
from infra.sandbox.program import run_program
from infra.spec import load_stack_file

ROOT = Path(__file__).resolve().parents[2]
ACCOUNT = "123456789012"
BACKUP_DAYS = 7


@pytest.fixture(scope="module")
def spec():
    return load_stack_file(ROOT / "Pulumi.acme.yaml")


@pytest.fixture(scope="module")
def resources(spec):
    return run_program(spec, PlanHooks(account_id=ACCOUNT, region=spec.region))


def of_type(resources, suffix):
    return [r for r in resources if r.type.endswith(suffix)]


def by_name(resources, name):
    return next(r for r in resources if r.name == name)


def role_policy(resources, role):
    return json.loads(by_name(resources, f"pilot-acme-access-role-{role}-access").inputs["policy"])


def store_kind_of(arn: str) -> tuple[str, bool] | None:
    """Map a granted resource ARN back to (kind, holds_exports) of the acme store it names."""
    if ":s3:::acme-reports-" in arn:
        return "s3", True
    if ":s3:::acme-records-" in arn:
        return "s3", False
    if ":log-group:/pilot/acme/app-logs" in arn:
        return "log_group", False
    return None


def granted_capabilities(policy) -> set[Capability]:
    found = set()
    for statement in policy["Statement"]:
        for arn in statement["Resource"]:
            target = store_kind_of(arn)
            if target is None:
                continue
            for action in statement["Action"]:
                capability = classify(action, target[0], holds_exports=target[1])
                assert capability is not None, f"{action} is not in the capability table"
                found.add(capability)
    return found


def test_resource_count(resources):
    custom = [r for r in resources if r.custom and not r.type.startswith("pulumi:providers")]
    assert len(custom) == 58
    assert len(of_type(resources, "iam/user:User")) == 8


def test_recorder_grants(resources):
    assert granted_capabilities(role_policy(resources, "recorder")) == {Capability.VIEW, Capability.CHANGE}


def test_reporting_grants(resources):
    assert granted_capabilities(role_policy(resources, "reporting")) == {Capability.VIEW, Capability.EXPORT}


def test_recorder_cannot_reach_exports(resources):
    policy = role_policy(resources, "recorder")
    arns = [arn for s in policy["Statement"] for arn in s["Resource"]]
    assert not [arn for arn in arns if "acme-reports-" in arn]


def test_admin_has_no_store_access(resources):
    assert granted_capabilities(role_policy(resources, "it-admin")) == set()
    policy = role_policy(resources, "it-admin")
    resources_granted = [arn for s in policy["Statement"] for arn in s["Resource"]]
    assert resources_granted == [f"arn:aws:iam::{ACCOUNT}:user/pilot/acme/*",
                                 f"arn:aws:iam::{ACCOUNT}:mfa/pilot/acme/*"]


def test_observer_view_only(tmp_path):
    document = (ROOT / "Pulumi.acme.yaml").read_text().replace(
        "capabilities: [view, change]", "capabilities: [view]")
    path = tmp_path / "Pulumi.acme.yaml"
    path.write_text(document)
    spec = load_stack_file(path)
    resources = run_program(spec, PlanHooks(account_id=ACCOUNT, region=spec.region))
    policy = role_policy(resources, "recorder")
    assert granted_capabilities(policy) == {Capability.VIEW}
    actions = [a for s in policy["Statement"] for a in s["Action"]]
    assert not [a for a in actions if a.startswith(("s3:Put", "s3:Delete", "logs:Put", "logs:Create"))]


def test_no_wildcards(resources):
    for name in ("recorder", "reporting", "it-admin"):
        for statement in role_policy(resources, name)["Statement"]:
            assert statement["Effect"] == "Allow"
            assert not [a for a in statement["Action"] if "*" in a or "?" in a]
            for arn in statement["Resource"]:
                assert arn != "*"
                if "*" in arn:
                    # A wildcard only below a tenant resource: objects, streams, tenant people.
                    assert "acme" in arn.split("*", 1)[0], arn


def test_trust_names_members(resources, spec):
    for role in spec.roles:
        trust = json.loads(by_name(resources, f"pilot-acme-access-role-{role.name}").inputs["assumeRolePolicy"])
        (statement,) = trust["Statement"]
        expected = sorted(f"arn:aws:iam::{ACCOUNT}:user/pilot/acme/acme-{p.id}" for p in spec.people_in(role.name))
        assert statement["Principal"] == {"AWS": expected}
        assert statement["Condition"] == {"Bool": {"aws:MultiFactorAuthPresent": "true"}}


def test_person_assumes_own_role(resources, spec):
    for person in spec.people:
        policy = json.loads(by_name(resources, f"pilot-acme-access-user-{person.id}-assume").inputs["policy"])
        (statement,) = policy["Statement"]
        assert statement["Action"] == "sts:AssumeRole"
        assert statement["Resource"] == f"arn:aws:iam::{ACCOUNT}:role/pilot/acme/acme-{person.role}"


def test_lifecycle_matches_tag(resources):
    buckets = {r.outputs["bucket"]: r for r in of_type(resources, "s3/bucket:Bucket")}
    lifecycles = of_type(resources, "s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration")
    assert len(lifecycles) == len(buckets) == 3
    for lifecycle in lifecycles:
        tag = int(buckets[lifecycle.inputs["bucket"]].inputs["tags"]["pilot:retention-days"])
        expiring = [rule for rule in lifecycle.inputs["rules"] if "days" in rule.get("expiration", {})]
        (rule,) = expiring
        assert rule["status"] == "Enabled"
        assert rule["filter"] == {}
        in_bucket = rule["expiration"]["days"] + rule["noncurrentVersionExpiration"]["noncurrentDays"]
        backed_up = buckets[lifecycle.inputs["bucket"]].inputs["tags"].get("pilot:backup") == "true"
        # The current version expires, then its noncurrent copy; a recovery point may
        # hold the last version for the backup window. Together: exactly the tag.
        assert in_bucket + (BACKUP_DAYS if backed_up else 0) == tag


def test_buckets_hardened(resources):
    key_arn = of_type(resources, "kms/key:Key")[0].outputs["arn"]
    for r in of_type(resources, "bucketServerSideEncryptionConfiguration"):
        default = r.inputs["rules"][0]["applyServerSideEncryptionByDefault"]
        assert default == {"sseAlgorithm": "aws:kms", "kmsMasterKeyId": key_arn}
    for r in of_type(resources, "bucketPublicAccessBlock:BucketPublicAccessBlock"):
        assert all(r.inputs[k] for k in ("blockPublicAcls", "blockPublicPolicy", "ignorePublicAcls",
                                         "restrictPublicBuckets"))
    for r in of_type(resources, "bucketVersioning:BucketVersioning"):
        assert r.inputs["versioningConfiguration"] == {"status": "Enabled"}
    for r in of_type(resources, "bucketPolicy:BucketPolicy"):
        statements = json.loads(r.inputs["policy"])["Statement"]
        tls = next(s for s in statements if s["Sid"] == "DenyPlainHttp")
        assert tls["Effect"] == "Deny"
        assert tls["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}


def test_store_tags(resources, spec):
    for r in of_type(resources, "s3/bucket:Bucket"):
        tags = r.inputs["tags"]
        if tags["pilot:purpose"] != "store":
            continue
        store = spec.store(tags["pilot:store"])
        assert tags["pilot:customer"] == "acme"
        assert tags["pilot:classification"] == store.classification
        assert tags["pilot:retention-days"] == str(store.retention_days)
        assert tags["pilot:pilot-end"] == "2027-04-09"


def test_backup_bounded(resources, spec):
    (plan,) = of_type(resources, "backup/plan:Plan")
    (rule,) = plan.inputs["rules"]
    assert rule["lifecycle"]["deleteAfter"] == BACKUP_DAYS
    assert rule["lifecycle"]["deleteAfter"] <= spec.retention_days_after_end
    assert "coldStorageAfter" not in rule["lifecycle"]


def test_backup_selection_scoped(resources):
    (selection,) = of_type(resources, "backup/selection:Selection")
    # ListOfTags entries are ORed by AWS Backup: only one may be there, the backup flag.
    assert selection.inputs["selectionTags"] == [{"type": "STRINGEQUALS", "key": "pilot:backup", "value": "true"}]
    # Conditions are ANDed: the customer tag keeps other tenants' flagged stores out.
    assert selection.inputs["conditions"] == [{"stringEquals": [
        {"key": "aws:ResourceTag/pilot:customer", "value": "acme"}]}]


def test_trail_covers_stores(resources):
    (trail,) = of_type(resources, "cloudtrail/trail:Trail")
    assert trail.inputs["enableLogFileValidation"] is True
    assert trail.inputs["enableLogging"] is True
    (selector,) = trail.inputs["eventSelectors"]
    (data,) = selector["dataResources"]
    assert data["type"] == "AWS::S3::Object"
    assert data["values"] == [f"arn:aws:s3:::acme-records-{ACCOUNT}/", f"arn:aws:s3:::acme-reports-{ACCOUNT}/"]


def test_audit_bucket_protected(resources):
    policy = json.loads(by_name(resources, "pilot-acme-audit-bucket-policy").inputs["policy"])
    deny = next(s for s in policy["Statement"] if s["Sid"] == "TenantCannotDeleteAudit")
    assert deny["Effect"] == "Deny"
    assert {"s3:DeleteObject", "s3:DeleteObjectVersion", "s3:PutLifecycleConfiguration"} <= set(deny["Action"])
    assert deny["Condition"]["ArnLike"]["aws:PrincipalArn"] == [
        f"arn:aws:iam::{ACCOUNT}:role/pilot/acme/*", f"arn:aws:iam::{ACCOUNT}:user/pilot/acme/*"]


def test_log_groups_retained(resources):
    groups = {r.inputs["name"]: r.inputs for r in of_type(resources, "cloudwatch/logGroup:LogGroup")}
    assert groups["/pilot/acme/app-logs"]["retentionInDays"] == 30
    assert groups["/pilot/acme/audit-trail"]["retentionInDays"] == 365
    assert all(g["kmsKeyId"].startswith("arn:aws:kms:") for g in groups.values())


def test_property_dependencies(resources):
    lifecycle = by_name(resources, "pilot-acme-storage-records-lifecycle")
    bucket = by_name(resources, "pilot-acme-storage-records")
    assert bucket.urn in lifecycle.dependencies["bucket"]
    policy = by_name(resources, "pilot-acme-access-role-recorder-access")
    key = by_name(resources, "pilot-acme-storage-key")
    assert key.urn in policy.dependencies["policy"]
