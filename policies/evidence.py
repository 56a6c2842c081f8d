"""The evidence pack: one dated zip of a tenant's reports for the buyer's security review.

The pack is built from the files that ``pilotctl scan``, ``map`` and ``check`` write to
``OUT/<customer>/`` and from the pilot spec. It contains, in one folder
``evidence-<customer>-<date>/``:

- ``diagram.svg``, ``diagram.png``, ``data-map.md``: the diagram and the data map;
- ``access.csv``, ``access.json``: the access matrix;
- ``findings.json``, ``findings.md`` and ``findings.sarif`` when it exists: the checks;
- ``audit-trail.json``: the CloudTrail trail records of the inventory;
- ``support-and-owners.md``: the support path and the owners from the pilot spec;
- ``history.md``: the latest recorded scans and when each current failure was first
  seen, when a scan history database is given and records the customer;
- ``MANIFEST.json``: the SHA-256 checksum and size of every other entry, the source of
  each, and notes on what was left out and why.

The pack is reproducible: the same input files, spec, history and date give the same
bytes, wherever the inputs lie. Entries are sorted by name, every entry carries the pack
date at midnight as its time, and the manifest records file names only, with no build
time, folder or machine.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import logging
import os
import zipfile
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from infra.errors import InputError
from infra.spec import PilotSpec

log = logging.getLogger(__name__)

MANIFEST_FORMAT = 1
MANIFEST_NAME = "MANIFEST.json"
# Input file -> the command that writes it, named in the error when the file is missing.
REQUIRED_INPUTS = {
    "diagram.svg": "pilotctl map {customer}",
    "diagram.png": "pilotctl map {customer}",
    "data-map.md": "pilotctl map {customer}",
    "access.csv": "pilotctl map {customer}",
    "access.json": "pilotctl map {customer}",
    "findings.json": "pilotctl check {customer}",
    "findings.md": "pilotctl check {customer}",
    "inventory.json": "pilotctl scan {customer}",
}
OPTIONAL_INPUTS = {"findings.sarif": "pilotctl check {customer} --format sarif"}
# Copied into the pack unchanged. Of inventory.json, only the trail records go into the pack.
COPIED_INPUTS = ("diagram.svg", "diagram.png", "data-map.md", "access.csv", "access.json", "findings.json",
                 "findings.md", "findings.sarif")
LATEST_SCANS = 10
OWNER_TITLES = {"permissions": "Permissions (who may do what)", "auditLogs": "Audit logs",
                "support": "Support", "data": "Data"}


@dataclass
class Pack:
    """The entries of an evidence pack before they are zipped: name -> bytes, with each entry's source."""

    customer: str
    date: dt.date
    entries: dict[str, bytes] = field(default_factory=dict)
    sources: dict[str, str] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)

    @property
    def folder(self) -> str:
        return f"evidence-{self.customer}-{self.date.isoformat()}"

    def add(self, name: str, content: bytes, source: str) -> None:
        self.entries[name] = content
        self.sources[name] = source


def build_pack(customer: str, directory: Path, spec: PilotSpec, on: dt.date,
               history_path: Path | None = None) -> Pack:
    """Collect a tenant's evidence from ``directory`` (``OUT/<customer>/``), the spec and the history.

    Raises InputError naming the first missing input file and the command that writes it.
    """
    directory = Path(directory)
    for name, command in REQUIRED_INPUTS.items():
        if not (directory / name).is_file():
            raise InputError(f"{directory / name}: missing input file of the evidence pack; "
                             f"run: {command.format(customer=customer)}")
    findings = _read_json(directory / "findings.json")
    if findings.get("customer") != customer:
        raise InputError(f"{directory / 'findings.json'}: customer: invalid value {findings.get('customer')!r}; "
                         f"expected {customer!r}; run: pilotctl check {customer}")

    pack = Pack(customer=customer, date=on)
    for name in COPIED_INPUTS:
        path = directory / name
        if path.is_file():
            pack.add(name, path.read_bytes(), name)
        else:
            command = OPTIONAL_INPUTS[name].format(customer=customer)
            pack.notes.append(f"{name} left out: the input file does not exist (written by: {command})")

    inventory = _read_json(directory / "inventory.json")
    pack.add("audit-trail.json", _dump_json(audit_trail(inventory)), "cloudtrail_trail records of inventory.json")
    spec_name = Path(spec.source).name or "the pilot spec"
    pack.add("support-and-owners.md", support_markdown(spec).encode("utf-8"),
             f"pilot:support and pilot:owners of {spec_name}")
    _add_history(pack, history_path)
    log.info("evidence pack of %s: %d entries, %d notes", customer, len(pack.entries), len(pack.notes))
    return pack


def audit_trail(inventory: Mapping) -> dict:
    """Return the inventory's CloudTrail trail records and its CloudTrail read errors, sorted by ARN."""
    trails = sorted((resource for resource in inventory.get("resources", ())
                     if resource.get("kind") == "cloudtrail_trail"), key=lambda resource: resource.get("arn", ""))
    errors = sorted(error for error in inventory.get("errors", ()) if error.split(":", 1)[0] == "cloudtrail")
    record = {"customer": inventory.get("customer", ""), "account_id": inventory.get("account_id", ""),
              "source": inventory.get("source", ""), "taken_at": inventory.get("taken_at", ""),
              "trails": trails, "read_errors": errors}
    if not trails:
        record["note"] = "the inventory contains no CloudTrail trail of this tenant"
    return record


def support_markdown(spec: PilotSpec) -> str:
    """Return the support path and the owners from the pilot spec as a short Markdown page."""
    lines = [f"# Support path and owners: {spec.customer}", "",
             f"Pilot from {spec.start.isoformat()} to {spec.end.isoformat()}; all data is deleted within "
             f"{spec.retention_days_after_end} days after the end.", "",
             "## Support path", "",
             f"- Channel: {spec.support.channel}",
             f"- First reply within: {_hours(spec.support.first_reply_hours)}",
             f"- Updates at least every: {_hours(spec.support.update_hours)}", "",
             "## Owners", "", "| area | owner |", "| --- | --- |"]
    for key, owner in sorted(spec.owners.items()):
        lines.append(f"| {OWNER_TITLES.get(key, key)} | {_cell(owner)} |")
    return "\n".join(lines) + "\n"


def history_markdown(customer: str, history_path: Path) -> str | None:
    """Summarise the customer's recorded scans; return None when the history records none.

    The summary lists the latest ``LATEST_SCANS`` scans and, for each failure of the
    latest scan, the date its current run of failures began.
    """
    from policies import history

    with history.History(history_path) as store:
        scans = store.scans(customer)
        if not scans:
            return None
        diff = store.diff(customer)
    lines = [f"# Scan history: {customer}", "",
             f"{len(scans)} scans recorded; the latest {min(len(scans), LATEST_SCANS)}, oldest first:", "",
             "| started (UTC) | status | pass | fail | unknown | notes |", "| --- | --- | ---: | ---: | ---: | --- |"]
    for scan in scans[-LATEST_SCANS:]:
        notes = scan.reason if scan.status == history.FAILED else ""
        if not notes and not scan.access_known:
            notes = f"access matrix incomplete: {scan.access_reason}"
        lines.append(f"| {scan.started_at} | {scan.status} | {scan.pass_count} | {scan.fail_count} | "
                     f"{scan.unknown_count} | {_cell(notes)} |")
    failing = sorted(diff.new + diff.still_failing, key=lambda change: (change.first_seen, change.rule_id,
                                                                       change.resource_arn))
    lines += ["", f"## Failures of the latest scan ({len(failing)})", ""]
    if diff.latest.status == history.FAILED:
        lines.append(f"The latest scan failed ({_cell(diff.latest.reason)}), so none of its findings is decided.")
    elif not failing:
        lines.append("None.")
    else:
        lines += ["| first seen (UTC) | rule | severity | resource |", "| --- | --- | --- | --- |"]
        for change in failing:
            lines.append(f"| {change.first_seen or '-'} | {change.rule_id} | {change.severity} | "
                         f"{_cell(change.resource_name or change.resource_arn)} |")
    return "\n".join(lines) + "\n"


def write_pack(pack: Pack, path: Path) -> Path:
    """Write the pack as a zip with sorted entries, fixed entry times and a checksum manifest; return ``path``.

    The zip is written to a temporary file next to ``path`` and renamed, so a reader
    never sees half a pack.
    """
    entries = dict(pack.entries)
    entries[MANIFEST_NAME] = _dump_json(manifest(pack))
    stamp = (pack.date.year, pack.date.month, pack.date.day, 0, 0, 0)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(path.name + ".partial")
    # NOTE: the same bytes need the same zlib, because deflate output may differ between zlib versions.
    with zipfile.ZipFile(partial, "w") as archive:
        for name in sorted(entries):
            info = zipfile.ZipInfo(f"{pack.folder}/{name}", date_time=stamp)
            info.compress_type = zipfile.ZIP_DEFLATED
            info.create_system = 3          # Unix, so external_attr contains the file mode
            info.external_attr = 0o644 << 16
            archive.writestr(info, entries[name], compresslevel=9)
    os.replace(partial, path)
    return path


def manifest(pack: Pack) -> dict:
    """Return the manifest: SHA-256 and size of every entry except the manifest itself, and the notes."""
    return {
        "format": MANIFEST_FORMAT,
        "customer": pack.customer,
        "date": pack.date.isoformat(),
        "generator": "pilotctl evidence",
        "entries": [{"name": name, "sha256": hashlib.sha256(pack.entries[name]).hexdigest(),
                     "bytes": len(pack.entries[name]), "source": pack.sources[name]}
                    for name in sorted(pack.entries)],
        "notes": sorted(pack.notes),
    }


def verify_pack(path: Path) -> list[str]:
    """Check every entry of a pack against its manifest; return the problems, empty when the pack is intact."""
    with zipfile.ZipFile(path) as archive:
        names = archive.namelist()
        manifests = [name for name in names if name.endswith("/" + MANIFEST_NAME)]
        if len(manifests) != 1:
            return [f"{path}: expected one {MANIFEST_NAME}, found {len(manifests)}"]
        folder = manifests[0].rsplit("/", 1)[0]
        listed = json.loads(archive.read(manifests[0]))["entries"]
        problems = []
        for entry in listed:
            member = f"{folder}/{entry['name']}"
            if member not in names:
                problems.append(f"{member}: listed in the manifest but missing")
            elif hashlib.sha256(archive.read(member)).hexdigest() != entry["sha256"]:
                problems.append(f"{member}: SHA-256 differs from the manifest")
        unlisted = set(names) - {f"{folder}/{entry['name']}" for entry in listed} - {manifests[0]}
        problems += [f"{name}: not listed in the manifest" for name in sorted(unlisted)]
    return problems


def _add_history(pack: Pack, history_path: Path | None) -> None:
    if history_path is None:
        pack.notes.append("history.md left out: no scan history database was given")
        return
    if not Path(history_path).is_file():
        # Checked first because opening a missing database would create an empty one.
        pack.notes.append(f"history.md left out: {Path(history_path).name} does not exist "
                          "(written by: pilotctl scan --all)")
        return
    try:
        text = history_markdown(pack.customer, Path(history_path))
    except ImportError:
        pack.notes.append("history.md left out: this pilotctl has no scan history (policies.history)")
        return
    if text is None:
        pack.notes.append(f"history.md left out: {Path(history_path).name} records no scan of {pack.customer}")
        return
    pack.add("history.md", text.encode("utf-8"), f"scan history {Path(history_path).name}")


def _read_json(path: Path) -> dict:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise InputError(f"{path}: unreadable or invalid JSON ({exc}); write it again with pilotctl") from None


def _dump_json(data) -> bytes:
    return (json.dumps(data, indent=2, sort_keys=True, ensure_ascii=False) + "\n").encode("utf-8")


def _hours(value: float) -> str:
    hours = int(value) if float(value).is_integer() else value
    return f"{hours} hour" if hours == 1 else f"{hours} hours"


def _cell(text: str) -> str:
    """Make text safe for one Markdown table cell."""
    return str(text).replace("|", "\\|").replace("\n", " ")
