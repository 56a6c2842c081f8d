"""``pilotctl drift`` on a private emulator: no drift right after deploy, then each change to the account once.

Most runs compare an inventory that the test scans from the emulator (``--inventory``);
``test_sandbox_option`` lets the command scan the emulator itself.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import boto3
import pytest

from datamap import inventory as inventory_io
from infra.sandbox import emulator as sandbox
from infra.sandbox.deploy import deploy
from infra.spec import load_stack_file
from pilotctl import workflow

ROOT = Path(__file__).resolve().parents[2]
ACCOUNT = "123456789012"
RECORDS = f"arn:aws:s3:::acme-records-{ACCOUNT}"
REPORTS = f"arn:aws:s3:::acme-reports-{ACCOUNT}"
AUDIT = f"arn:aws:s3:::acme-audit-{ACCOUNT}"
SCRATCH = f"acme-scratch-{ACCOUNT}"
TRAIL = f"arn:aws:cloudtrail:eu-west-1:{ACCOUNT}:trail/pilot-acme"
pytestmark = pytest.mark.moto_server


@pytest.fixture(scope="module")
def tenant(tmp_path_factory):
    """Deploy acme into an emulator of its own; yield (state directory, endpoint)."""
    state_dir = tmp_path_factory.mktemp("drift-sandbox")
    with sandbox.running(state_dir) as emulator:
        deploy(load_stack_file(ROOT / "Pulumi.acme.yaml"), emulator.endpoint)
        yield state_dir, emulator.endpoint


def run_drift(state_dir: Path, endpoint: str, out: Path, *options: str) -> tuple[int, str]:
    command = [sys.executable, "-m", "pilotctl", "drift", "acme", "--stack-dir", str(ROOT), "--state-dir",
               str(state_dir), "--out", str(out), *options]
    completed = subprocess.run(command, capture_output=True, text=True, cwd=ROOT, timeout=300,
                               env=sandbox.subprocess_env(endpoint, region="eu-west-1"))
    return completed.returncode, completed.stdout + completed.stderr


def scan_to(endpoint: str, directory: Path) -> Path:
    """Scan acme from the emulator into directory/inventory.json."""
    return inventory_io.write(workflow.scan("acme", "eu-west-1", endpoint), directory / "inventory.json")


@pytest.fixture(scope="module")
def after_deploy(tenant, tmp_path_factory):
    """Run drift on the freshly deployed tenant; return (exit code, output, out directory, scanned inventory)."""
    state_dir, endpoint = tenant
    out = tmp_path_factory.mktemp("drift-clean")
    inventory = scan_to(endpoint, tmp_path_factory.mktemp("drift-inventory"))
    code, text = run_drift(state_dir, endpoint, out, "--inventory", str(inventory))
    return code, text, out, inventory


@pytest.fixture(scope="module")
def after_changes(tenant, after_deploy, tmp_path_factory):
    """Change the account by hand, then run drift; return (exit code, output, drift.json items)."""
    state_dir, endpoint = tenant
    session = boto3.session.Session(aws_access_key_id="testing", aws_secret_access_key="testing",
                                    region_name="eu-west-1")
    iam, s3 = session.client("iam", endpoint_url=endpoint), session.client("s3", endpoint_url=endpoint)
    cloudtrail = session.client("cloudtrail", endpoint_url=endpoint)

    iam.attach_role_policy(RoleName="acme-recorder", PolicyArn="arn:aws:iam::aws:policy/AmazonS3FullAccess")
    rules = s3.get_bucket_lifecycle_configuration(Bucket=f"acme-records-{ACCOUNT}")["Rules"]
    for rule in rules:
        if "Days" in rule.get("Expiration", {}):
            rule["Expiration"]["Days"] = 30
    s3.put_bucket_lifecycle_configuration(Bucket=f"acme-records-{ACCOUNT}", LifecycleConfiguration={"Rules": rules})
    cloudtrail.stop_logging(Name="pilot-acme")
    s3.create_bucket(Bucket=SCRATCH, CreateBucketConfiguration={"LocationConstraint": "eu-west-1"})
    s3.put_bucket_tagging(Bucket=SCRATCH, Tagging={"TagSet": [{"Key": "pilot:customer", "Value": "acme"}]})

    out = tmp_path_factory.mktemp("drift-changed")
    inventory = scan_to(endpoint, out)
    code, text = run_drift(state_dir, endpoint, out, "--inventory", str(inventory))
    items = json.loads((out / "acme" / "drift.json").read_text())["items"]
    return code, text, items


def test_clean_exit_code(after_deploy):
    code, text, _, _ = after_deploy
    assert code == 0, text


def test_clean_no_items(after_deploy):
    _, text, out, _ = after_deploy
    report = json.loads((out / "acme" / "drift.json").read_text())
    assert report["items"] == [], text
    assert "0 differences, 0 not compared" in text


def test_clean_markdown(after_deploy):
    _, _, out, _ = after_deploy
    assert "No drift" in (out / "acme" / "drift.md").read_text()


def test_changed_exit_code(after_changes):
    code, text, _ = after_changes
    assert code == 1, text


def test_changes_counted_once(after_changes):
    _, text, items = after_changes
    found = sorted((item["kind"], item["resource"], item["setting"]) for item in items)
    assert found == sorted([
        ("access", AUDIT, "capabilities of role acme-recorder"),
        ("access", RECORDS, "capabilities of role acme-recorder"),
        ("access", REPORTS, "capabilities of role acme-recorder"),
        ("changed", RECORDS, "current-version expiration"),
        ("changed", TRAIL, "logging (IsLogging)"),
        ("undeclared", f"arn:aws:s3:::{SCRATCH}", ""),
    ]), text


def test_access_message(after_changes):
    _, _, items = after_changes
    (item,) = [i for i in items if i["kind"] == "access" and i["resource"] == RECORDS]
    assert "role acme-recorder (assumed by Ana Silva" in item["message"]
    assert "gained export, delete and admin on store records" in item["message"]
    assert "AmazonS3FullAccess statement #0 (Allow)" in item["message"]


def test_lifecycle_values(after_changes):
    _, _, items = after_changes
    (item,) = [i for i in items if i["setting"] == "current-version expiration"]
    assert item["deployed"] == "30 days"
    assert item["planned"].endswith(" days")
    assert item["planned"] != "30 days"


def test_trail_fix(after_changes):
    _, _, items = after_changes
    (item,) = [i for i in items if i["resource"] == TRAIL]
    assert "aws cloudtrail start-logging --name pilot-acme" in item["fix"]


def test_undeclared_reach(after_changes):
    _, _, items = after_changes
    (item,) = [i for i in items if i["kind"] == "undeclared"]
    assert "role acme-recorder (view, change, export, delete, admin)" in item["message"]


def test_sandbox_option(tenant, after_changes, tmp_path):
    state_dir, endpoint = tenant
    code, text = run_drift(state_dir, endpoint, tmp_path, "--sandbox")
    assert code == 1, text
    items = json.loads((tmp_path / "acme" / "drift.json").read_text())["items"]
    assert len(items) == len(after_changes[2])


def _with_unread_lifecycle(saved: Path, target: Path) -> Path:
    data = json.loads(saved.read_text())
    for record in data["resources"]:
        if record["arn"] == RECORDS:
            del record["attributes"]["LifecycleConfiguration"]
            record.setdefault("errors", {})["LifecycleConfiguration"] = "AccessDenied: Access Denied"
    target.write_text(json.dumps(data))
    return target


def test_unknown_exit_code(tenant, after_deploy, tmp_path):
    state_dir, endpoint = tenant
    inventory = _with_unread_lifecycle(after_deploy[3], tmp_path / "inventory.json")
    code, text = run_drift(state_dir, endpoint, tmp_path / "out", "--inventory", str(inventory))
    assert code == 1, text
    assert "Not compared (unknown, so not a pass) (1)" in text


def test_allow_unknown(tenant, after_deploy, tmp_path):
    state_dir, endpoint = tenant
    inventory = _with_unread_lifecycle(after_deploy[3], tmp_path / "inventory.json")
    code, text = run_drift(state_dir, endpoint, tmp_path / "out", "--inventory", str(inventory), "--allow-unknown")
    assert code == 0, text


def test_missing_inventory_file(tenant, tmp_path):
    state_dir, endpoint = tenant
    code, text = run_drift(state_dir, endpoint, tmp_path / "out", "--inventory", str(tmp_path / "absent.json"))
    assert code == 2, text
    assert "inventory file not found" in text
