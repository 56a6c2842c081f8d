"""The scheduled compliance workflow: triggers, permissions, steps and the documented command."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
WORKFLOW = ROOT / ".github" / "workflows" / "pilot-compliance.yml"
DOC = ROOT / "docs" / "scheduling.md"
COMMAND = "uv run pilotctl scan --all --format sarif --fail-on high"


@pytest.fixture(scope="module")
def workflow() -> dict:
    return yaml.safe_load(WORKFLOW.read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def steps(workflow: dict) -> list[dict]:
    return workflow["jobs"]["scan"]["steps"]


def step_using(steps: list[dict], action: str) -> dict:
    found = [step for step in steps if step.get("uses", "").split("@")[0] == action]
    assert len(found) == 1, f"expected one step using {action}, found {len(found)}"
    return found[0]


def test_workflow_triggers(workflow: dict) -> None:
    # PyYAML reads the key `on` as the boolean True (YAML 1.1).
    triggers = workflow[True]
    assert "workflow_dispatch" in triggers
    crons = [entry["cron"] for entry in triggers["schedule"]]
    assert len(crons) == 1
    assert len(crons[0].split()) == 5


def test_workflow_permissions(workflow: dict) -> None:
    assert workflow["permissions"]["security-events"] == "write"
    assert workflow["permissions"]["contents"] == "read"
    assert workflow["permissions"]["id-token"] == "write"


def test_workflow_setup_and_scan(steps: list[dict]) -> None:
    runs = [step.get("run", "") for step in steps]
    assert "scripts/setup --no-demo" in runs
    assert COMMAND in runs
    assert step_using(steps, "actions/checkout")


def test_workflow_aws_role_oidc(steps: list[dict]) -> None:
    credentials = step_using(steps, "aws-actions/configure-aws-credentials")
    assert "secrets.PILOTCTL_SCAN_ROLE_ARN" in credentials["with"]["role-to-assume"]
    assert "aws-access-key-id" not in credentials["with"]


def test_workflow_uploads_always(steps: list[dict]) -> None:
    artifact = step_using(steps, "actions/upload-artifact")
    sarif = step_using(steps, "github/codeql-action/upload-sarif")
    assert artifact["if"] == "always()"
    assert "out/" in artifact["with"]["path"]
    assert sarif["if"] == "always()"
    assert sarif["with"]["sarif_file"] == "sarif"


def test_workflow_step_order(steps: list[dict]) -> None:
    names = [step.get("uses", step.get("run", "")).split("@")[0] for step in steps]
    assert names.index("aws-actions/configure-aws-credentials") < names.index(COMMAND)
    assert names.index(COMMAND) < names.index("github/codeql-action/upload-sarif")


def test_doc_documents_command() -> None:
    text = DOC.read_text(encoding="utf-8")
    assert f"```sh\n{COMMAND}\n```" in text
    cron_lines = [line for line in text.splitlines() if re.match(r"^\d+\s+\d+\s+\*\s+\*\s+\*\s+", line)]
    assert len(cron_lines) == 1
    assert COMMAND.removeprefix("uv run ") in cron_lines[0]
    for setting in ("PILOTCTL_SCAN_ROLE_ARN", "AWS_REGION", "PILOTCTL_WEBHOOK_URL"):
        assert f"`{setting}`" in text


def test_doc_command_is_run_step(steps: list[dict]) -> None:
    # The first shell block of docs/scheduling.md is the command users copy, so the workflow must run it.
    text = DOC.read_text(encoding="utf-8")
    documented = re.search(r"```sh\n(.+?)\n```", text, re.DOTALL).group(1).strip()
    runs = [step.get("run", "") for step in steps]
    assert documented in runs
