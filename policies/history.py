"""Scan history: each tenant scan with its findings and access cells, in an embedded SQLite database.

``History.record`` writes one scan in one transaction, so a process killed while it
writes leaves the earlier scans intact and no part of the scan it was writing. The
database uses the WAL journal with ``synchronous=FULL``, under which SQLite syncs the
WAL at every commit (SQLite's PRAGMA synchronous documentation). A committed scan
therefore also survives an OS crash or power loss, on disks that honour syncs. Several
processes may write one file, and a writer waits up to ``BUSY_TIMEOUT_MS`` for another
one's transaction.

Tables:

- ``scans``: one row per tenant scan. ``status`` is ``complete``, or ``failed`` when the
  tenant could not be scanned: then ``reason`` gives the cause and every finding is unknown.
  ``pass_count``, ``fail_count`` and ``unknown_count`` count its findings.
  ``access_known`` is 0 when the access matrix is incomplete, with ``access_reason``.
- ``findings``: one row per finding of a scan.
- ``access_cells``: one row per access matrix cell (person, role, resource, capability,
  status ``allow`` or ``unknown``) of a scan.

Times are stored as UTC text ``YYYY-MM-DDTHH:MM:SSZ``, which sorts by time.
"""

from __future__ import annotations

import datetime as dt
import sqlite3
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from datamap.matrix import AccessCell
from infra.errors import InputError, PilotError
from policies.findings import Finding, Status

DEFAULT_PATH = Path(".pilotctl/history.sqlite")
SCHEMA_VERSION = "1"
BUSY_TIMEOUT_MS = 30_000
COMPLETE, FAILED = "complete", "failed"

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS scans (
    id INTEGER PRIMARY KEY,
    run_id TEXT NOT NULL,
    customer TEXT NOT NULL,
    account TEXT NOT NULL,
    region TEXT NOT NULL,
    source TEXT NOT NULL,
    started_at TEXT NOT NULL,
    finished_at TEXT NOT NULL,
    status TEXT NOT NULL CHECK (status IN ('complete', 'failed')),
    reason TEXT NOT NULL,
    pass_count INTEGER NOT NULL,
    fail_count INTEGER NOT NULL,
    unknown_count INTEGER NOT NULL,
    access_known INTEGER NOT NULL CHECK (access_known IN (0, 1)),
    access_reason TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS scans_by_customer ON scans (customer, started_at);
CREATE TABLE IF NOT EXISTS findings (
    scan_id INTEGER NOT NULL REFERENCES scans (id) ON DELETE CASCADE,
    rule_id TEXT NOT NULL,
    resource_arn TEXT NOT NULL,
    resource_name TEXT NOT NULL,
    status TEXT NOT NULL CHECK (status IN ('pass', 'fail', 'unknown')),
    severity TEXT NOT NULL,
    message TEXT NOT NULL,
    observed TEXT NOT NULL,
    expected TEXT NOT NULL,
    suppressed INTEGER NOT NULL CHECK (suppressed IN (0, 1))
);
CREATE INDEX IF NOT EXISTS findings_by_scan ON findings (scan_id);
CREATE TABLE IF NOT EXISTS access_cells (
    scan_id INTEGER NOT NULL REFERENCES scans (id) ON DELETE CASCADE,
    person TEXT NOT NULL,
    role TEXT NOT NULL,
    principal_arn TEXT NOT NULL,
    resource_arn TEXT NOT NULL,
    resource_name TEXT NOT NULL,
    capability TEXT NOT NULL,
    status TEXT NOT NULL CHECK (status IN ('allow', 'unknown'))
);
CREATE INDEX IF NOT EXISTS access_cells_by_scan ON access_cells (scan_id);
"""

_SCAN_COLUMNS = ("id, run_id, customer, account, region, source, started_at, finished_at, status, reason, "
                 "pass_count, fail_count, unknown_count, access_known, access_reason")


class HistoryError(PilotError):
    """The history database could not be written, for example because another writer held it too long."""


@dataclass(frozen=True)
class ScanRecord:
    """One tenant scan to record. ``cells`` is None when the access matrix is unknown."""

    customer: str
    account: str
    region: str
    started_at: dt.datetime | str
    finished_at: dt.datetime | str
    status: str                   # COMPLETE or FAILED
    findings: Sequence[Finding]
    cells: Sequence[AccessCell] | None
    reason: str = ""              # why the scan failed
    access_reason: str = ""       # why the access matrix is unknown
    source: str = "live"
    run_id: str = ""              # the fleet run that made the scan
    suppressed: frozenset[Finding] = frozenset()


@dataclass(frozen=True)
class ScanRow:
    """A recorded scan as read back, with its finding counts."""

    id: int
    run_id: str
    customer: str
    account: str
    region: str
    source: str
    started_at: str
    finished_at: str
    status: str
    reason: str
    pass_count: int
    fail_count: int
    unknown_count: int
    access_known: bool
    access_reason: str


@dataclass(frozen=True)
class FindingChange:
    """A finding whose status differs between two scans, or that failed in both.

    ``before`` and ``after`` are statuses, "" when the finding was not reported.
    ``first_seen`` is when the latest run of failures began: the first failing scan
    after the last scan in which the finding passed.
    """

    rule_id: str
    resource_arn: str
    resource_name: str
    severity: str
    message: str
    before: str
    after: str
    first_seen: str


@dataclass(frozen=True)
class AccessChange:
    """One capability on one resource that a principal gained, lost, or that became or stopped being unknown."""

    principal: str  # the person id; for a role no person assumes, "role <name>"; else the principal ARN
    resource: str
    capability: str
    before: str  # "allow", "unknown" or "" (no cell)
    after: str


@dataclass(frozen=True)
class Diff:
    """What changed between a base scan and the latest scan of a tenant.

    ``undecided`` contains findings that failed in the base scan and are unknown or not
    reported in the latest one: they are not counted as fixed. ``access_note`` says why
    access changes are unknown, and is "" when both access matrices are complete.
    """

    customer: str
    latest: ScanRow
    base: ScanRow | None
    new: tuple[FindingChange, ...]
    fixed: tuple[FindingChange, ...]
    still_failing: tuple[FindingChange, ...]
    undecided: tuple[FindingChange, ...]
    access_changes: tuple[AccessChange, ...]
    access_note: str


def utc_text(value: dt.datetime | dt.date | str) -> str:
    """Return a time as ``YYYY-MM-DDTHH:MM:SSZ`` in UTC; a date means its midnight UTC, a naive time is UTC."""
    if isinstance(value, str):
        try:
            value = dt.datetime.fromisoformat(value)
        except ValueError:
            raise InputError(f"invalid time {value!r}; expected YYYY-MM-DD or an ISO 8601 date and time") from None
    if not isinstance(value, dt.datetime):
        value = dt.datetime.combine(value, dt.time())
    if value.tzinfo is None:
        value = value.replace(tzinfo=dt.UTC)
    return value.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


class History:
    """The history database at ``path``, created with its folder on first use.

    >>> with History(tmp_path / "history.sqlite") as history:   # doctest: +SKIP
    ...     history.record(record)
    ...     history.scans("acme")
    """

    def __init__(self, path: str | Path = DEFAULT_PATH):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        try:
            # Autocommit mode: ``record`` opens and commits its transaction itself.
            self._db = sqlite3.connect(self.path, isolation_level=None, timeout=BUSY_TIMEOUT_MS / 1000)
            self._db.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
            self._db.execute("PRAGMA journal_mode = WAL")
            self._db.execute("PRAGMA synchronous = FULL")
            self._db.execute("PRAGMA foreign_keys = ON")
            self._db.executescript(_SCHEMA)
            self._db.execute("INSERT OR IGNORE INTO meta (key, value) VALUES ('schema_version', ?)",
                             (SCHEMA_VERSION,))
        except sqlite3.DatabaseError as exc:
            raise InputError(f"{self.path}: cannot open the history database ({exc})") from None
        version = self._db.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()[0]
        if version != SCHEMA_VERSION:
            raise InputError(f"{self.path}: history schema version {version}; this pilotctl reads version "
                             f"{SCHEMA_VERSION}")

    def __enter__(self) -> History:
        return self

    def __exit__(self, *exc_info) -> None:
        self.close()

    def close(self) -> None:
        self._db.close()

    def record(self, scan: ScanRecord) -> int:
        """Write one scan, its findings and its access cells in one transaction; return the scan id."""
        if scan.status not in (COMPLETE, FAILED):
            raise ValueError(f"invalid scan status {scan.status!r}; expected {COMPLETE} or {FAILED}")
        counts = {status: sum(1 for f in scan.findings if f.status is status) for status in Status}
        try:
            self._db.execute("BEGIN IMMEDIATE")
        except sqlite3.OperationalError as exc:
            raise HistoryError(f"{self.path}: cannot record the scan of {scan.customer} ({exc}); another pilotctl "
                               "may be writing this history, so run the scan again later") from None
        try:
            cursor = self._db.execute(
                "INSERT INTO scans (run_id, customer, account, region, source, started_at, finished_at, status, "
                "reason, pass_count, fail_count, unknown_count, access_known, access_reason) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (scan.run_id, scan.customer, scan.account, scan.region, scan.source, utc_text(scan.started_at),
                 utc_text(scan.finished_at), scan.status, scan.reason, counts[Status.PASS], counts[Status.FAIL],
                 counts[Status.UNKNOWN], int(scan.cells is not None), scan.access_reason))
            scan_id = cursor.lastrowid
            self._db.executemany(
                "INSERT INTO findings (scan_id, rule_id, resource_arn, resource_name, status, severity, message, "
                "observed, expected, suppressed) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                [(scan_id, f.rule_id, f.resource.arn, f.resource.name, str(f.status), str(f.severity), f.message,
                  f.observed, f.expected, int(f in scan.suppressed)) for f in scan.findings])
            self._db.executemany(
                "INSERT INTO access_cells (scan_id, person, role, principal_arn, resource_arn, resource_name, "
                "capability, status) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                [(scan_id, c.person, c.role, c.principal_arn, c.resource_arn, c.resource_name, str(c.capability),
                  c.status) for c in scan.cells or ()])
            self._db.execute("COMMIT")
        except BaseException:
            self._db.execute("ROLLBACK")
            raise
        return scan_id

    def scans(self, customer: str) -> list[ScanRow]:
        """Return the customer's scans, oldest first."""
        rows = self._db.execute(f"SELECT {_SCAN_COLUMNS} FROM scans WHERE customer = ? ORDER BY started_at, id",
                                (customer,)).fetchall()
        return [_scan_row(row) for row in rows]

    def latest_accounts(self) -> dict[str, str]:
        """Return customer -> account of each customer's latest complete scan."""
        rows = self._db.execute("SELECT customer, account FROM scans WHERE status = 'complete' "
                                "ORDER BY started_at, id").fetchall()
        return {customer: account for customer, account in rows}

    def diff(self, customer: str, since: dt.datetime | dt.date | str | None = None) -> Diff:
        """Compare the customer's latest scan with the last complete scan before ``since``, or before the latest.

        Raises InputError when the history has no scan of the customer.
        """
        scans = self.scans(customer)
        if not scans:
            raise InputError(f"{self.path}: no scans of customer {customer!r} recorded; "
                             "run pilotctl scan --all first")
        latest = scans[-1]
        limit = utc_text(since) if since is not None else None
        earlier = [scan for scan in scans[:-1] if scan.status == COMPLETE
                   and (limit is None or scan.started_at < limit)]
        base = earlier[-1] if earlier else None
        new, fixed, still, undecided = self._finding_changes(latest, base)
        changes, note = self._access_changes(latest, base)
        return Diff(customer=customer, latest=latest, base=base, new=new, fixed=fixed, still_failing=still,
                    undecided=undecided, access_changes=changes, access_note=note)

    def _finding_changes(self, latest: ScanRow, base: ScanRow | None):
        after = self._findings(latest.id)
        before = self._findings(base.id) if base else {}
        first_seen = self._failure_starts(latest)
        groups: dict[str, list[FindingChange]] = {"new": [], "fixed": [], "still": [], "undecided": []}
        for key in sorted(set(after) | set(before)):
            now, then = after.get(key), before.get(key)
            latest_known = now or then
            change = FindingChange(rule_id=key[0], resource_arn=key[1], resource_name=latest_known["resource_name"],
                                   severity=latest_known["severity"], message=latest_known["message"],
                                   before=then["status"] if then else "", after=now["status"] if now else "",
                                   first_seen=first_seen.get(key, ""))
            if change.after == "fail":
                groups["still" if change.before == "fail" else "new"].append(change)
            elif change.before == "fail":
                groups["fixed" if change.after == "pass" else "undecided"].append(change)
        return tuple(groups["new"]), tuple(groups["fixed"]), tuple(groups["still"]), tuple(groups["undecided"])

    def _findings(self, scan_id: int) -> dict[tuple[str, str], dict[str, str]]:
        """Return (rule id, resource ARN) -> finding of a scan; of repeated keys the worst status wins."""
        rank = {"fail": 0, "unknown": 1, "pass": 2}
        found: dict[tuple[str, str], dict[str, str]] = {}
        for row in self._db.execute("SELECT rule_id, resource_arn, resource_name, status, severity, message "
                                    "FROM findings WHERE scan_id = ?", (scan_id,)):
            entry = dict(zip(("rule_id", "resource_arn", "resource_name", "status", "severity", "message"), row))
            key = (entry["rule_id"], entry["resource_arn"])
            if key not in found or rank[entry["status"]] < rank[found[key]["status"]]:
                found[key] = entry
        return found

    def _failure_starts(self, latest: ScanRow) -> dict[tuple[str, str], str]:
        """Return (rule id, resource ARN) -> start of the latest run of failures up to ``latest``.

        Walking back from the latest scan, a pass ends the run. Unknown results and scans
        that did not report the finding do not, because the finding may have failed then.
        """
        rows = self._db.execute(
            "SELECT f.rule_id, f.resource_arn, f.status, s.started_at FROM findings f JOIN scans s "
            "ON s.id = f.scan_id WHERE s.customer = ? AND (s.started_at < ? OR (s.started_at = ? AND s.id <= ?)) "
            "AND f.status IN ('fail', 'pass') ORDER BY s.started_at DESC, s.id DESC",
            (latest.customer, latest.started_at, latest.started_at, latest.id))
        starts: dict[tuple[str, str], str] = {}
        ended: set[tuple[str, str]] = set()
        for rule_id, arn, status, started_at in rows:
            key = (rule_id, arn)
            if key in ended:
                continue
            if status == "pass":
                ended.add(key)
            else:
                starts[key] = started_at
        return starts

    def _access_changes(self, latest: ScanRow, base: ScanRow | None) -> tuple[tuple[AccessChange, ...], str]:
        if base is None:
            return (), "no earlier complete scan to compare access with"
        for label, scan in (("latest", latest), ("base", base)):
            if not scan.access_known:
                return (), f"the {label} scan's access matrix is incomplete ({scan.access_reason or scan.reason})"
        after, before = self._cells(latest.id), self._cells(base.id)
        changes = [AccessChange(principal=key[0], resource=key[1], capability=key[2], before=before.get(key, ""),
                                after=after.get(key, ""))
                   for key in sorted(set(after) | set(before)) if after.get(key, "") != before.get(key, "")]
        return tuple(changes), ""

    def _cells(self, scan_id: int) -> dict[tuple[str, str, str], str]:
        """Return (principal, resource, capability) -> "allow" or "unknown"; "allow" wins over "unknown"."""
        cells: dict[tuple[str, str, str], str] = {}
        for person, role, principal, resource, capability, status in self._db.execute(
                "SELECT person, role, principal_arn, resource_name, capability, status FROM access_cells "
                "WHERE scan_id = ?", (scan_id,)):
            key = (person or (f"role {role}" if role else principal), resource, capability)
            if cells.get(key) != "allow":
                cells[key] = status
        return cells


def _scan_row(row: Iterable) -> ScanRow:
    values = list(row)
    values[13] = bool(values[13])
    return ScanRow(*values)

