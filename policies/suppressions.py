"""Suppressions: accepted findings, each with a reason and an expiry date, read from YAML files.

``suppressions.yaml`` applies to every tenant and ``suppressions.<customer>.yaml`` to one;
both sit next to the stack files. Format::

    suppressions:
      - rule: CKV_AWS_273
        resource: pilot-acme-access-user-ana.silva     # exact ARN or name
        reason: Each person signs in as their own IAM user.
        expires: 2027-07-08                             # the last day it applies
        owner: Mara Quinn                               # optional
      - rule: CKV_AWS_40
        resource_glob: pilot-acme-access-user-*-assume  # explicit pattern, fnmatch syntax
        reason: ...
        expires: 2027-07-08

A finding matches an entry when its rule id equals ``rule`` and its resource ARN or name
equals ``resource`` or matches ``resource_glob``. Patterns are case-sensitive, and ``*``
also matches ``/`` and ``:``. An entry applies up to and including its expiry date. After that date
it is expired: the finding counts toward the exit code again, and every report says
that its suppression expired on that date.

A suppression never changes a status: a suppressed unknown is reported as unknown and
suppressed, never as a pass.

>>> import datetime as dt
>>> entry = Suppression("CKV_AWS_18", "pilot-acme-audit-bucket", "why", dt.date(2027, 7, 8))
>>> entry.is_expired(dt.date(2027, 7, 8)), entry.is_expired(dt.date(2027, 7, 9))
(False, True)
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import fnmatch
import logging
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType
from typing import TYPE_CHECKING, Any

import yaml

from infra.errors import InputError
from policies.findings import Finding

if TYPE_CHECKING:
    from policies.engine import Report

log = logging.getLogger(__name__)

GLOBAL_FILE = "suppressions.yaml"
KEYS = ("rule", "resource", "resource_glob", "reason", "expires", "owner")
# pilotctl ids (PILOT-RET-001) and checkov ids (CKV_AWS_18, CKV2_AWS_62, CKV_PILOT_1).
RULE_ID = re.compile(r"[A-Z][A-Z0-9]*(?:[-_][A-Z0-9]+)+")
ISO_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
GLOB_CHARACTERS = "*?["
_DISPLAY_LIMIT = 80


class SuppressionError(InputError):
    """An invalid suppressions file, naming the file, the entry and key, the value and the expected form."""

    def __init__(self, source: str, key: str, value: Any, expected: str, problem: str = "invalid value"):
        self.source, self.key, self.value, self.expected = source, key, value, expected
        super().__init__(f"{source}: {key}: {problem} {_display_value(value)}; expected {expected}")


@dataclass(frozen=True)
class Suppression:
    """One accepted finding: the rule and resource, the reason, the expiry date and the person responsible."""

    rule_id: str
    resource: str
    reason: str
    expires: dt.date
    owner: str = ""
    is_glob: bool = False
    source: str = ""              # where it was read, such as "suppressions.yaml: suppressions[3]"

    def matches(self, finding: Finding) -> bool:
        """Return True when the finding has this rule id and its resource ARN or name fits ``resource``."""
        if finding.rule_id != self.rule_id:
            return False
        names = [name for name in (finding.resource.arn, finding.resource.name) if name]
        if self.is_glob:
            return any(fnmatch.fnmatchcase(name, self.resource) for name in names)
        return self.resource in names

    def is_expired(self, today: dt.date) -> bool:
        """Return True after the expiry date; the entry still applies on the date itself."""
        return today > self.expires

    def to_json(self) -> dict[str, Any]:
        key = "resource_glob" if self.is_glob else "resource"
        return {"rule_id": self.rule_id, key: self.resource, "reason": self.reason,
                "expires": self.expires.isoformat(), "owner": self.owner, "source": self.source}


@dataclass(frozen=True)
class SuppressionMark:
    """The suppression that matched a finding, and whether it still applies."""

    suppression: Suppression
    active: bool

    @property
    def state(self) -> str:
        return "suppressed" if self.active else "expired"

    def note(self) -> str:
        """Return one sentence for reports, with the reason, the expiry date and the source entry."""
        entry = self.suppression
        owner = f" Owner: {entry.owner}." if entry.owner else ""
        if self.active:
            return f"Suppressed until {entry.expires.isoformat()} by {entry.source}: {entry.reason}{owner}"
        return (f"Suppression expired on {entry.expires.isoformat()} ({entry.source}), so this finding counts "
                f"again. Its reason was: {entry.reason}{owner}")

    def to_json(self) -> dict[str, Any]:
        return {"state": self.state, **self.suppression.to_json()}


def default_paths(stack_dir: Path, customer: str) -> tuple[Path, ...]:
    """Return the global and the customer's suppressions files in ``stack_dir`` that exist."""
    candidates = (Path(stack_dir) / GLOBAL_FILE, Path(stack_dir) / f"suppressions.{customer}.yaml")
    return tuple(path for path in candidates if path.is_file())


def load(paths: Iterable[Path]) -> tuple[Suppression, ...]:
    """Read and validate every file in ``paths``, in order; raise SuppressionError on the first problem."""
    entries: list[Suppression] = []
    for path in paths:
        entries.extend(load_file(path))
    return tuple(entries)


def load_file(path: Path) -> tuple[Suppression, ...]:
    """Read one suppressions file. An empty file, or an empty ``suppressions`` list, has no entries."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise InputError(f"{path}: suppressions file not found") from None
    try:
        document = yaml.safe_load(text)
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        where = f"line {mark.line + 1}: " if mark is not None else ""
        problem = getattr(error, "problem", None) or str(error).splitlines()[0]
        raise InputError(f"{path}: {where}invalid YAML ({problem})") from None
    return parse(document, str(path))


def parse(document: Any, source: str) -> tuple[Suppression, ...]:
    """Validate a parsed suppressions document; ``source`` names it in errors."""
    if document is None:
        return ()
    if not isinstance(document, Mapping) or set(document) != {"suppressions"}:
        found = sorted(map(str, document)) if isinstance(document, Mapping) else document
        raise SuppressionError(source, "top level", found, "a mapping with the single key suppressions")
    entries = document["suppressions"]
    if entries is None:
        return ()
    if not isinstance(entries, list):
        raise SuppressionError(source, "suppressions", entries, "a list of entries")
    return tuple(_entry(entry, source, index) for index, entry in enumerate(entries))


def apply_suppressions(report: Report, suppressions: Sequence[Suppression],
                       today: dt.date | None = None) -> Report:
    """Return a copy of ``report`` with each finding's matching suppression recorded; statuses stay.

    ``today`` (default: the report's date) decides which entries have expired. When several
    entries match one finding, an unexpired one wins, and among those the one that expires
    last. Entries of rules that ran but matched nothing are kept in
    ``unused_suppressions``. Any marks the report already had are replaced.
    """
    today = today or report.today
    marks: dict[Finding, SuppressionMark] = {}
    used: set[Suppression] = set()
    for finding in report.findings:
        candidates = [entry for entry in suppressions if entry.matches(finding)]
        if not candidates:
            continue
        used.update(candidates)
        chosen = max(candidates, key=lambda entry: (not entry.is_expired(today), entry.expires))
        marks[finding] = SuppressionMark(chosen, active=not chosen.is_expired(today))
        if not marks[finding].active:
            log.warning("suppression of %s on %s expired on %s (%s)", finding.rule_id, finding.resource,
                        chosen.expires.isoformat(), chosen.source)

    ran = {rule.id for rule in report.rules}
    unused = tuple(entry for entry in suppressions if entry not in used and entry.rule_id in ran)
    active = sum(1 for mark in marks.values() if mark.active)
    log.info("suppressions for tenant %s: %d findings suppressed, %d expired, %d entries matched nothing",
             report.customer, active, len(marks) - active, len(unused))
    return dataclasses.replace(report, marks=MappingProxyType(marks), unused_suppressions=unused)


def _entry(entry: Any, source: str, index: int) -> Suppression:
    where = f"suppressions[{index}]"
    if not isinstance(entry, Mapping):
        raise SuppressionError(source, where, entry, "a mapping with rule, resource, reason and expires")
    for key in entry:
        if key not in KEYS:
            raise SuppressionError(source, f"{where}.{key}", entry[key], f"one of the keys {', '.join(KEYS)}",
                                   problem="unknown key with value")

    rule_id = entry.get("rule", _MISSING)
    if not isinstance(rule_id, str) or not RULE_ID.fullmatch(rule_id):
        raise SuppressionError(source, f"{where}.rule", rule_id,
                               "a rule id such as PILOT-RET-003 or CKV_AWS_18")

    resource, is_glob = _resource(entry, source, where)

    reason = entry.get("reason", _MISSING)
    if not isinstance(reason, str) or not reason.strip():
        raise SuppressionError(source, f"{where}.reason", reason,
                               "a non-empty sentence saying why the finding is accepted")

    expires = _date(entry.get("expires", _MISSING), source, f"{where}.expires")

    owner = entry.get("owner", "")
    if not isinstance(owner, str) or ("owner" in entry and not owner.strip()):
        raise SuppressionError(source, f"{where}.owner", owner, "a non-empty name, or no owner key")

    return Suppression(rule_id=rule_id, resource=resource, reason=" ".join(reason.split()), expires=expires,
                       owner=owner.strip(), is_glob=is_glob, source=f"{source}: {where}")


def _resource(entry: Mapping[str, Any], source: str, where: str) -> tuple[str, bool]:
    if "resource" in entry and "resource_glob" in entry:
        raise SuppressionError(source, f"{where}.resource_glob", entry["resource_glob"],
                               "either resource or resource_glob, not both")
    if "resource_glob" in entry:
        pattern = entry["resource_glob"]
        if not isinstance(pattern, str) or not any(c in pattern for c in GLOB_CHARACTERS):
            raise SuppressionError(source, f"{where}.resource_glob", pattern,
                                   "a pattern with *, ? or [...]; write an exact name as resource")
        if pattern[0] in GLOB_CHARACTERS:
            # A pattern that starts with a wildcard could mute a rule on every tenant at once.
            raise SuppressionError(source, f"{where}.resource_glob", pattern,
                                   "a pattern that starts with fixed text, such as pilot-acme-access-user-*")
        return pattern, True
    resource = entry.get("resource", _MISSING)
    if not isinstance(resource, str) or not resource.strip():
        raise SuppressionError(source, f"{where}.resource", resource,
                               "the exact ARN or name of the resource, or a resource_glob pattern")
    if any(c in resource for c in GLOB_CHARACTERS):
        raise SuppressionError(source, f"{where}.resource", resource,
                               "an exact ARN or name; write a pattern as resource_glob")
    return resource, False


def _date(value: Any, source: str, key: str) -> dt.date:
    expected = "a date as YYYY-MM-DD"
    if isinstance(value, dt.datetime):
        raise SuppressionError(source, key, value, expected + " without a time")
    if isinstance(value, dt.date):
        return value
    if not isinstance(value, str) or not ISO_DATE.fullmatch(value):
        raise SuppressionError(source, key, value, expected)
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        raise SuppressionError(source, key, value, expected + " that exists in the calendar") from None


class _Missing:
    def __repr__(self) -> str:
        return "<missing>"


_MISSING = _Missing()


def _display_value(value: Any) -> str:
    if value is _MISSING:
        return "<missing>"
    if isinstance(value, dt.date):
        return value.isoformat()
    text = repr(value)
    return text if len(text) <= _DISPLAY_LIMIT else text[:_DISPLAY_LIMIT - 3] + "..."
