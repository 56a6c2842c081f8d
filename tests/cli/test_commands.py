"""The pilotctl commands end to end on a private emulator: what a user types, sees and gets."""

from __future__ import annotations

import html
import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from infra.sandbox import emulator as sandbox
from pilotctl.cli import main

ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.moto_server

PEOPLE = ("Ana Silva", "Ben Okafor", "Chloe Martin", "Dev Patel", "Eva Novak", "Farid Haddad", "Grace Lee",
          "Hugo Berg")


@pytest.fixture(scope="module")
def state_dir(tmp_path_factory):
    directory = tmp_path_factory.mktemp("cli-sandbox")
    with sandbox.running(directory):
        yield directory


@pytest.fixture(scope="module")
def demo(state_dir, tmp_path_factory):
    """Run the demo once for the module; return (exit code, output text, output directory)."""
    out = tmp_path_factory.mktemp("demo-out")
    code, text = run_cli(["demo", "--stack-dir", str(ROOT), "--state-dir", str(state_dir), "--out", str(out)])
    return code, text, out


def run_cli(argv, capsys=None) -> tuple[int, str]:
    """Run pilotctl in a subprocess so each call sees a fresh interpreter, as a user's shell would."""
    completed = subprocess.run([sys.executable, "-m", "pilotctl", *argv], capture_output=True, text=True,
                               cwd=ROOT, timeout=300)
    return completed.returncode, completed.stdout + completed.stderr


def test_demo_exit_code(demo):
    code, text, _ = demo
    assert code == 0, text


def test_demo_says_emulated(demo):
    _, text, _ = demo
    assert "EMULATED AWS account" in text
    assert "pulumi up -s acme" in text


def test_demo_writes_files(demo):
    _, _, out = demo
    for customer in ("acme", "globex"):
        for name in ("diagram.svg", "diagram.png", "data-map.md", "inventory.json", "findings.json",
                     "findings.md", "access.csv", "access.json"):
            assert (out / customer / name).stat().st_size > 0, f"{customer}/{name}"


def test_diagram_shows_tenant(demo):
    _, _, out = demo
    svg = html.unescape((out / "acme" / "diagram.svg").read_text())  # dot writes '-' as &#45;
    for name in (*PEOPLE, "recorder", "reporting", "it-admin", "records", "reports", "app-logs",
                 "acme-audit-", "/pilot/acme/audit-trail", "alias/pilot/acme"):
        assert name in svg, name
    assert "AWS Backup vault" in svg
    assert "CloudTrail trail" in svg


def test_data_map_sections(demo):
    _, _, out = demo
    text = (out / "acme" / "data-map.md").read_text()
    for heading in ("What data enters", "Where it is stored", "Who can reach it"):
        assert heading in text
    assert "support@pilot-vendor.example" in text
    assert "2027-07-08" in text


def test_acme_all_pass(demo):
    _, _, out = demo
    findings = json.loads((out / "acme" / "findings.json").read_text())["findings"]
    not_passing = [(f["rule_id"], f["status"], f["message"]) for f in findings if f["status"] != "pass"]
    assert not_passing == []
    assert len(findings) > 20


def globex_findings(out) -> list[dict]:
    return json.loads((out / "globex" / "findings.json").read_text())["findings"]


def test_globex_observer_export(demo):
    _, _, out = demo
    failed = [f for f in globex_findings(out) if f["rule_id"] == "PILOT-ACC-001" and f["status"] == "fail"]
    exports = [f for f in failed if "exports" in f["message"] and "kim.sato" in f["message"]]
    assert exports, failed
    assert "AmazonS3ReadOnlyAccess" in exports[0]["message"]


def test_globex_prefix_lifecycle(demo):
    _, _, out = demo
    failed = [f for f in globex_findings(out) if f["rule_id"] == "PILOT-RET-002" and f["status"] == "fail"]
    assert [f["resource"]["arn"] for f in failed] == ["arn:aws:s3:::globex-sales-123456789012"]
    assert "uploads/" in failed[0]["message"]


def test_globex_noncurrent(demo):
    _, _, out = demo
    failed = [f for f in globex_findings(out) if f["rule_id"] == "PILOT-RET-003" and f["status"] == "fail"]
    assert "arn:aws:s3:::globex-exports-123456789012" in [f["resource"]["arn"] for f in failed]


def test_globex_log_retention(demo):
    _, _, out = demo
    failed = [f for f in globex_findings(out) if f["rule_id"] == "PILOT-RET-006" and f["status"] == "fail"]
    assert len(failed) == 1
    assert "/globex/app-logs" in failed[0]["message"]
    assert "forever" in failed[0]["message"]


def test_check_exit_codes(demo, state_dir):
    code, text = run_cli(["check", "acme", "--sandbox", "--stack-dir", str(ROOT), "--state-dir", str(state_dir),
                          "--out", str(demo[2])])
    assert code == 0, text
    code, text = run_cli(["check", "globex", "--sandbox", "--stack-dir", str(ROOT), "--state-dir",
                          str(state_dir), "--out", str(demo[2])])
    assert code == 1, text
    assert "FAIL" in text


def test_sandbox_up_idempotent(demo, state_dir):
    code, text = run_cli(["sandbox", "up", "acme", "--stack-dir", str(ROOT), "--state-dir", str(state_dir)])
    assert code == 0, text
    assert "0 created, 0 updated, 58 unchanged" in text


def test_access_table(demo, state_dir):
    code, text = run_cli(["access", "acme", "--sandbox", "--stack-dir", str(ROOT), "--state-dir", str(state_dir),
                          "--out", str(demo[2])])
    assert code == 0, text
    lines = text.splitlines()
    header = lines[0]
    (row,) = [line for line in lines if line.split()[:3] == ["grace.lee", "reporting", "reports"]]
    column = {name: header.index(name) for name in ("view", "change", "export", "delete", "admin")}
    assert row[column["export"]:].split()[0] == "yes"
    assert row[column["view"]:column["export"]].strip() == ""
    assert (demo[2] / "acme" / "access.csv").read_text().startswith("person,role,")


@pytest.mark.parametrize("argv, expected", [
    (["check", "nobody"], "Pulumi.nobody.yaml: <file>: invalid value"),
    (["scan", "acme", "--sandbox", "--state-dir", "/nonexistent-pilotctl-state"],
     "no sandbox emulator is running"),
])
def test_bad_input(argv, expected):
    code, text = run_cli(argv)
    assert code == 2
    assert expected in text
    assert "Traceback" not in text
    assert len(text.strip().splitlines()) == 1


def test_invalid_spec_deploys_nothing(tmp_path, state_dir):
    broken = (ROOT / "Pulumi.acme.yaml").read_text().replace("customer: acme", "customer: acme2").replace(
        "role: it-admin}", "role: observer}")
    (tmp_path / "Pulumi.acme2.yaml").write_text(broken)
    code, text = run_cli(["sandbox", "up", "acme2", "--stack-dir", str(tmp_path), "--state-dir", str(state_dir)])
    assert code == 2
    assert text.strip() == ("pilotctl: error: Pulumi.acme2.yaml: pilot:people[7].role: invalid value 'observer'; "
                            "expected a declared role, one of: it-admin, recorder, reporting")
    import boto3
    running = sandbox.status(state_dir)
    s3 = boto3.client("s3", endpoint_url=running.endpoint, region_name="eu-west-1",
                      aws_access_key_id="testing", aws_secret_access_key="testing")
    assert not [b for b in s3.list_buckets()["Buckets"] if b["Name"].startswith("acme2-")]


def test_dot_missing(demo, state_dir, tmp_path):
    inventory = demo[2] / "acme" / "inventory.json"
    env_path = str(tmp_path)  # an empty PATH entry: no dot binary
    completed = subprocess.run(
        [sys.executable, "-m", "pilotctl", "map", "acme", "--inventory", str(inventory), "--stack-dir", str(ROOT),
         "--out", str(tmp_path / "out")],
        capture_output=True, text=True, cwd=ROOT, env={"PATH": env_path, "HOME": str(tmp_path)}, timeout=120)
    assert completed.returncode != 0
    assert "graphviz" in completed.stderr.lower()
    assert "Traceback" not in completed.stderr
    assert shutil.which("dot") is not None
