"""check, map and access read a tenant from a Pulumi stack export or preview file."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from pilotctl.cli import main

ROOT = Path(__file__).resolve().parents[2]
DATA = ROOT / "tests" / "sources" / "data"


def test_check_stack_export(tmp_path, capsys):
    empty = tmp_path / "suppressions.yaml"
    empty.write_text("suppressions: []\n")
    code = main(["check", "acme", "--stack-export", str(DATA / "acme-stack-export.json"), "--stack-dir", str(ROOT),
                 "--out", str(tmp_path), "--suppressions", str(empty)])
    report = json.loads((tmp_path / "acme" / "findings.json").read_text())
    assert report["source"] == "stack-export"
    # The key policy is a secret in the file, so the checks that need it cannot pass.
    assert [f for f in report["findings"] if f["status"] == "unknown"]
    assert code == 1


def test_access_preview(tmp_path, capsys):
    code = main(["access", "acme", "--preview", str(DATA / "acme-preview.json"), "--stack-dir", str(ROOT),
                 "--out", str(tmp_path)])
    assert code == 0
    assert (tmp_path / "acme" / "access.csv").exists()


def test_two_sources_rejected(tmp_path, capsys):
    with pytest.raises(SystemExit) as raised:
        main(["check", "acme", "--inventory", "x.json", "--preview", "y.json"])
    assert raised.value.code == 2
    assert "not allowed with argument" in capsys.readouterr().err
