"""The fleet scan posts each tenant's new failures to the user's webhook (a local server here)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from test_notify import webhook  # noqa: F401 (fixture)

from infra.sandbox import emulator as sandbox
from infra.sandbox.hurried import build_hurried_tenant
from infra.spec import load_stack_file
from pilotctl.cli import main

ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.moto_server


def test_fleet_posts_new_failures(webhook, tmp_path, capsys):  # noqa: F811
    stacks = tmp_path / "stacks"
    stacks.mkdir()
    shutil.copy(ROOT / "Pulumi.globex.yaml", stacks / "Pulumi.globex.yaml")
    with sandbox.running(tmp_path / "sandbox") as running:
        build_hurried_tenant(load_stack_file(stacks / "Pulumi.globex.yaml"), running.endpoint)
        argv = ["scan", "--all", "--sandbox", "--state-dir", str(tmp_path / "sandbox"), "--stack-dir", str(stacks),
                "--out", str(tmp_path / "out"), "--history", str(tmp_path / "history.sqlite"),
                "--region", "eu-west-1", "--webhook", webhook.url]
        first = main(argv)
        second = main(argv)

    assert first == 1
    assert second == 1
    # The first scan has nothing to compare with, so its failures are new; the second adds none.
    assert len(webhook.bodies) == 1
    text = str(webhook.bodies[0])
    assert "globex" in text
    assert "PILOT-RET-006" in text
    assert "/globex/app-logs" in text
