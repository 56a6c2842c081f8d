"""Runner tests with a stand-in executable: how checkov is called and which outputs are errors.

The stand-in is a shell script that records its arguments and environment and prints
a prepared report, so these tests need no checkov install.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from infra.errors import PilotError
from infra.sandbox.program import Registered
from policies.checkov import runner
from policies.checkov.plan import to_plan
from policies.checkov.runner import (
    CheckovError,
    CheckovNotInstalledError,
    checkov_environment,
    parse_report,
    run_checkov,
)


def bucket(name: str) -> Registered:
    return Registered(type="aws:s3/bucket:Bucket", name=name, inputs={"bucket": name},
                      urn=f"urn:pulumi:t::p::aws:s3/bucket:Bucket::{name}")


def report(records: list[dict], resource_count: int) -> dict:
    return {
        "check_type": "terraform_plan",
        "results": {"passed_checks": records, "failed_checks": [], "skipped_checks": [], "parsing_errors": []},
        "summary": {"passed": len(records), "failed": 0, "skipped": 0, "parsing_errors": 0,
                    "resource_count": resource_count, "checkov_version": "3.3.30"},
    }


def record(check_id: str, address: str) -> dict:
    return {"check_id": check_id, "check_name": f"name of {check_id}", "resource": address,
            "resource_address": address, "check_result": {"result": "PASSED"}, "guideline": None, "details": []}


def fake_checkov(tmp_path: Path, stdout: str, exit_code: int = 0, stderr: str = "") -> Path:
    """Write a stand-in checkov that saves its arguments and environment, then prints ``stdout``."""
    (tmp_path / "stdout.txt").write_text(stdout, encoding="utf-8")
    (tmp_path / "stderr.txt").write_text(stderr, encoding="utf-8")
    script = tmp_path / "checkov"
    script.write_text(
        "#!/usr/bin/env bash\n"
        f'printf "%s\\n" "$@" > "{tmp_path}/args.txt"\n'
        f'env > "{tmp_path}/env.txt"\n'
        f'cat "{tmp_path}/stdout.txt"\n'
        f'cat "{tmp_path}/stderr.txt" >&2\n'
        f"exit {exit_code}\n", encoding="utf-8")
    script.chmod(0o755)
    return script


def test_missing_checkov_names_setup_script(tmp_path: Path):
    with pytest.raises(CheckovNotInstalledError) as caught:
        run_checkov([bucket("data")], tmp_path, executable=tmp_path / "missing" / "checkov")
    assert "scripts/setup-checkov" in str(caught.value)
    assert isinstance(caught.value, PilotError)


def test_runner_passes_offline_flags(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("BC_API_KEY", "not-a-real-key")
    stdout = json.dumps(report([record("CKV_PILOT_1", "aws_s3_bucket.data")], resource_count=1))
    executable = fake_checkov(tmp_path, stdout)
    result = run_checkov([bucket("data")], tmp_path / "work", executable=executable)

    args = (tmp_path / "args.txt").read_text(encoding="utf-8").split("\n")
    assert args[args.index("--framework") + 1] == "terraform_plan"
    assert "--skip-download" in args
    assert args[args.index("-o") + 1] == "json"
    assert args[args.index("--external-checks-dir") + 1] == str(runner.CUSTOM_CHECKS_DIR)
    assert args[args.index("-f") + 1] == str(tmp_path / "work" / "plan.json")
    env = (tmp_path / "env.txt").read_text(encoding="utf-8").splitlines()
    assert "BC_SKIP_MAPPING=TRUE" in env
    assert not any(line.startswith("BC_API_KEY=") for line in env)
    assert result.records[0].pulumi_name == "data"


def test_runner_traces_records(tmp_path: Path):
    records = [record("CKV_PILOT_1", "aws_s3_bucket.data"), record("CKV_AWS_21", "aws_s3_bucket.data")]
    executable = fake_checkov(tmp_path, json.dumps(report(records, resource_count=1)))
    result = run_checkov([bucket("data")], tmp_path / "work", executable=executable)
    assert result.results("CKV_AWS_21") == {"aws_s3_bucket.data": "passed"}
    assert [r.check_id for r in result.for_resource("data")] == ["CKV_PILOT_1", "CKV_AWS_21"]
    assert result.records[1].urn == "urn:pulumi:t::p::aws:s3/bucket:Bucket::data"
    assert result.failed() == ()
    assert result.checkov_version == "3.3.30"


def test_runner_rejects_crash(tmp_path: Path):
    executable = fake_checkov(tmp_path, "", exit_code=1, stderr="Traceback\nValueError: plan is broken")
    with pytest.raises(CheckovError) as caught:
        run_checkov([bucket("data")], tmp_path / "work", executable=executable)
    assert "exit code 1" in str(caught.value)
    assert "ValueError: plan is broken" in str(caught.value)


def test_runner_rejects_logged_errors(tmp_path: Path):
    stdout = json.dumps(report([record("CKV_PILOT_1", "aws_s3_bucket.data")], resource_count=1))
    stderr = "2026-01-01 10:00:00,000 [MainThread  ] [ERROR]  Failed to run check CKV_AWS_21 on /plan.json\n"
    executable = fake_checkov(tmp_path, stdout, stderr=stderr)
    with pytest.raises(CheckovError) as caught:
        run_checkov([bucket("data")], tmp_path / "work", executable=executable)
    assert "Failed to run check CKV_AWS_21" in str(caught.value)


def test_runner_rejects_text_output(tmp_path: Path):
    executable = fake_checkov(tmp_path, "Passed checks: 3, Failed checks: 0\n")
    with pytest.raises(CheckovError) as caught:
        run_checkov([bucket("data")], tmp_path / "work", executable=executable)
    assert "not JSON" in str(caught.value)


def test_runner_rejects_partial_scan(tmp_path: Path):
    stdout = json.dumps(report([record("CKV_PILOT_1", "aws_s3_bucket.one")], resource_count=1))
    executable = fake_checkov(tmp_path, stdout)
    with pytest.raises(CheckovError) as caught:
        run_checkov([bucket("one"), bucket("two")], tmp_path / "work", executable=executable)
    assert "scanned 1 resources, but the plan has 2" in str(caught.value)


def test_runner_rejects_missing_custom_results(tmp_path: Path):
    stdout = json.dumps(report([record("CKV_AWS_21", "aws_s3_bucket.data")], resource_count=1))
    executable = fake_checkov(tmp_path, stdout)
    with pytest.raises(CheckovError) as caught:
        run_checkov([bucket("data")], tmp_path / "work", executable=executable)
    assert "CKV_PILOT_1 returned no result on aws_s3_bucket.data" in str(caught.value)


def test_runner_rejects_empty_program(tmp_path: Path):
    executable = fake_checkov(tmp_path, "{}")
    queue = Registered(type="aws:sqs/queue:Queue", name="jobs", inputs={})
    with pytest.raises(CheckovError) as caught:
        run_checkov([queue], tmp_path / "work", executable=executable)
    assert "nothing to check" in str(caught.value)


def test_parse_report_rejects_empty_scan():
    # What checkov 3.3.30 prints when it finds no resources: a summary without results.
    empty = {"passed": 0, "failed": 0, "skipped": 0, "parsing_errors": 0, "resource_count": 0,
             "checkov_version": "3.3.30"}
    with pytest.raises(CheckovError) as caught:
        parse_report(json.dumps(empty))
    assert "no terraform_plan results" in str(caught.value)


def test_parse_report_picks_plan_from_list():
    plan_report = report([], resource_count=0)
    other = {"check_type": "secrets", "results": {}, "summary": {}}
    assert parse_report(json.dumps([other, plan_report]))["check_type"] == "terraform_plan"


def test_runner_rejects_parsing_errors(tmp_path: Path):
    broken = report([], resource_count=1)
    broken["results"]["parsing_errors"] = ["/plan.json"]
    executable = fake_checkov(tmp_path, json.dumps(broken))
    with pytest.raises(CheckovError) as caught:
        run_checkov([bucket("data")], tmp_path / "work", executable=executable)
    assert "could not parse /plan.json" in str(caught.value)


def test_environment_drops_platform_settings():
    env = checkov_environment({"BC_API_KEY": "k", "PRISMA_API_URL": "u", "CKV_FRAMEWORK": "all",
                               "NO_PROXY": "*", "PATH": "/usr/bin"})
    assert "BC_API_KEY" not in env
    assert "PRISMA_API_URL" not in env
    assert "CKV_FRAMEWORK" not in env
    assert "NO_PROXY" not in env
    assert env["PATH"] == "/usr/bin"
    assert env["BC_SKIP_MAPPING"] == "TRUE"
    assert env["CKV_SKIP_PACKAGE_UPDATE_CHECK"] == "true"
    assert env["HTTPS_PROXY"].startswith("http://127.0.0.1:")


def test_plan_written_for_checkov(tmp_path: Path):
    stdout = json.dumps(report([record("CKV_PILOT_1", "aws_s3_bucket.data")], resource_count=1))
    executable = fake_checkov(tmp_path, stdout)
    result = run_checkov([bucket("data")], tmp_path / "work", executable=executable)
    assert json.loads(result.plan_path.read_text(encoding="utf-8")) == to_plan([bucket("data")]).document
