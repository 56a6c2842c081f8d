"""``pilotctl iam test`` and ``pilotctl iam simulate`` through the CLI entry point."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from pilotctl.cli import main

EXTRA = Path(__file__).parent / "cases_extra.jsonl"


def write_case(path: Path, **changes) -> Path:
    case = json.loads(EXTRA.read_text(encoding="utf-8").splitlines()[0])
    case.update(changes)
    path.write_text(json.dumps(case) + "\n", encoding="utf-8")
    return path


def test_cases_pass(capsys):
    assert main(["iam", "test", str(EXTRA)]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[-1].endswith(" passed, 0 failed")


def test_case_mismatch(tmp_path, capsys):
    path = write_case(tmp_path / "cases.jsonl", expected="allow", expected_reason="allow")
    assert main(["iam", "test", str(path)]) == 1
    out = capsys.readouterr().out
    assert "FAIL x-kms-01 (line 1): expected allow (allow), got deny (implicit_deny)" in out
    assert "statement: identity_policies[0] statement #0 (Allow)" in out
    assert out.splitlines()[-1] == "0 passed, 1 failed"


def test_case_missing_field(tmp_path, capsys):
    path = tmp_path / "cases.jsonl"
    case = json.loads(EXTRA.read_text(encoding="utf-8").splitlines()[0])
    del case["action"]
    path.write_text(json.dumps(case) + "\n", encoding="utf-8")
    assert main(["iam", "test", str(path)]) == 2
    err = capsys.readouterr().err.strip()
    assert err == f"pilotctl: error: {path}: line 1: action: missing required field"


def test_case_bad_decision(tmp_path, capsys):
    path = write_case(tmp_path / "cases.jsonl", expected="maybe")
    assert main(["iam", "test", str(path)]) == 2
    assert "line 1: expected: invalid value 'maybe'" in capsys.readouterr().err


def test_case_bad_policy(tmp_path, capsys):
    path = write_case(tmp_path / "cases.jsonl", identity_policies=[{"Statement": [{"Effect": "Permit"}]}])
    assert main(["iam", "test", str(path)]) == 2
    assert "line 1: identity_policies[0]: Statement[0]: Effect: invalid value 'Permit'" in capsys.readouterr().err


def test_case_bad_json(tmp_path, capsys):
    path = tmp_path / "cases.jsonl"
    path.write_text("{\n", encoding="utf-8")
    assert main(["iam", "test", str(path)]) == 2
    assert "line 1: invalid JSON" in capsys.readouterr().err


@pytest.fixture
def policies(tmp_path: Path) -> dict[str, str]:
    files = {
        "identity": {"Version": "2012-10-17", "Statement": [
            {"Sid": "Read", "Effect": "Allow", "Action": "s3:Get*", "Resource": "arn:aws:s3:::b/*"}]},
        "bucket": {"Version": "2012-10-17", "Statement": [
            {"Sid": "OnlyOffice", "Effect": "Deny", "Principal": "*", "Action": "s3:*", "Resource": "arn:aws:s3:::b/*",
             "Condition": {"NotIpAddress": {"aws:SourceIp": "203.0.113.0/24"}}}]},
    }
    paths = {}
    for name, document in files.items():
        path = tmp_path / f"{name}.json"
        path.write_text(json.dumps(document), encoding="utf-8")
        paths[name] = str(path)
    return paths


def simulate(policies: dict[str, str], *extra: str) -> list[str]:
    return ["iam", "simulate", "--principal", "arn:aws:iam::111122223333:user/alice", "--action", "s3:GetObject",
            "--resource", "arn:aws:s3:::b/k", "--context", "aws:ResourceAccount=111122223333",
            "--identity-policy", policies["identity"], "--resource-policy", policies["bucket"], *extra]


def test_simulate_allow(policies, capsys):
    assert main(simulate(policies, "--context", "aws:SourceIp=203.0.113.7")) == 0
    out = capsys.readouterr().out
    assert out.startswith("decision: allow (allow)\n")
    assert "statement: identity.json statement Read (Allow): s3:Get* on arn:aws:s3:::b/*" in out


def test_simulate_explicit_deny(policies, capsys):
    assert main(simulate(policies, "--context", "aws:SourceIp=198.51.100.1")) == 0
    out = capsys.readouterr().out
    assert out.startswith("decision: deny (explicit_deny)\n")
    assert "statement: bucket.json statement OnlyOffice (Deny)" in out


def test_simulate_unknown(policies, capsys):
    assert main(simulate(policies, "--unknowable", "aws:SourceIp")) == 0
    out = capsys.readouterr().out
    assert out.startswith("decision: unknown (unknown)\n")
    assert "unknown: aws:SourceIp (NotIpAddress)" in out


def test_simulate_bad_context(policies, capsys):
    assert main(simulate(policies, "--context", "novalue")) == 2
    assert "--context: invalid value 'novalue'; expected KEY=VALUE" in capsys.readouterr().err


def test_simulate_missing_file(policies, capsys):
    args = simulate(policies)
    args[args.index(policies["identity"])] = "/nonexistent/policy.json"
    assert main(args) == 2
    assert "/nonexistent/policy.json: policy file not found" in capsys.readouterr().err
