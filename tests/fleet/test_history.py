"""The scan history: recording, listing and diffs, on hand-made scans in a temporary database."""

from __future__ import annotations

import sqlite3

import pytest

from datamap.matrix import AccessCell
from infra.capabilities import Capability
from infra.errors import InputError
from pilotctl.cli import main
from policies.findings import Finding, ResourceRef, Severity, Status
from policies.history import COMPLETE, FAILED, History, ScanRecord, utc_text

CUSTOMER = "acme"


def _finding(rule: str, resource: str, status: str) -> Finding:
    return Finding(rule_id=rule, status=Status(status), severity=Severity.HIGH,
                   resource=ResourceRef(f"arn:aws:s3:::{resource}", resource), observed="observed",
                   expected="expected", message=f"{rule} on {resource} is {status}", fix="fix it")


def _cell(person: str, store: str, capability: str, status: str = "allow") -> AccessCell:
    return AccessCell(principal_arn=f"arn:aws:iam::123456789012:user/{person}", person=person, role="recorder",
                      resource_arn=f"arn:aws:s3:::{store}", resource_name=store, capability=Capability(capability),
                      status=status, actions=("s3:GetObject",))


def _record(day: str, findings: dict[tuple[str, str], str], cells=(), status: str = COMPLETE,
            reason: str = "") -> ScanRecord:
    return ScanRecord(customer=CUSTOMER, account="123456789012", region="eu-west-1", started_at=f"{day}T06:00:00",
                      finished_at=f"{day}T06:01:00", status=status, reason=reason,
                      findings=[_finding(rule, resource, result) for (rule, resource), result in findings.items()],
                      cells=None if cells is None else list(cells))


# Day 1 and day 2 of one tenant: A keeps failing, B is fixed, C is new, D becomes unknown,
# E is no longer reported. Ana gains delete on records and Ben loses change on it.
DAY1 = {("R-A", "a"): "fail", ("R-B", "b"): "fail", ("R-C", "c"): "pass", ("R-D", "d"): "fail",
        ("R-E", "e"): "fail"}
DAY2 = {("R-A", "a"): "fail", ("R-B", "b"): "pass", ("R-C", "c"): "fail", ("R-D", "d"): "unknown"}
CELLS1 = [_cell("ana", "records", "view"), _cell("ben", "records", "change")]
CELLS2 = [_cell("ana", "records", "view"), _cell("ana", "records", "delete")]


@pytest.fixture
def history(tmp_path):
    with History(tmp_path / "history.sqlite") as store:
        store.record(_record("2027-01-01", DAY1, CELLS1))
        store.record(_record("2027-01-02", DAY2, CELLS2))
        yield store


def _ids(changes) -> list[str]:
    return [change.rule_id for change in changes]


def test_diff_groups_findings(history):
    diff = history.diff(CUSTOMER)
    assert _ids(diff.new) == ["R-C"]
    assert _ids(diff.fixed) == ["R-B"]
    assert _ids(diff.still_failing) == ["R-A"]
    assert _ids(diff.undecided) == ["R-D", "R-E"]


def test_diff_first_seen(history):
    diff = history.diff(CUSTOMER)
    assert diff.still_failing[0].first_seen == "2027-01-01T06:00:00Z"
    assert diff.new[0].first_seen == "2027-01-02T06:00:00Z"


def test_diff_first_seen_after_pass(history):
    history.record(_record("2027-01-03", {("R-A", "a"): "pass"}, []))
    history.record(_record("2027-01-04", {("R-A", "a"): "fail"}, []))
    history.record(_record("2027-01-05", {("R-A", "a"): "unknown"}, []))
    history.record(_record("2027-01-06", {("R-A", "a"): "fail"}, []))
    (change,) = history.diff(CUSTOMER).new
    assert (change.before, change.after) == ("unknown", "fail")
    assert change.first_seen == "2027-01-04T06:00:00Z"


def test_diff_access_changes(history):
    diff = history.diff(CUSTOMER)
    assert diff.access_note == ""
    changes = {(c.principal, c.resource, c.capability): (c.before, c.after) for c in diff.access_changes}
    assert changes == {("ana", "records", "delete"): ("", "allow"), ("ben", "records", "change"): ("allow", "")}


def test_diff_since_picks_base(history):
    history.record(_record("2027-01-03", DAY2, CELLS2))
    diff = history.diff(CUSTOMER, since="2027-01-02")
    assert diff.base.started_at == "2027-01-01T06:00:00Z"
    assert _ids(diff.fixed) == ["R-B"]


def test_diff_skips_failed_base(history):
    history.record(_record("2027-01-03", {}, None, status=FAILED, reason="AccessDenied"))
    history.record(_record("2027-01-04", DAY2, CELLS2))
    assert history.diff(CUSTOMER).base.started_at == "2027-01-02T06:00:00Z"


def test_diff_failed_latest_fixes_nothing(history):
    history.record(_record("2027-01-03", {("R-A", "a"): "unknown"}, None, status=FAILED, reason="unreachable"))
    diff = history.diff(CUSTOMER)
    assert diff.fixed == ()
    assert _ids(diff.undecided) == ["R-A", "R-C"]
    assert "incomplete" in diff.access_note


def test_diff_unknown_customer(history):
    with pytest.raises(InputError, match="no scans of customer 'nobody'"):
        history.diff("nobody")


def test_record_counts(history):
    first, second = history.scans(CUSTOMER)
    assert (first.pass_count, first.fail_count, first.unknown_count) == (1, 4, 0)
    assert (second.pass_count, second.fail_count, second.unknown_count) == (1, 2, 1)


def test_record_rolls_back(tmp_path):
    path = tmp_path / "history.sqlite"
    with History(path) as store:
        store.record(_record("2027-01-01", DAY1, CELLS1))
        broken = _cell("ana", "records", "view", status="deny")  # the table accepts allow and unknown only
        with pytest.raises(sqlite3.IntegrityError):
            store.record(_record("2027-01-02", DAY2, [broken]))
        assert len(store.scans(CUSTOMER)) == 1
    with sqlite3.connect(path) as db:
        assert db.execute("SELECT COUNT(*) FROM findings").fetchone()[0] == len(DAY1)


def test_database_uses_wal(history):
    with sqlite3.connect(history.path) as db:
        assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


def test_utc_text_forms():
    assert utc_text("2027-01-02") == "2027-01-02T00:00:00Z"
    assert utc_text("2027-01-02T08:30:00+02:00") == "2027-01-02T06:30:00Z"
    with pytest.raises(InputError):
        utc_text("yesterday")


def test_history_command_lists(history, capsys):
    code = main(["history", CUSTOMER, "--history", str(history.path)])
    lines = capsys.readouterr().out.splitlines()
    assert code == 0
    assert lines[0] == f"{CUSTOMER}: 2 scans in {history.path}"
    assert lines[2].split()[:6] == ["2027-01-01T06:00:00Z", "complete", "123456789012", "1", "4", "0"]


def test_diff_command_output(history, capsys):
    code = main(["diff", CUSTOMER, "--history", str(history.path)])
    text = capsys.readouterr().out
    assert code == 0
    assert "New failures (1):\n  high     R-C c (pass -> fail, first seen 2027-01-02T06:00:00Z)" in text
    assert "Fixed (1):\n  high     R-B b (fail -> pass" in text
    assert "Still failing (1):\n  high     R-A a (fail -> fail, first seen 2027-01-01T06:00:00Z)" in text
    assert "R-E e (fail -> not reported" in text
    assert "gained         ana delete on records" in text
    assert "lost           ben change on records" in text


def test_diff_command_missing_database(tmp_path, capsys):
    code = main(["diff", CUSTOMER, "--history", str(tmp_path / "none.sqlite")])
    assert code == 2
    assert "history database not found" in capsys.readouterr().err
