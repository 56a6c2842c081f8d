"""The plan source: acme's planned inventory against the same tenant deployed to the sandbox and scanned.

The plan cannot know three things the deployed tenant has, and records them as unknown.
Two are ids AWS assigns on create: the KMS key id and the backup plan id, which also
appear in the ARNs that name those two records. The third is the documents of AWS
managed policies. Everything else, and every finding of the rule catalogue, must be equal. The second half tests the
converter on small hand-built resource lists: unknown preview values, Pulumi state
shapes and tenant membership.
"""

from __future__ import annotations

import datetime as dt
import json
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import boto3
import pytest

from datamap import inventory as inventory_io
from datamap.access import build_matrix
from datamap.inventory import Inventory, thaw
from datamap.sources.declared.values import Unknown, UnknownValue
from datamap.sources.live import scan
from datamap.sources.program import convert, plan_inventory
from infra.sandbox.deploy import deploy
from infra.sandbox.program import Registered
from infra.spec import load_stack_file
from pilotctl.cli import main
from policies.engine import run_checks

ROOT = Path(__file__).resolve().parents[2]
ACCOUNT = "123456789012"
CHECK_DAY = dt.date(2027, 2, 1)  # mid-pilot
UNKNOWN_IN_PLAN = {("kms_key", "KeyId"), ("backup_plan", "BackupPlanId"), ("iam_policy", "Document")}


@pytest.fixture(scope="module")
def spec():
    return load_stack_file(ROOT / "Pulumi.acme.yaml")


@pytest.fixture(scope="module")
def deployed(spec, emulator) -> Iterator[Inventory]:
    # The emulator is shared, so acme starts fresh here and leaves nothing for later modules.
    emulator.reset()
    deploy(spec, emulator.endpoint)
    session = boto3.session.Session(aws_access_key_id="testing", aws_secret_access_key="testing",
                                    region_name=spec.region)
    yield scan(spec.customer, session=session, endpoint_url=emulator.endpoint, region=spec.region)
    emulator.reset()


@pytest.fixture(scope="module")
def planned(spec) -> Inventory:
    return plan_inventory(spec, account_id=ACCOUNT)


def by_name(inventory: Inventory) -> dict[tuple[str, str], object]:
    return {(resource.kind, resource.name): resource for resource in inventory.resources}


def assigned_ids(planned: Inventory, deployed: Inventory) -> dict[str, str]:
    """Map the plan's placeholder key ARN and backup plan id to the deployed ones."""
    plan, live = by_name(planned), by_name(deployed)
    key = ("kms_key", "alias/pilot/acme")
    backup = ("backup_plan", "pilot-acme")
    return {plan[key].arn: live[key].arn, plan[backup].arn.rsplit(":", 1)[-1]: live[backup].arn.rsplit(":", 1)[-1]}


def comparable(resource, ids: dict[str, str]) -> dict:
    """Return a record's attributes with the plan's placeholder ids replaced and the documented gaps removed."""
    text = json.dumps(thaw(resource.attributes), sort_keys=True)
    for placeholder, real in ids.items():
        text = text.replace(placeholder, real)
    attributes = json.loads(text)
    for kind, name in UNKNOWN_IN_PLAN:
        if resource.kind == kind:
            attributes.pop(name, None)
    if resource.kind == "backup_plan":
        for rule in attributes.get("Rules", []):
            rule.pop("RuleId", None)  # AWS assigns it on create
            rule.pop("ScheduleExpressionTimezone", None)  # moto fills in its default when none is declared
    if resource.kind == "cloudtrail_trail" and attributes.get("AdvancedEventSelectors") == []:
        # moto returns [] for a trail with basic selectors; AWS leaves the key out, which the scanner records as None.
        attributes["AdvancedEventSelectors"] = None
    if "AttachedPolicies" in attributes:
        attributes["AttachedPolicies"] = sorted(attributes["AttachedPolicies"])  # AWS lists them in no set order
    return attributes


def finding_keys(inventory: Inventory, spec) -> Counter:
    """Return (rule id, status, resource) of every finding, naming resources by kind and name."""
    names = {resource.arn: (resource.kind, resource.name) for resource in inventory.resources}
    report = run_checks(inventory, spec, build_matrix(inventory, spec), CHECK_DAY)
    return Counter((f.rule_id, str(f.status), names.get(f.resource.arn, (f.resource.arn, f.resource.name)))
                   for f in report.findings)


# Plan against deployed ------------------------------------------------------------------

def test_plan_source_label(planned):
    assert planned.source == "plan"
    assert planned.customer == "acme"
    assert planned.errors == ()


@pytest.mark.moto_server
def test_plan_names_match(planned, deployed):
    assert sorted(by_name(planned)) == sorted(by_name(deployed))


@pytest.mark.moto_server
def test_plan_arns_match(planned, deployed):
    live = by_name(deployed)
    different = {key: (resource.arn, live[key].arn) for key, resource in by_name(planned).items()
                 if resource.arn != live[key].arn}
    # Only the records named by an id AWS assigns differ.
    assert set(different) == {("kms_key", "alias/pilot/acme"), ("backup_plan", "pilot-acme")}


@pytest.mark.moto_server
def test_plan_regions_and_tags_match(planned, deployed):
    live = by_name(deployed)
    for key, resource in by_name(planned).items():
        assert resource.region == live[key].region, key
        assert dict(resource.tags) == dict(live[key].tags), key


@pytest.mark.moto_server
def test_plan_attributes_match(planned, deployed):
    ids = assigned_ids(planned, deployed)
    live = by_name(deployed)
    for key, resource in by_name(planned).items():
        assert comparable(resource, ids) == comparable(live[key], ids), key


def test_plan_unknowns_listed(planned):
    unknown = {(resource.kind, name) for resource in planned.resources for name in resource.errors}
    assert unknown == UNKNOWN_IN_PLAN
    managed = [r for r in planned.of_kind("iam_policy")]
    assert len(managed) == 4
    assert all("AWS managed policy" in r.errors["Document"] for r in managed)


@pytest.mark.moto_server
def test_plan_findings_match(planned, deployed, spec):
    plan_findings = finding_keys(planned, spec)
    assert sum(plan_findings.values()) > 50
    assert plan_findings == finding_keys(deployed, spec)


def test_plan_declared_at_lines(planned):
    declared_types = {"s3_bucket": "aws.s3.Bucket(", "iam_role": "aws.iam.Role(", "iam_user": "aws.iam.User(",
                      "kms_key": "aws.kms.Key(", "log_group": "aws.cloudwatch.LogGroup(",
                      "backup_vault": "aws.backup.Vault(", "backup_plan": "aws.backup.Plan(",
                      "cloudtrail_trail": "aws.cloudtrail.Trail("}
    for resource in planned.resources:
        if resource.kind == "iam_policy":
            assert resource.declared_at == ""  # attached by ARN, declared by AWS
            continue
        path, line = resource.declared_at.rsplit(":", 1)
        assert path.startswith("infra/components/"), resource.declared_at
        source = (ROOT / path).read_text(encoding="utf-8").splitlines()[int(line) - 1]
        assert declared_types[resource.kind] in source, (resource.name, source)


def test_plan_json_roundtrip(planned, tmp_path):
    path = inventory_io.write(planned, tmp_path / "plan.json")
    assert inventory_io.read(path).to_json() == planned.to_json()


def test_plan_command_writes(tmp_path, capsys):
    code = main(["plan", "acme", "--stack-dir", str(ROOT), "--out", str(tmp_path)])
    output = capsys.readouterr().out
    written = inventory_io.read(tmp_path / "acme" / "plan-inventory.json")
    assert code == 0
    assert written.source == "plan"
    assert "planned acme: 26 resources, 6 values unknown before deploy" in output
    assert "  s3_bucket         3" in output


def test_plan_command_account(tmp_path, capsys):
    code = main(["plan", "acme", "--stack-dir", str(ROOT), "--out", str(tmp_path), "--account-id", "210987654321"])
    written = inventory_io.read(tmp_path / "acme" / "plan-inventory.json")
    assert code == 0
    assert ("s3_bucket", "acme-records-210987654321") in by_name(written)


def test_plan_command_bad_account(tmp_path, capsys):
    with pytest.raises(SystemExit) as raised:
        main(["plan", "acme", "--stack-dir", str(ROOT), "--out", str(tmp_path), "--account-id", "12"])
    assert raised.value.code == 2
    assert "expected a 12-digit AWS account id" in capsys.readouterr().err


# The converter on hand-built resources ---------------------------------------------------

TAGS = {"pilot:customer": "acme", "pilot:store": "records"}


def declared(type_: str, name: str, inputs: dict, dependencies: dict | None = None, outputs: dict | None = None):
    return Registered(type=type_, name=name, inputs=inputs, outputs=outputs or {}, urn=f"urn:test::{name}",
                      dependencies=dependencies or {})


def converted(*resources: Registered) -> Inventory:
    return convert(resources, "acme", ACCOUNT, "eu-west-1", ids_from_aws=True).inventory


def bucket(name: str = "acme-records", tags: object = TAGS) -> Registered:
    return declared("aws:s3/bucket:Bucket", "bucket", {"bucket": name, "tags": tags})


def test_unknown_marker_rejects_use():
    value = Unknown("role.arn")
    for use in (bool, str, lambda v: v == "x", lambda v: v["key"], lambda v: list(v), lambda v: f"{v}"):
        with pytest.raises(UnknownValue):
            use(value)
    assert repr(value) == "<unknown role.arn>"


def test_unknown_policy_makes_inline_unknown():
    role = declared("aws:iam/role:Role", "role", {"name": "acme-recorder", "path": "/pilot/acme/", "tags": TAGS,
                                                  "assumeRolePolicy": json.dumps({"Statement": []})})
    policy = declared("aws:iam/rolePolicy:RolePolicy", "role-access",
                      {"name": "pilot-access", "role": Unknown("role.id"), "policy": Unknown("bucket.arn")},
                      dependencies={"role": ["urn:test::role"]})
    (record,) = converted(role, policy).of_kind("iam_role")
    assert "InlinePolicies" not in record.attributes
    assert record.errors["InlinePolicies"] == "bucket.arn is not known before deploy"
    assert record.known("AssumeRolePolicyDocument")


def test_unknown_bucket_link_by_dependency():
    lifecycle = declared("aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration", "lifecycle",
                         {"bucket": Unknown("bucket.id"), "rules": [
                             {"id": "expire", "status": "Enabled", "filter": {}, "expiration": {"days": 30}}]},
                         dependencies={"bucket": ["urn:test::bucket"]})
    (record,) = converted(bucket(), lifecycle).of_kind("s3_bucket")
    rules = thaw(record.get("LifecycleConfiguration"))["Rules"]
    assert rules[0]["Expiration"] == {"Days": 30}


def test_inline_bucket_setting_unknown():
    inline = declared("aws:s3/bucket:Bucket", "bucket", {"bucket": "acme-records", "tags": TAGS,
                                                         "lifecycleRules": [{"enabled": True, "expirations": []}]})
    (record,) = converted(inline).of_kind("s3_bucket")
    assert "lifecycleRules" in record.errors["LifecycleConfiguration"]
    assert record.get("Versioning") == {}


def test_state_zero_days_unset():
    # A 0 for an unset deleteAfter must not read as 0 days: the rule keeps recovery points forever.
    plan = declared("aws:backup/plan:Plan", "plan", {
        "name": "pilot-acme", "tags": TAGS, "arn": "arn:aws:backup:eu-west-1:123456789012:backup-plan:abc",
        "rules": [{"ruleName": "daily", "targetVaultName": "pilot-acme", "schedule": "cron(0 3 * * ? *)",
                   "lifecycle": {"deleteAfter": 0, "coldStorageAfter": 0}}]})
    (record,) = converted(plan).of_kind("backup_plan")
    assert "Lifecycle" not in thaw(record.get("Rules"))[0]
    assert record.get("BackupPlanId") == "abc"


def test_state_empty_inline_entry():
    role = declared("aws:iam/role:Role", "role", {
        "name": "acme-recorder", "tags": TAGS, "assumeRolePolicy": "{}",
        "inlinePolicies": [{"name": "", "policy": ""}], "managedPolicyArns": []})
    (record,) = converted(role).of_kind("iam_role")
    assert record.get("InlinePolicies") == {}
    assert record.get("AttachedPolicies") == ()


def test_unknown_tags_tenant_error():
    inventory = converted(bucket(tags=Unknown("tags")))
    assert inventory.resources == ()
    expected = ("s3:Bucket: the tags of bucket are not known before deploy, so whether bucket belongs to tenant "
                "acme is unknown")
    assert inventory.errors == (expected,)


def test_other_tenant_left_out():
    inventory = converted(bucket(tags={"pilot:customer": "globex"}))
    assert inventory.resources == ()
    assert inventory.errors == ()


def test_unconverted_type_error():
    group = declared("aws:backup/framework:Framework", "framework", {"name": "f"})
    queue = declared("aws:sqs/queue:Queue", "queue", {"name": "q"})
    inventory = converted(bucket(), group, queue)
    assert len(inventory.errors) == 1
    assert inventory.errors[0].startswith("backup:Framework: framework (aws:backup/framework:Framework)")


def test_shared_attachment_and_managed():
    user = declared("aws:iam/user:User", "user", {"name": "acme-ana", "path": "/pilot/acme/", "tags": TAGS})
    shared = declared("aws:iam/policyAttachment:PolicyAttachment", "attach", {
        "name": "a", "users": ["acme-ana"], "policyArn": "arn:aws:iam::aws:policy/ReadOnlyAccess"})
    key = declared("aws:iam/accessKey:AccessKey", "key", {"user": "acme-ana"})
    inventory = converted(user, shared, key)
    (record,) = inventory.of_kind("iam_user")
    (policy,) = inventory.of_kind("iam_policy")
    assert record.get("AttachedPolicies") == ("arn:aws:iam::aws:policy/ReadOnlyAccess",)
    assert record.get("AccessKeys") == 1
    assert record.get("LoginProfile") is False
    assert policy.errors["Document"].startswith("not known before deploy")
