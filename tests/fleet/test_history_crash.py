"""A fleet scan killed with SIGKILL inside a history transaction leaves a sound database.

``crash_driver.py`` runs ``pilotctl scan --all`` in a subprocess and stops in the
transaction of the third tenant's record, after its scan row and findings are written
and before the commit. The test kills it there, checks the database, then runs a full
fleet scan on the same database.
"""

from __future__ import annotations

import os
import select
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest
from fleet_tenants import SMALL, TenantBuilder, base_session

from infra.sandbox import emulator as sandbox
from policies.history import History

pytestmark = pytest.mark.moto_server

ROOT = Path(__file__).resolve().parents[2]
DRIVER = Path(__file__).with_name("crash_driver.py")
TENANTS = [f"crash{index}" for index in range(4)]
PAUSE_AT = 3


def _driver(pause_at: int, endpoint: str, work: Path) -> subprocess.Popen:
    argv = ["scan", "--all", "--stack-dir", str(work / "stacks"), "--out", str(work / "out"),
            "--history", str(work / "history.sqlite"), "--region", "us-east-1"]
    env = sandbox.subprocess_env(endpoint)
    env["PYTHONPATH"] = str(ROOT)
    return subprocess.Popen([sys.executable, str(DRIVER), str(pause_at), *argv], cwd=ROOT, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)


def _wait_for_pause(process: subprocess.Popen, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        ready, _, _ = select.select([process.stdout], [], [], 1.0)
        if not ready:
            continue
        line = process.stdout.readline()
        if line.strip() == "PAUSED":
            return
        if not line:
            raise AssertionError(f"the driver exited with {process.wait()} before the pause")
    raise AssertionError(f"the driver did not reach the pause within {timeout:g} s")


@pytest.fixture(scope="module")
def crashed(fleet_emulator, tmp_path_factory):
    """Kill a fleet scan inside its third record; return the work folder."""
    builder = TenantBuilder(base_session(), fleet_emulator.endpoint, "123456789012")
    for customer in TENANTS:
        builder.build(customer, SMALL)
    work = tmp_path_factory.mktemp("crash")
    (work / "stacks").mkdir()
    process = _driver(PAUSE_AT, fleet_emulator.endpoint, work)
    try:
        _wait_for_pause(process)
    finally:
        os.kill(process.pid, signal.SIGKILL)
        process.wait()
    assert process.returncode == -signal.SIGKILL
    return work


def test_crash_integrity_ok(crashed):
    with sqlite3.connect(crashed / "history.sqlite") as db:
        assert db.execute("PRAGMA integrity_check").fetchall() == [("ok",)]
        assert db.execute("PRAGMA foreign_key_check").fetchall() == []


def test_crash_keeps_earlier_scans(crashed):
    with sqlite3.connect(crashed / "history.sqlite") as db:
        scans = db.execute("SELECT id, status, pass_count + fail_count + unknown_count FROM scans").fetchall()
        assert len(scans) == PAUSE_AT - 1
        for scan_id, status, counted in scans:
            stored = db.execute("SELECT COUNT(*) FROM findings WHERE scan_id = ?", (scan_id,)).fetchone()[0]
            assert status == "complete"
            assert stored == counted > 0


def test_crash_leaves_no_partial_scan(crashed):
    with sqlite3.connect(crashed / "history.sqlite") as db:
        orphans = db.execute("SELECT COUNT(*) FROM findings WHERE scan_id NOT IN (SELECT id FROM scans)").fetchone()
        cells = db.execute("SELECT COUNT(*) FROM access_cells WHERE scan_id NOT IN (SELECT id FROM scans)").fetchone()
    assert orphans == (0,)
    assert cells == (0,)


def test_crash_then_full_scan(crashed, fleet_emulator):
    process = _driver(0, fleet_emulator.endpoint, crashed)
    assert process.wait(timeout=300) == 1  # hand-built tenants fail some rules
    with History(crashed / "history.sqlite") as history:
        counts = {customer: len(history.scans(customer)) for customer in TENANTS}
    assert sum(counts.values()) == PAUSE_AT - 1 + len(TENANTS)
    assert min(counts.values()) >= 1
