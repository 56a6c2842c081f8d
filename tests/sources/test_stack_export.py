"""Files from the Pulumi CLI: acme's stack export and preview turned into inventories.

The two files in tests/sources/data are written by hand in the documented formats.
The stack export contains the records bucket with its split settings, the recorder role
with its inline policy, one user, the KMS key (whose policy is a secret) and a log
group. The preview is the same tenant while the records store is being added: the
bucket's ARN, its policy and the role's new inline policy are computed at deploy time.
Variants of both files are built in ``tmp_path`` for secrets, removed resources and
invalid input.
"""

from __future__ import annotations

import copy
import datetime as dt
import json
from pathlib import Path

import pytest

from datamap import inventory as inventory_io
from datamap.access import build_matrix
from datamap.inventory import Inventory, thaw
from datamap.sources.stack_export import SIGNATURE_KEY, load_external, read_preview, read_stack_export
from infra.errors import InputError
from infra.spec import load_stack_file
from pilotctl.cli import main
from policies.engine import run_checks
from policies.findings import Status

ROOT = Path(__file__).resolve().parents[2]
DATA = Path(__file__).resolve().parent / "data"
EXPORT = DATA / "acme-stack-export.json"
PREVIEW = DATA / "acme-preview.json"
CHECK_DAY = dt.date(2027, 2, 1)
ACCOUNT = "123456789012"
KEY_ID = "5f1c2a9e-7b3d-4c8a-9e21-0d6f4b8a3c17"
KEY_ARN = f"arn:aws:kms:eu-west-1:{ACCOUNT}:key/{KEY_ID}"
BUCKET = f"acme-records-{ACCOUNT}"
ARNS = {
    ("s3_bucket", f"arn:aws:s3:::{BUCKET}"),
    ("iam_role", f"arn:aws:iam::{ACCOUNT}:role/pilot/acme/acme-recorder"),
    ("iam_user", f"arn:aws:iam::{ACCOUNT}:user/pilot/acme/acme-ana.silva"),
    ("kms_key", KEY_ARN),
    ("log_group", f"arn:aws:logs:eu-west-1:{ACCOUNT}:log-group:/pilot/acme/app-logs"),
}
KEY_POLICY_SECRET = ("pilot-acme-storage-key.policy is a secret value in the {} file, which pilotctl does not "
                     "decrypt")


@pytest.fixture(scope="module")
def spec():
    return load_stack_file(ROOT / "Pulumi.acme.yaml")


@pytest.fixture(scope="module")
def exported(spec) -> Inventory:
    return read_stack_export(EXPORT, spec)


@pytest.fixture(scope="module")
def previewed(spec) -> Inventory:
    return read_preview(PREVIEW, spec)


def record(inventory: Inventory, kind: str):
    (found,) = inventory.of_kind(kind)
    return found


def findings_about(inventory: Inventory, spec, name: str) -> dict[str, set[Status]]:
    """Return rule id -> the statuses of the findings about the resource named ``name``."""
    report = run_checks(inventory, spec, build_matrix(inventory, spec), CHECK_DAY)
    statuses: dict[str, set[Status]] = {}
    for finding in report.findings:
        if finding.resource.name == name:
            statuses.setdefault(finding.rule_id, set()).add(finding.status)
    return statuses


def write_variant(tmp_path: Path, source: Path, change) -> Path:
    """Write a copy of ``source`` changed by ``change(data)`` and return its path."""
    data = json.loads(source.read_text(encoding="utf-8"))
    change(data)
    path = tmp_path / source.name
    path.write_text(json.dumps(data), encoding="utf-8")
    return path


def export_resource(data: dict, name: str) -> dict:
    return next(r for r in data["deployment"]["resources"] if r["urn"].endswith(f"::{name}"))


# The stack export.

def test_export_kinds_and_arns(exported):
    assert {(r.kind, r.arn) for r in exported.resources} == ARNS


def test_export_metadata(exported):
    assert exported.source == "stack-export"
    assert exported.customer == "acme"
    assert exported.account_id == ACCOUNT
    assert exported.region == "eu-west-1"
    assert exported.taken_at == "2027-01-11T08:03:12.402917Z"
    assert exported.errors == ()


def test_export_bucket_settings(exported):
    bucket = record(exported, "s3_bucket")
    assert bucket.name == BUCKET
    assert bucket.region == "eu-west-1"
    assert dict(bucket.errors) == {}
    assert thaw(bucket.get("Versioning")) == {"Status": "Enabled"}
    assert thaw(bucket.get("LifecycleConfiguration")) == {"Rules": [
        {"ID": "expire-after-90-days", "Status": "Enabled", "Filter": {}, "Expiration": {"Days": 83},
         "NoncurrentVersionExpiration": {"NoncurrentDays": 7},
         "AbortIncompleteMultipartUpload": {"DaysAfterInitiation": 1}},
        {"ID": "remove-expired-delete-markers", "Status": "Enabled", "Filter": {},
         "Expiration": {"ExpiredObjectDeleteMarker": True}}]}
    assert thaw(bucket.get("Encryption")) == {"Rules": [
        {"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "aws:kms", "KMSMasterKeyID": KEY_ARN},
         "BucketKeyEnabled": True}]}
    assert thaw(bucket.get("PublicAccessBlock")) == {"BlockPublicAcls": True, "IgnorePublicAcls": True,
                                                     "BlockPublicPolicy": True, "RestrictPublicBuckets": True}
    assert [s["Sid"] for s in thaw(bucket.get("Policy"))["Statement"]] == ["DenyPlainHttp"]
    assert bucket.get("ReplicationConfiguration") is None
    assert bucket.get("Logging") is None
    assert bucket.tags["pilot:store"] == "records"


def test_export_key_policy_secret(exported):
    key = record(exported, "kms_key")
    assert key.name == "alias/pilot/acme"
    assert key.get("KeyId") == KEY_ID
    assert key.get("KeyRotationEnabled") is True
    assert list(key.get("Aliases")) == ["alias/pilot/acme"]
    assert not key.known("Policy")
    assert dict(key.errors) == {"Policy": KEY_POLICY_SECRET.format("stack")}


def test_export_role_and_user(exported):
    role = record(exported, "iam_role")
    assert role.get("RoleName") == "acme-recorder"
    assert role.get("Path") == "/pilot/acme/"
    assert list(role.get("InlinePolicies")) == ["pilot-access"]
    sids = [s["Sid"] for s in thaw(role.get("InlinePolicies"))["pilot-access"]["Statement"]]
    assert sids == ["AppLogsLogGroup", "AppLogsLogStream", "RecordsBucket", "RecordsObject", "UseTenantKey"]
    assert list(role.get("AttachedPolicies")) == []
    assert role.get("PermissionsBoundary") is None
    user = record(exported, "iam_user")
    assert list(user.get("InlinePolicies")) == ["assume-own-role"]
    assert list(user.get("Groups")) == []
    assert user.get("LoginProfile") is False
    assert user.get("AccessKeys") == 0
    assert user.tags["pilot:person"] == "ana.silva"


def test_export_log_group(exported):
    group = record(exported, "log_group")
    assert group.get("logGroupName") == "/pilot/acme/app-logs"
    assert group.get("retentionInDays") == 30
    assert group.get("kmsKeyId") == KEY_ARN


def test_export_without_spec(exported):
    inventory = read_stack_export(EXPORT)
    assert inventory.customer == "acme"
    assert inventory.region == "eu-west-1"
    assert [r.to_json() for r in inventory.resources] == [r.to_json() for r in exported.resources]


def test_export_secret_key_findings_unknown(exported, spec):
    statuses = findings_about(exported, spec, "alias/pilot/acme")
    assert statuses["PILOT-IDN-003"] == {Status.UNKNOWN}
    assert all(found == {Status.UNKNOWN} for found in statuses.values()), statuses
    assert findings_about(exported, spec, BUCKET)["PILOT-PRO-003"] == {Status.PASS}


def test_ciphertext_not_written(exported, tmp_path):
    ciphertext = export_resource(json.loads(EXPORT.read_text()), "pilot-acme-storage-key")["outputs"]["policy"]
    written = inventory_io.write(exported, tmp_path / "inventory.json").read_text()
    assert ciphertext["ciphertext"] not in written
    assert "Statement" not in json.dumps(thaw(record(exported, "kms_key").attributes))


def test_plaintext_secret_not_written(spec, tmp_path):
    marker = "PLAINTEXT-MUST-NOT-LEAK"
    plaintext = json.dumps(json.dumps({"Version": "2012-10-17", "Statement": [{"Sid": marker}]}))

    def show_secrets(data):
        key = export_resource(data, "pilot-acme-storage-key")
        for bag in ("inputs", "outputs"):
            key[bag]["policy"] = {SIGNATURE_KEY: "1b47061264138c4ac30d75fd1eb44270", "plaintext": plaintext}

    inventory = read_stack_export(write_variant(tmp_path, EXPORT, show_secrets), spec)
    assert marker not in json.dumps(inventory.to_json())
    assert dict(record(inventory, "kms_key").errors) == {"Policy": KEY_POLICY_SECRET.format("stack")}


def test_secret_input_hides_output(spec, tmp_path):
    def plain_output(data):
        key = export_resource(data, "pilot-acme-storage-key")
        key["outputs"]["policy"] = json.dumps({"Version": "2012-10-17", "Statement": [{"Sid": "OutputCopy"}]})

    inventory = read_stack_export(write_variant(tmp_path, EXPORT, plain_output), spec)
    assert "OutputCopy" not in json.dumps(inventory.to_json())
    assert not record(inventory, "kms_key").known("Policy")


def test_secret_tag_unknown(spec, tmp_path):
    secret = {SIGNATURE_KEY: "1b47061264138c4ac30d75fd1eb44270", "ciphertext": "v1:c2VjcmV0LXRhZw=="}

    def secret_person(data):
        user = export_resource(data, "pilot-acme-access-user-ana.silva")
        user["inputs"]["tags"]["pilot:person"] = secret
        user["outputs"]["tags"]["pilot:person"] = secret
        user["outputs"]["tagsAll"]["pilot:person"] = secret

    inventory = read_stack_export(write_variant(tmp_path, EXPORT, secret_person), spec)
    user = record(inventory, "iam_user")
    assert "pilot:person" not in user.tags
    assert dict(user.errors) == {"tags": "the tags pilot:person of pilot-acme-access-user-ana.silva are secret "
                                         "values in the stack file, which pilotctl does not decrypt"}
    assert Status.PASS not in findings_about(inventory, spec, "acme-ana.silva")["PILOT-IDN-002"]


def test_pending_operation_error(spec, tmp_path):
    def creating(data):
        bucket = copy.deepcopy(export_resource(data, "pilot-acme-storage-records"))
        bucket["urn"] = bucket["urn"].replace("records", "reports")
        data["deployment"]["pending_operations"] = [{"resource": bucket, "type": "creating"}]

    inventory = read_stack_export(write_variant(tmp_path, EXPORT, creating), spec)
    assert inventory.errors == ("s3:Bucket: the engine was creating pilot-acme-storage-reports (aws:s3/bucket:Bucket) "
                                "when the state was written, so the account may hold a version of it that the file "
                                "does not show",)


# The preview.

def test_preview_kinds_and_arns(previewed):
    assert {(r.kind, r.arn) for r in previewed.resources} == ARNS
    assert previewed.source == "preview"
    assert previewed.account_id == ACCOUNT


def test_preview_unknown_values(previewed):
    bucket = record(previewed, "s3_bucket")
    assert dict(bucket.errors) == {"Policy": "pilot-acme-storage-records-policy.policy is not known before deploy"}
    assert thaw(bucket.get("Versioning")) == {"Status": "Enabled"}
    role = record(previewed, "iam_role")
    assert dict(role.errors) == {
        "InlinePolicies": "pilot-acme-access-role-recorder-access.policy is not known before deploy"}
    key = record(previewed, "kms_key")
    assert dict(key.errors) == {"Policy": KEY_POLICY_SECRET.format("preview")}
    assert key.get("KeyId") == KEY_ID


def test_preview_findings_unknown(previewed, spec):
    bucket = findings_about(previewed, spec, BUCKET)
    assert bucket["PILOT-PRO-003"] == {Status.UNKNOWN}
    assert bucket["PILOT-IDN-003"] == {Status.UNKNOWN}
    assert findings_about(previewed, spec, "alias/pilot/acme")["PILOT-IDN-003"] == {Status.UNKNOWN}
    inline = findings_about(previewed, spec, "role acme-recorder inline policies")
    assert inline["PILOT-ACC-005"] == {Status.UNKNOWN}
    report = run_checks(previewed, spec, build_matrix(previewed, spec), CHECK_DAY)
    ana = [f for f in report.findings if f.rule_id == "PILOT-ACC-001" and f.resource.name == "store records"
           and "(ana.silva)" in f.message]
    assert [f.status for f in ana] == [Status.UNKNOWN]


@pytest.mark.parametrize("op", ["delete", "delete-replaced", "discard"])
def test_preview_leaves_out_deleted(spec, tmp_path, op):
    def delete_old_bucket(data):
        step = copy.deepcopy(next(s for s in data["steps"] if s["op"] == "create"))
        state = step["newState"]
        state["urn"] = step["urn"] = step["urn"].replace("records", "old-records")
        state["inputs"]["bucket"] = state["outputs"]["bucket"] = f"acme-old-records-{ACCOUNT}"
        # A removing step is left out whether or not it carries a newState.
        data["steps"] += [{**step, "op": op, "oldState": state}, {"op": op, "urn": step["urn"], "oldState": state}]
        data["changeSummary"][op] = 2

    inventory = read_preview(write_variant(tmp_path, PREVIEW, delete_old_bucket), spec)
    assert {(r.kind, r.arn) for r in inventory.resources} == ARNS


def test_preview_without_sames(spec, tmp_path):
    def changes_only(data):
        data["steps"] = [step for step in data["steps"] if step["op"] != "same"]

    path = write_variant(tmp_path, PREVIEW, changes_only)
    with pytest.raises(InputError) as raised:
        read_preview(path, spec)
    assert str(raised.value) == (f"{path}: steps: 11 of the 11 unchanged resources are not listed; expected every "
                                 "resource: run `pulumi preview --json --show-sames`")


def test_preview_failed(spec, tmp_path):
    def failed(data):
        data["diagnostics"] = [{"message": "warning: region is deprecated\n", "severity": "warning"},
                               {"urn": data["steps"][9]["urn"], "severity": "error",
                                "message": "error: creating S3 Bucket: AccessDenied\n  status code: 403"}]

    path = write_variant(tmp_path, PREVIEW, failed)
    with pytest.raises(InputError) as raised:
        read_preview(path, spec)
    assert str(raised.value) == (f"{path}: diagnostics[1]: the preview failed (error: creating S3 Bucket: "
                                 "AccessDenied); expected a preview that succeeded")


# Invalid files.

EXPORT_EXPECTED = "expected the output of `pulumi stack export`"
INVALID = [
    ("not-json", "stack-export", "{",
     f"line 1: invalid JSON (Expecting property name enclosed in double quotes); {EXPORT_EXPECTED}"),
    ("list", "stack-export", "[]", f"top level: invalid value of type list; expected an object, the output of "
                                   "`pulumi stack export`"),
    ("version-2", "stack-export", '{"version": 2, "deployment": {}}',
     "version: invalid value 2; expected 3 or 4, the deployment format that `pulumi stack export` writes"),
    ("no-version", "stack-export", '{"deployment": {}}',
     "version: missing; expected 3 or 4, the deployment format that `pulumi stack export` writes"),
    ("no-deployment", "stack-export", '{"version": 3}',
     "deployment: missing; expected the object with the stack's resources"),
    ("resources-object", "stack-export", '{"version": 3, "deployment": {"resources": {}}}',
     "deployment.resources: invalid value of type dict; expected a list"),
    ("no-urn", "stack-export", '{"version": 3, "deployment": {"resources": [{"type": "aws:s3/bucket:Bucket"}]}}',
     "deployment.resources[0].urn: missing; expected the resource's URN"),
    ("inputs-list", "stack-export",
     '{"version": 3, "deployment": {"resources": [{"urn": "urn:pulumi:a::p::t::n", "type": "t", "inputs": []}]}}',
     "deployment.resources[0].inputs: invalid value of type list; expected an object"),
    ("preview-as-export", "stack-export", '{"steps": [], "changeSummary": {}}',
     "version: missing; expected 3 or 4 (this file looks like the output of `pulumi preview --json`: use "
     "--preview)"),
    ("export-as-preview", "preview", '{"version": 3, "deployment": {}}',
     "steps: missing; expected the steps of `pulumi preview --json` (this file looks like the output of `pulumi "
     "stack export`: use --stack-export)"),
    ("no-summary", "preview", '{"steps": []}',
     "changeSummary: missing; expected the summary that a finished `pulumi preview --json` writes"),
    ("no-op", "preview", '{"steps": [{"urn": "urn:pulumi:a::p::t::n"}], "changeSummary": {}}',
     'steps[0].op: missing; expected the step\'s operation, such as "create"'),
]


@pytest.mark.parametrize(("case", "kind", "text", "message"), INVALID, ids=[case[0] for case in INVALID])
def test_invalid_file(tmp_path, case, kind, text, message):
    path = tmp_path / f"{case}.json"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(InputError) as raised:
        load_external(path, kind, None)
    assert str(raised.value) == f"{path}: {message}"


def test_missing_file(tmp_path):
    with pytest.raises(InputError) as raised:
        read_stack_export(tmp_path / "absent.json")
    assert str(raised.value) == f"{tmp_path / 'absent.json'}: file not found"


def test_other_tenant_rejected():
    globex = load_stack_file(ROOT / "Pulumi.globex.yaml")
    with pytest.raises(InputError) as raised:
        read_stack_export(EXPORT, globex)
    assert str(raised.value) == (f"{EXPORT}: no resource is tagged pilot:customer=globex; expected the stack of "
                                 "tenant globex (resources per tagged customer: acme (5))")


def test_load_external_kinds(exported, previewed, spec):
    assert load_external(EXPORT, "stack-export", spec).resources == exported.resources
    assert load_external(PREVIEW, "preview", spec).resources == previewed.resources
    with pytest.raises(ValueError):
        load_external(EXPORT, "plan", spec)


# The import command.

def test_import_then_check(exported, tmp_path, capsys):
    assert main(["import", "acme", "--stack-export", str(EXPORT), "--stack-dir", str(ROOT),
                 "--out", str(tmp_path)]) == 0
    written = tmp_path / "acme" / "inventory.json"
    assert capsys.readouterr().out.startswith(f"imported acme from {EXPORT} (stack-export): 5 resources, "
                                              f"1 values unknown -> {written}")
    assert inventory_io.read(written).resources == exported.resources

    # The trail and the reports bucket are not in the file, so some checks fail and the exit code is 1.
    assert main(["check", "acme", "--inventory", str(written), "--stack-dir", str(ROOT),
                 "--out", str(tmp_path)]) == 1
    findings = json.loads((tmp_path / "acme" / "findings.json").read_text())["findings"]
    key = {f["status"] for f in findings if f["resource"]["name"] == "alias/pilot/acme"}
    assert key == {"unknown"}


def test_import_preview(previewed, tmp_path):
    assert main(["import", "acme", "--preview", str(PREVIEW), "--stack-dir", str(ROOT),
                 "--out", str(tmp_path)]) == 0
    assert inventory_io.read(tmp_path / "acme" / "inventory.json").resources == previewed.resources


def test_import_invalid_file(tmp_path, capsys):
    path = tmp_path / "state.json"
    path.write_text('{"version": 2}', encoding="utf-8")
    assert main(["import", "acme", "--stack-export", str(path), "--stack-dir", str(ROOT),
                 "--out", str(tmp_path)]) == 2
    assert capsys.readouterr().err == (f"pilotctl: error: {path}: version: invalid value 2; expected 3 or 4, the "
                                       "deployment format that `pulumi stack export` writes\n")
    assert not (tmp_path / "acme" / "inventory.json").exists()


@pytest.mark.parametrize("files", [[], ["--stack-export", str(EXPORT), "--preview", str(PREVIEW)]],
                         ids=["neither", "both"])
def test_import_needs_one_file(files, tmp_path):
    with pytest.raises(SystemExit) as raised:
        main(["import", "acme", *files, "--stack-dir", str(ROOT), "--out", str(tmp_path)])
    assert raised.value.code == 2
