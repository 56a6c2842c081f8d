"""Drift between acme's plan (the program under mocks) and a deployed copy of it, changed one way per test."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from datamap.drift import Kind, compare
from datamap.inventory import Inventory, Resource, thaw
from datamap.retention import bucket_retention
from datamap.sources.program import plan_inventory
from infra.errors import InputError
from infra.spec import load_stack_file

ROOT = Path(__file__).resolve().parents[2]
KEY_ID = "8c171f4f-210c-43df-8242-9eb10a97ce18"
PLAN_ID = "e38e3b08-10ca-4410-9a6e-5988841eabd7"
KEY_ARN = f"arn:aws:kms:eu-west-1:123456789012:key/{KEY_ID}"
RECORDS = "arn:aws:s3:::acme-records-123456789012"
REPORTS = "arn:aws:s3:::acme-reports-123456789012"
AUDIT = "arn:aws:s3:::acme-audit-123456789012"
RECORDER = "arn:aws:iam::123456789012:role/pilot/acme/acme-recorder"
S3_FULL = "arn:aws:iam::aws:policy/AmazonS3FullAccess"
BACKUP_DOCUMENT = {"Version": "2012-10-17",
                   "Statement": [{"Effect": "Allow", "Action": "backup:StartBackupJob", "Resource": "*"}]}


@pytest.fixture(scope="module")
def spec():
    return load_stack_file(ROOT / "Pulumi.acme.yaml")


@pytest.fixture(scope="module")
def planned(spec) -> Inventory:
    return plan_inventory(spec)


@pytest.fixture(scope="module")
def deployed(planned) -> Inventory:
    """Return the plan as a scan would read it: AWS's ids for the key and backup plan, managed policy documents."""
    text = json.dumps(planned.to_json())
    for record in planned.resources:
        if record.kind == "kms_key":
            text = text.replace(record.arn.rsplit("/", 1)[-1], KEY_ID)
        if record.kind == "backup_plan":
            text = text.replace(record.arn.rsplit(":", 1)[-1], PLAN_ID)
    data = json.loads(text)
    data["source"] = "live"
    for raw in data["resources"]:
        raw.pop("declared_at", None)
        errors = raw.pop("errors", {})
        if "KeyId" in errors:
            raw["attributes"]["KeyId"] = KEY_ID
        if "BackupPlanId" in errors:
            raw["attributes"]["BackupPlanId"] = PLAN_ID
        if "Document" in errors:
            raw["attributes"]["Document"] = BACKUP_DOCUMENT
    return Inventory.from_json(data)


def find(inventory: Inventory, kind: str, name: str) -> Resource:
    return next(r for r in inventory.resources if r.kind == kind and r.name == name)


def edit(inventory: Inventory, kind: str, name: str, *, errors: dict[str, str] | None = None,
         tags: dict[str, str] | None = None, **attributes: Any) -> Inventory:
    """Return a copy with one record's attributes replaced (an attribute named in errors is dropped)."""
    old = find(inventory, kind, name)
    values = {**thaw(old.attributes), **attributes}
    for attribute in errors or {}:
        values.pop(attribute, None)
    new = Resource(kind=old.kind, arn=old.arn, name=old.name, region=old.region,
                   tags=old.tags if tags is None else tags, attributes=values, errors={**old.errors, **(errors or {})})
    return with_resources(inventory, [new if r is old else r for r in inventory.resources])


def with_resources(inventory: Inventory, resources: list[Resource], errors: tuple[str, ...] | None = None) -> Inventory:
    return Inventory(customer=inventory.customer, account_id=inventory.account_id, source=inventory.source,
                     resources=tuple(resources), region=inventory.region,
                     errors=inventory.errors if errors is None else errors)


def rules_of(inventory: Inventory, bucket: str) -> list[dict[str, Any]]:
    return thaw(find(inventory, "s3_bucket", bucket).get("LifecycleConfiguration"))["Rules"]


def test_equal_after_deploy(planned, deployed, spec):
    report = compare(planned, deployed, spec)
    assert report.items == ()


def test_notes_name_managed_policies(planned, deployed, spec):
    notes = compare(planned, deployed, spec).notes
    assert any("AWSBackupServiceRolePolicyForBackup" in note for note in notes)


def test_lifecycle_shortened(planned, deployed, spec):
    rules = rules_of(deployed, "acme-records-123456789012")
    for rule in rules:
        if "Days" in rule.get("Expiration", {}):
            rule["Expiration"]["Days"] = 30
    changed = edit(deployed, "s3_bucket", "acme-records-123456789012", LifecycleConfiguration={"Rules": rules})
    (item,) = compare(planned, changed, spec).items
    assert item.kind is Kind.CHANGED
    assert (item.resource, item.setting) == (RECORDS, "current-version expiration")
    expected = bucket_retention(thaw(find(planned, "s3_bucket", "acme-records-123456789012").attributes)).current
    assert (item.planned, item.deployed) == (str(expected), "30 days")
    assert "store records" in item.message


def _noncurrent(deployed):
    rules = rules_of(deployed, "acme-records-123456789012")
    for rule in rules:
        if "NoncurrentVersionExpiration" in rule:
            rule["NoncurrentVersionExpiration"]["NoncurrentDays"] = 60
    return {"LifecycleConfiguration": {"Rules": rules}}


def _data_events(deployed):
    selectors = thaw(find(deployed, "cloudtrail_trail", "pilot-acme").get("EventSelectors"))
    selectors[0]["DataResources"][0]["Values"] = [f"{RECORDS}/"]
    return {"EventSelectors": selectors}


def _retention(deployed):
    rules = thaw(find(deployed, "backup_plan", "pilot-acme").get("Rules"))
    rules[0]["Lifecycle"]["DeleteAfterDays"] = 35
    return {"Rules": rules}


# The planned value of a setting that the program derives from the pilot spec, so only its difference is checked.
FROM_PLAN = "<from the plan>"

SETTINGS = [
    ("s3_bucket", "acme-records-123456789012", _noncurrent, "noncurrent-version expiration", FROM_PLAN, "60 days"),
    ("s3_bucket", "acme-records-123456789012", lambda d: {"Versioning": {"Status": "Suspended"}}, "versioning",
     "Enabled", "Suspended"),
    ("s3_bucket", "acme-records-123456789012",
     lambda d: {"Encryption": {"Rules": [{"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"}}]}},
     "default encryption", f"aws:kms with key {KEY_ARN}", "AES256"),
    ("s3_bucket", "acme-reports-123456789012", lambda d: {"PublicAccessBlock": {
        "BlockPublicAcls": True, "IgnorePublicAcls": True, "BlockPublicPolicy": True, "RestrictPublicBuckets": False}},
     "public access block RestrictPublicBuckets", True, False),
    ("cloudtrail_trail", "pilot-acme", lambda d: {"IsLogging": False}, "logging (IsLogging)", True, False),
    ("cloudtrail_trail", "pilot-acme", lambda d: {"LogFileValidationEnabled": False}, "log file validation", True,
     False),
    ("cloudtrail_trail", "pilot-acme", _data_events, "data events",
     [f"AWS::S3::Object {RECORDS}/ (All)", f"AWS::S3::Object {REPORTS}/ (All)"], [f"AWS::S3::Object {RECORDS}/ (All)"]),
    ("log_group", "/pilot/acme/app-logs", lambda d: {"retentionInDays": 7}, "retention", FROM_PLAN, "7 days"),
    ("log_group", "/pilot/acme/app-logs", lambda d: {"kmsKeyId": None}, "encryption key", KEY_ARN, "none"),
    ("backup_plan", "pilot-acme", _retention, "rule daily retention (DeleteAfterDays)", FROM_PLAN, "35 days"),
    ("backup_vault", "pilot-acme", lambda d: {"Locked": True, "MinRetentionDays": 7}, "Vault Lock", False, True),
    ("kms_key", "alias/pilot/acme", lambda d: {"KeyRotationEnabled": False}, "key rotation", True, False),
    ("iam_user", "acme-ana.silva", lambda d: {"LoginProfile": True}, "console password", False, True),
]


@pytest.mark.parametrize("kind, name, change, setting, old, new", SETTINGS, ids=[row[3] for row in SETTINGS])
def test_setting_changed_once(planned, deployed, spec, kind, name, change, setting, old, new):
    changed = edit(deployed, kind, name, **change(deployed))
    items = [item for item in compare(planned, changed, spec).items if item.setting == setting]
    assert len(items) == 1
    assert items[0].kind is Kind.CHANGED
    assert items[0].deployed == new
    assert items[0].planned != new
    if old is not FROM_PLAN:
        assert items[0].planned == old


def test_log_group_forever(planned, deployed, spec):
    group = find(deployed, "log_group", "/pilot/acme/app-logs")
    attributes = {key: value for key, value in thaw(group.attributes).items() if key != "retentionInDays"}
    changed = with_resources(deployed, [Resource(kind=group.kind, arn=group.arn, name=group.name, tags=group.tags,
                                                 region=group.region, attributes=attributes)
                                        if r is group else r for r in deployed.resources])
    (item,) = compare(planned, changed, spec).items
    assert (item.setting, item.deployed) == ("retention", "forever")


def test_tag_changed(planned, deployed, spec):
    bucket = find(deployed, "s3_bucket", "acme-reports-123456789012")
    changed = edit(deployed, "s3_bucket", bucket.name, tags={**bucket.tags, "pilot:classification": "internal"})
    (item,) = compare(planned, changed, spec).items
    assert (item.kind, item.setting) == (Kind.CHANGED, "tag pilot:classification")


def test_missing_bucket(planned, deployed, spec):
    changed = with_resources(deployed, [r for r in deployed.resources if r.arn != REPORTS])
    (item,) = compare(planned, changed, spec).items
    assert (item.kind, item.resource) == (Kind.MISSING, REPORTS)
    assert "infra/components/" in item.message


def test_missing_role(planned, deployed, spec):
    changed = with_resources(deployed, [r for r in deployed.resources if r.arn != RECORDER])
    (item,) = compare(planned, changed, spec).items
    assert (item.kind, item.resource) == (Kind.MISSING, RECORDER)
    assert "it can reach" in item.message
    assert "records (view, change)" in item.message


def test_undeclared_bucket(planned, deployed, spec):
    scratch = Resource(kind="s3_bucket", arn="arn:aws:s3:::acme-scratch", name="acme-scratch", region="eu-west-1",
                       tags={"pilot:customer": "acme"}, attributes=thaw(find(deployed, "s3_bucket", "acme-reports-"
                                                                                "123456789012").attributes))
    changed = with_resources(deployed, [*deployed.resources, scratch])
    (item,) = compare(planned, changed, spec).items
    assert (item.kind, item.resource) == (Kind.UNDECLARED, "arn:aws:s3:::acme-scratch")


def _attach_s3_full_access(deployed: Inventory) -> Inventory:
    role = find(deployed, "iam_role", "acme-recorder")
    changed = edit(deployed, "iam_role", role.name, AttachedPolicies=[S3_FULL])
    policy = Resource(kind="iam_policy", arn=S3_FULL, name="AmazonS3FullAccess", attributes={
        "PolicyName": "AmazonS3FullAccess",
        "Document": {"Version": "2012-10-17",
                     "Statement": [{"Effect": "Allow", "Action": ["s3:*", "s3-object-lambda:*"], "Resource": "*"}]}})
    return with_resources(changed, [*changed.resources, policy])


def test_attached_policy_is_access(planned, deployed, spec):
    report = compare(planned, _attach_s3_full_access(deployed), spec)
    assert {item.kind for item in report.items} == {Kind.ACCESS}
    assert sorted(item.resource for item in report.items) == [AUDIT, RECORDS, REPORTS]
    assert not [item for item in report.items if "attached" in item.setting]


def test_attached_policy_message(planned, deployed, spec):
    report = compare(planned, _attach_s3_full_access(deployed), spec)
    (item,) = [item for item in report.items if item.resource == RECORDS]
    assert item.message.startswith("role acme-recorder (assumed by Ana Silva, Ben Okafor")
    assert "gained export, delete and admin on store records" in item.message
    assert f"managed policy {S3_FULL} statement #0 (Allow)" in item.statements
    assert (item.planned, item.deployed) == (["view", "change"], ["view", "change", "export", "delete", "admin"])
    assert "detach-role-policy --role-name acme-recorder" in item.fix


def test_inline_policy_removed(planned, deployed, spec):
    report = compare(planned, edit(deployed, "iam_role", "acme-recorder", InlinePolicies={}), spec)
    assert report.items
    assert {item.kind for item in report.items} == {Kind.ACCESS}
    assert all(" lost " in item.message for item in report.items)
    assert any("lost view and change on store records" in item.message for item in report.items)


def test_policy_edit_outside_tenant(planned, deployed, spec):
    inline = thaw(find(deployed, "iam_role", "acme-recorder").get("InlinePolicies"))
    inline["pilot-access"]["Statement"].append(
        {"Sid": "Elsewhere", "Effect": "Allow", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::other/*"})
    (item,) = compare(planned, edit(deployed, "iam_role", "acme-recorder", InlinePolicies=inline), spec).items
    assert (item.kind, item.setting) == (Kind.CHANGED, "inline policy pilot-access")
    assert "review its statements by hand" in item.message


def test_person_gains_role(planned, deployed, spec):
    admin = "arn:aws:iam::123456789012:role/pilot/acme/acme-it-admin"
    trust = thaw(find(deployed, "iam_role", "acme-it-admin").get("AssumeRolePolicyDocument"))
    trust["Statement"][0]["Principal"]["AWS"].append("arn:aws:iam::123456789012:user/pilot/acme/acme-grace.lee")
    inline = thaw(find(deployed, "iam_user", "acme-grace.lee").get("InlinePolicies"))
    inline["assume-own-role"]["Statement"][0]["Resource"] = [
        "arn:aws:iam::123456789012:role/pilot/acme/acme-reporting", admin]
    changed = edit(edit(deployed, "iam_role", "acme-it-admin", AssumeRolePolicyDocument=trust),
                   "iam_user", "acme-grace.lee", InlinePolicies=inline)
    items = [item for item in compare(planned, changed, spec).items if item.setting.startswith("people who")]
    assert len(items) == 1
    assert items[0].message.startswith("Grace Lee (user acme-grace.lee) can now assume role acme-it-admin")
    assert "trust policy of role acme-it-admin" in items[0].message


def test_key_matched_by_tags(planned, deployed, spec):
    changed = edit(deployed, "kms_key", "alias/pilot/acme", Aliases=["alias/renamed"])
    (item,) = compare(planned, changed, spec).items
    assert (item.kind, item.setting, item.deployed) == (Kind.CHANGED, "aliases", ["alias/renamed"])


def test_key_missing(planned, deployed, spec):
    changed = with_resources(deployed, [r for r in deployed.resources if r.kind != "kms_key"])
    report = compare(planned, changed, spec)
    assert [item.kind for item in report.drift] == [Kind.MISSING]
    (unknown,) = report.unknown
    assert unknown.setting == "references"
    assert "acme-records-123456789012): default encryption" in unknown.message
    assert "role acme-recorder: inline policy pilot-access" in unknown.message


def test_keys_ambiguous(planned, deployed, spec):
    key = find(deployed, "kms_key", "alias/pilot/acme")
    first = edit(deployed, "kms_key", key.name, Aliases=[])
    second = Resource(kind="kms_key", arn=KEY_ARN.replace(KEY_ID, "0" * 8), name="other", tags=key.tags,
                      region=key.region, attributes={**thaw(key.attributes), "Aliases": []})
    report = compare(planned, with_resources(first, [*first.resources, second]), spec)
    assert not [item for item in report.items if item.kind in (Kind.MISSING, Kind.UNDECLARED)]
    assert any("2 deployed records match" in item.message for item in report.unknown)


def test_unread_setting_unknown(planned, deployed, spec):
    changed = edit(deployed, "s3_bucket", "acme-records-123456789012",
                   errors={"LifecycleConfiguration": "s3:GetBucketLifecycleConfiguration: AccessDenied"})
    (item,) = compare(planned, changed, spec).items
    assert (item.kind, item.setting) == (Kind.UNKNOWN, "LifecycleConfiguration")
    assert "AccessDenied" in item.message


def test_failed_listing_unknown(planned, deployed, spec):
    changed = with_resources(deployed, [r for r in deployed.resources if r.arn != REPORTS],
                             errors=("s3:ListBuckets: AccessDenied: Access Denied",))
    (item,) = compare(planned, changed, spec).items
    assert (item.kind, item.resource) == (Kind.UNKNOWN, "tenant acme")
    assert "acme-reports-123456789012" in item.message


def test_unread_inline_policies(planned, deployed, spec):
    changed = edit(deployed, "iam_role", "acme-recorder", errors={"InlinePolicies": "iam:ListRolePolicies: denied"})
    report = compare(planned, changed, spec)
    assert report.drift == ()
    assert report.unknown
    assert all("denied" in item.message for item in report.unknown)


def test_managed_policy_unread(planned, deployed, spec):
    arn = "arn:aws:iam::aws:policy/service-role/AWSBackupServiceRolePolicyForBackup"
    policy = next(r for r in deployed.resources if r.arn == arn)
    changed = edit(deployed, "iam_policy", policy.name, errors={"Document": "iam:GetPolicyVersion: denied"})
    report = compare(planned, changed, spec)
    assert report.drift == ()
    assert any("denied" in item.message for item in report.unknown)


def test_plan_errors_unknown(planned, deployed, spec):
    partial = with_resources(planned, list(planned.resources), errors=("backup:VaultPolicy: not converted",))
    (item,) = compare(partial, deployed, spec).items
    assert (item.kind, item.setting) == (Kind.UNKNOWN, "plan conversion")


def test_other_customer_rejected(planned, deployed, spec):
    other = Inventory(customer="globex", account_id=deployed.account_id, source="live", resources=())
    with pytest.raises(InputError, match="globex"):
        compare(planned, other, spec)


def test_other_account_rejected(planned, deployed, spec):
    other = Inventory(customer="acme", account_id="999999999999", source="live", resources=())
    with pytest.raises(InputError, match="--account-id 999999999999"):
        compare(planned, other, spec)


def test_report_outputs(planned, deployed, spec):
    changed = edit(deployed, "cloudtrail_trail", "pilot-acme", IsLogging=False)
    report = compare(planned, changed, spec)
    assert report.to_json()["counts"]["changed"] == 1
    assert "### changed: arn:aws:cloudtrail:" in report.to_markdown()
    assert "No drift" in compare(planned, deployed, spec).to_markdown()
