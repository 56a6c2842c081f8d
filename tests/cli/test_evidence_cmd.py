"""``pilotctl evidence`` end to end: a sandbox tenant scanned, mapped, checked and packed."""

from __future__ import annotations

import json
import zipfile
from pathlib import Path

import pytest

from infra.sandbox import emulator as sandbox
from pilotctl.cli import main
from policies import evidence

ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.moto_server


@pytest.fixture(scope="module")
def state_dir(tmp_path_factory):
    directory = tmp_path_factory.mktemp("evidence-sandbox")
    with sandbox.running(directory):
        assert main(["sandbox", "up", "acme", "--stack-dir", str(ROOT), "--state-dir", str(directory)]) == 0
        yield directory


def evidence_args(state_dir: Path, out: Path, *extra: str) -> list[str]:
    return ["evidence", "acme", "--stack-dir", str(ROOT), "--state-dir", str(state_dir), "--out", str(out),
            "--date", "2026-12-04", "--history", str(out / "no-history.sqlite"), *extra]


def test_evidence_sandbox_pack(state_dir: Path, tmp_path: Path, capsys) -> None:
    out = tmp_path / "out"
    assert main(evidence_args(state_dir, out, "--sandbox")) == 0
    path = out / "acme" / "evidence-acme-2026-12-04.zip"
    assert f"evidence pack {path}" in capsys.readouterr().out
    assert evidence.verify_pack(path) == []
    with zipfile.ZipFile(path) as archive:
        names = {name.split("/", 1)[1] for name in archive.namelist()}
        trail = json.loads(archive.read("evidence-acme-2026-12-04/audit-trail.json"))
        manifest = json.loads(archive.read("evidence-acme-2026-12-04/MANIFEST.json"))
    assert {"diagram.svg", "diagram.png", "data-map.md", "access.csv", "access.json", "findings.json",
            "findings.md", "findings.sarif", "audit-trail.json", "support-and-owners.md"} < names
    assert len(trail["trails"]) == 1
    assert trail["trails"][0]["name"] == "pilot-acme"
    assert any(note.startswith("history.md left out") for note in manifest["notes"])

    # A second pack from the same files, without scanning again, has the same bytes.
    first = path.read_bytes()
    assert main(evidence_args(state_dir, out)) == 0
    assert path.read_bytes() == first


def test_evidence_missing_inputs(state_dir: Path, tmp_path: Path, capsys) -> None:
    assert main(evidence_args(state_dir, tmp_path / "empty")) == 2
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 1
    assert "diagram.svg: missing input file of the evidence pack; run: pilotctl map acme" in lines[0]
