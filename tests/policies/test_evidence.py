"""The evidence pack: contents, reproducible bytes, manifest checksums and missing inputs."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import shutil
import zipfile
from pathlib import Path

import pytest

from infra.errors import InputError
from infra.spec import load_stack_file
from policies import evidence
from policies.findings import Finding, ResourceRef, Severity, Status
from policies.history import History, ScanRecord

ROOT = Path(__file__).resolve().parents[2]
DAY = dt.date(2026, 12, 4)
TRAIL = {"kind": "cloudtrail_trail", "arn": "arn:aws:cloudtrail:us-east-1:123456789012:trail/acme-audit",
         "name": "acme-audit", "attributes": {"IsLogging": True, "LogFileValidationEnabled": True}}


@pytest.fixture
def spec():
    return load_stack_file(ROOT / "Pulumi.acme.yaml")


@pytest.fixture
def out_dir(tmp_path: Path) -> Path:
    """A fake OUT/acme/ with every input the pack needs, as scan, map and check write them."""
    directory = tmp_path / "out" / "acme"
    directory.mkdir(parents=True)
    for name in ("diagram.svg", "data-map.md", "access.csv", "findings.md", "findings.sarif"):
        (directory / name).write_text(f"content of {name}\n", encoding="utf-8")
    (directory / "diagram.png").write_bytes(b"\x89PNG\r\n\x1a\n fake")
    (directory / "access.json").write_text('{"cells": []}\n', encoding="utf-8")
    (directory / "findings.json").write_text(json.dumps({"customer": "acme", "findings": []}), encoding="utf-8")
    inventory = {"customer": "acme", "account_id": "123456789012", "source": "live", "taken_at": "2026-12-04",
                 "resources": [{"kind": "s3_bucket", "arn": "arn:aws:s3:::acme-records", "name": "acme-records"},
                               TRAIL],
                 "errors": ["cloudtrail: get_trail_status: AccessDenied", "s3: list_buckets: timed out"]}
    (directory / "inventory.json").write_text(json.dumps(inventory), encoding="utf-8")
    return directory


def members(path: Path) -> dict[str, bytes]:
    with zipfile.ZipFile(path) as archive:
        return {name.split("/", 1)[1]: archive.read(name) for name in archive.namelist()}


def test_pack_twice_same_bytes(out_dir: Path, spec, tmp_path: Path) -> None:
    first = evidence.write_pack(evidence.build_pack("acme", out_dir, spec, DAY), tmp_path / "one.zip")
    # Copy the inputs elsewhere and touch them: neither folder nor file times may change the bytes.
    moved = tmp_path / "elsewhere" / "acme"
    shutil.copytree(out_dir, moved)
    for path in moved.iterdir():
        path.touch()
    second = evidence.write_pack(evidence.build_pack("acme", moved, spec, DAY), tmp_path / "two.zip")
    assert first.read_bytes() == second.read_bytes()


def test_pack_entries_sorted_and_dated(out_dir: Path, spec, tmp_path: Path) -> None:
    path = evidence.write_pack(evidence.build_pack("acme", out_dir, spec, DAY), tmp_path / "pack.zip")
    with zipfile.ZipFile(path) as archive:
        infos = archive.infolist()
    names = [info.filename for info in infos]
    assert names == sorted(names)
    assert all(name.startswith("evidence-acme-2026-12-04/") for name in names)
    assert {info.date_time for info in infos} == {(2026, 12, 4, 0, 0, 0)}


def test_pack_contents(out_dir: Path, spec, tmp_path: Path) -> None:
    path = evidence.write_pack(evidence.build_pack("acme", out_dir, spec, DAY), tmp_path / "pack.zip")
    entries = members(path)
    expected = {"diagram.svg", "diagram.png", "data-map.md", "access.csv", "access.json", "findings.json",
                "findings.md", "findings.sarif", "audit-trail.json", "support-and-owners.md", "MANIFEST.json"}
    assert set(entries) == expected
    assert entries["diagram.png"] == (out_dir / "diagram.png").read_bytes()
    trail = json.loads(entries["audit-trail.json"])
    assert trail["trails"] == [TRAIL]
    assert trail["read_errors"] == ["cloudtrail: get_trail_status: AccessDenied"]
    support = entries["support-and-owners.md"].decode()
    assert f"- Channel: {spec.support.channel}" in support
    for owner in spec.owners.values():
        assert owner in support


def test_manifest_checksums_verify(out_dir: Path, spec, tmp_path: Path) -> None:
    path = evidence.write_pack(evidence.build_pack("acme", out_dir, spec, DAY), tmp_path / "pack.zip")
    entries = members(path)
    listed = json.loads(entries["MANIFEST.json"])["entries"]
    assert {entry["name"] for entry in listed} == set(entries) - {"MANIFEST.json"}
    for entry in listed:
        assert hashlib.sha256(entries[entry["name"]]).hexdigest() == entry["sha256"], entry["name"]
        assert len(entries[entry["name"]]) == entry["bytes"]
    assert evidence.verify_pack(path) == []


def test_verify_detects_changed_entry(out_dir: Path, spec, tmp_path: Path) -> None:
    path = evidence.write_pack(evidence.build_pack("acme", out_dir, spec, DAY), tmp_path / "pack.zip")
    tampered = tmp_path / "tampered.zip"
    with zipfile.ZipFile(path) as source, zipfile.ZipFile(tampered, "w") as target:
        for info in source.infolist():
            content = source.read(info)
            target.writestr(info, b"changed" if info.filename.endswith("/findings.md") else content)
    assert evidence.verify_pack(tampered) == ["evidence-acme-2026-12-04/findings.md: SHA-256 differs from the "
                                              "manifest"]


@pytest.mark.parametrize(("name", "command"), [("diagram.png", "pilotctl map acme"),
                                               ("findings.json", "pilotctl check acme"),
                                               ("inventory.json", "pilotctl scan acme")])
def test_pack_missing_input(out_dir: Path, spec, name: str, command: str) -> None:
    (out_dir / name).unlink()
    with pytest.raises(InputError) as caught:
        evidence.build_pack("acme", out_dir, spec, DAY)
    message = str(caught.value)
    assert "\n" not in message
    assert str(out_dir / name) in message
    assert message.endswith(f"run: {command}")


def test_pack_wrong_customer(out_dir: Path, spec) -> None:
    (out_dir / "findings.json").write_text(json.dumps({"customer": "globex"}), encoding="utf-8")
    with pytest.raises(InputError, match="customer: invalid value 'globex'; expected 'acme'"):
        evidence.build_pack("acme", out_dir, spec, DAY)


def test_pack_notes_left_out(out_dir: Path, spec, tmp_path: Path) -> None:
    (out_dir / "findings.sarif").unlink()
    missing = tmp_path / "no-history.sqlite"
    pack = evidence.build_pack("acme", out_dir, spec, DAY, history_path=missing)
    notes = evidence.manifest(pack)["notes"]
    assert "findings.sarif" not in pack.entries
    assert "history.md" not in pack.entries
    assert not missing.exists()
    assert notes == ["findings.sarif left out: the input file does not exist (written by: pilotctl check acme "
                     "--format sarif)",
                     "history.md left out: no-history.sqlite does not exist (written by: pilotctl scan --all)"]


def record(customer: str, started: str, status: Status) -> ScanRecord:
    finding = Finding(rule_id="RET-001", status=status, severity=Severity.HIGH,
                      resource=ResourceRef("arn:aws:s3:::acme-records", "acme-records"), observed="forever",
                      expected="90 days", message="bucket acme-records keeps noncurrent versions forever", fix="x")
    return ScanRecord(customer=customer, account="123456789012", region="us-east-1", started_at=started,
                      finished_at=started, status="complete", findings=(finding,), cells=())


def test_pack_history_summary(out_dir: Path, spec, tmp_path: Path) -> None:
    path = tmp_path / "history.sqlite"
    with History(path) as store:
        store.record(record("acme", "2026-12-01T06:00:00Z", Status.PASS))
        store.record(record("acme", "2026-12-02T06:00:00Z", Status.FAIL))
        store.record(record("acme", "2026-12-03T06:00:00Z", Status.FAIL))
    pack = evidence.build_pack("acme", out_dir, spec, DAY, history_path=path)
    summary = pack.entries["history.md"].decode()
    assert "3 scans recorded" in summary
    assert "| 2026-12-03T06:00:00Z | complete | 0 | 1 | 0 |  |" in summary
    assert "| 2026-12-02T06:00:00Z | RET-001 | high | acme-records |" in summary


def test_pack_history_without_customer(out_dir: Path, spec, tmp_path: Path) -> None:
    path = tmp_path / "history.sqlite"
    with History(path) as store:
        store.record(record("globex", "2026-12-01T06:00:00Z", Status.PASS))
    pack = evidence.build_pack("acme", out_dir, spec, DAY, history_path=path)
    assert "history.md" not in pack.entries
    assert "history.md left out: history.sqlite records no scan of acme" in pack.notes
