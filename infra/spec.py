"""The pilot spec: one customer's tenant, read from ``Pulumi.<customer>.yaml``.

The spec lives under the ``pilot:`` namespace of the stack config. The same
validation runs whether the values come from the stack file (pilotctl), or from
``pulumi.Config`` (the real ``pulumi up``), so a spec that the CLI accepts is the
spec that gets deployed.

Example (the keys, not the values, are fixed)::

    config:
      pilot:customer: acme
      pilot:region: eu-west-1
      pilot:dates: {start: "2027-01-11", end: "2027-04-09", retentionDaysAfterEnd: 30}
      pilot:roles:
        - {name: recorder, capabilities: [view, change]}
      pilot:people:
        - {id: ana.silva, name: Ana Silva, role: recorder}
      pilot:stores:
        - {name: records, kind: s3, classification: confidential, retentionDays: 90, backup: true}
      pilot:audit: {retentionDays: 365}
      pilot:owners: {permissions: ..., auditLogs: ..., support: ..., data: ...}
      pilot:support: {channel: ..., firstReplyHours: 4, updateHours: 24}
"""

from __future__ import annotations

import datetime as dt
import json
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from infra.capabilities import CAPABILITIES, STORE_KINDS, Capability
from infra.errors import SpecError

NAMESPACE = "pilot"

# Names end up in bucket names, IAM paths and tags, so they follow the strictest of
# those: S3 bucket naming (lowercase letters, digits, hyphens).
# Limits keep "<customer>-<store>-<account id>" within S3's 63 characters and
# "<customer>-<person>" within IAM's 64.
CUSTOMER_RE = re.compile(r"^[a-z][a-z0-9-]{0,18}[a-z0-9]$")
NAME_RE = re.compile(r"^[a-z][a-z0-9-]{0,22}[a-z0-9]$")
PERSON_ID_RE = re.compile(r"^[a-z][a-z0-9.\-_]{0,38}[a-z0-9]$")
REGION_RE = re.compile(r"^[a-z]{2}(-gov)?-[a-z]+-\d$")
CLASSIFICATIONS = ("public", "internal", "confidential", "restricted")
OWNER_KEYS = ("permissions", "auditLogs", "support", "data")
# Names that identify a group rather than a person; a spec that uses one as a
# person id is declaring a shared login.
# CloudWatch Logs accepts only these retention periods (PutRetentionPolicy).
LOG_RETENTION_DAYS = (1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827,
                      2192, 2557, 2922, 3288, 3653)
SHARED_ID_WORDS = ("shared", "team", "admin", "root", "service", "generic", "everyone", "group")


@dataclass(frozen=True)
class Role:
    name: str
    capabilities: frozenset[Capability]
    description: str = ""


@dataclass(frozen=True)
class Person:
    id: str
    name: str
    role: str
    email: str = ""


@dataclass(frozen=True)
class Store:
    name: str
    kind: str
    classification: str
    retention_days: int
    backup: bool
    holds_exports: bool = False
    description: str = ""


@dataclass(frozen=True)
class SupportPath:
    channel: str
    first_reply_hours: float
    update_hours: float


@dataclass(frozen=True)
class PilotSpec:
    customer: str
    region: str
    start: dt.date
    end: dt.date
    retention_days_after_end: int
    roles: tuple[Role, ...]
    people: tuple[Person, ...]
    stores: tuple[Store, ...]
    audit_retention_days: int
    owners: Mapping[str, str]
    support: SupportPath
    source: str = ""

    @property
    def data_deleted_by(self) -> dt.date:
        """Return the last day any tenant data may exist: pilot end plus retention."""
        return self.end + dt.timedelta(days=self.retention_days_after_end)

    def role(self, name: str) -> Role:
        return next(r for r in self.roles if r.name == name)

    def store(self, name: str) -> Store:
        return next(s for s in self.stores if s.name == name)

    def people_in(self, role: str) -> tuple[Person, ...]:
        return tuple(p for p in self.people if p.role == role)


class _Reader:
    """Validate raw config values, raising SpecError that names file, key and value."""

    def __init__(self, source: str):
        self.source = source

    def fail(self, key: str, value: Any, expected: str) -> SpecError:
        return SpecError(self.source, key, value, expected)

    def require(self, raw: Mapping[str, Any], key: str, path: str) -> Any:
        if not isinstance(raw, Mapping) or key not in raw or raw[key] is None:
            raise self.fail(path, "<missing>", "a value for this required key")
        return raw[key]

    def text(self, raw: Mapping[str, Any], key: str, path: str, pattern: re.Pattern[str] | None = None,
             expected: str = "a non-empty string", default: str | None = None) -> str:
        if default is not None and (not isinstance(raw, Mapping) or raw.get(key) is None):
            return default
        value = self.require(raw, key, path)
        if not isinstance(value, str) or not value.strip():
            raise self.fail(path, value, expected)
        if pattern is not None and not pattern.match(value):
            raise self.fail(path, value, expected)
        return value.strip()

    def positive_int(self, raw: Mapping[str, Any], key: str, path: str, maximum: int = 36500) -> int:
        value = self.require(raw, key, path)
        # bool is an int in Python; "true" is never a number of days.
        if isinstance(value, bool) or not isinstance(value, (int, float)) or value != int(value):
            raise self.fail(path, value, f"a whole number of days from 1 to {maximum}")
        if not 1 <= int(value) <= maximum:
            raise self.fail(path, value, f"a whole number of days from 1 to {maximum}")
        return int(value)

    def positive_number(self, raw: Mapping[str, Any], key: str, path: str) -> float:
        value = self.require(raw, key, path)
        if isinstance(value, bool) or not isinstance(value, (int, float)) or value <= 0:
            raise self.fail(path, value, "a positive number of hours")
        return float(value)

    def boolean(self, raw: Mapping[str, Any], key: str, path: str, default: bool | None = None) -> bool:
        if default is not None and raw.get(key) is None:
            return default
        value = self.require(raw, key, path)
        if not isinstance(value, bool):
            raise self.fail(path, value, "true or false")
        return value

    def date(self, raw: Mapping[str, Any], key: str, path: str) -> dt.date:
        value = self.require(raw, key, path)
        if isinstance(value, dt.date):
            return value
        if isinstance(value, str):
            try:
                return dt.date.fromisoformat(value)
            except ValueError:
                pass
        raise self.fail(path, value, "a date in the form YYYY-MM-DD")

    def mapping(self, raw: Mapping[str, Any], key: str, path: str) -> Mapping[str, Any]:
        value = self.require(raw, key, path)
        if not isinstance(value, Mapping):
            raise self.fail(path, value, "a mapping of keys to values")
        return value

    def sequence(self, raw: Mapping[str, Any], key: str, path: str) -> list[Any]:
        value = self.require(raw, key, path)
        if not isinstance(value, list) or not value:
            raise self.fail(path, value, "a non-empty list")
        return value


def parse_spec(config: Mapping[str, Any], source: str) -> PilotSpec:
    """Validate ``pilot:*`` config values and return the spec.

    ``config`` maps the keys without namespace (``customer``, ``roles``, ...) to
    already-decoded values. Raises SpecError on the first invalid value.
    """
    r = _Reader(source)
    ns = f"{NAMESPACE}:"

    customer = r.text(config, "customer", ns + "customer", CUSTOMER_RE,
                      "2-20 lowercase letters, digits or hyphens, starting with a letter")
    region = r.text(config, "region", ns + "region", REGION_RE, "an AWS region name such as eu-west-1")

    dates = r.mapping(config, "dates", ns + "dates")
    start = r.date(dates, "start", ns + "dates.start")
    end = r.date(dates, "end", ns + "dates.end")
    if end <= start:
        raise r.fail(ns + "dates.end", end.isoformat(), f"a date after dates.start ({start.isoformat()})")
    after_end = r.positive_int(dates, "retentionDaysAfterEnd", ns + "dates.retentionDaysAfterEnd")

    roles = _parse_roles(r, config, ns)
    people = _parse_people(r, config, ns, {role.name for role in roles})
    stores = _parse_stores(r, config, ns)

    audit = r.mapping(config, "audit", ns + "audit")
    audit_days = r.positive_int(audit, "retentionDays", ns + "audit.retentionDays")

    owners_raw = r.mapping(config, "owners", ns + "owners")
    owners = {key: r.text(owners_raw, key, f"{ns}owners.{key}", expected="the name and contact of a person")
              for key in OWNER_KEYS}
    unknown_owner = sorted(set(owners_raw) - set(OWNER_KEYS))
    if unknown_owner:
        raise r.fail(f"{ns}owners.{unknown_owner[0]}", owners_raw[unknown_owner[0]],
                     f"only the owner keys {', '.join(OWNER_KEYS)}")

    support_raw = r.mapping(config, "support", ns + "support")
    channel = support_raw.get("channel")
    if isinstance(channel, list):
        raise r.fail(ns + "support.channel", channel, "exactly one support channel, not a list")
    support = SupportPath(
        channel=r.text(support_raw, "channel", ns + "support.channel", expected="one support channel"),
        first_reply_hours=r.positive_number(support_raw, "firstReplyHours", ns + "support.firstReplyHours"),
        update_hours=r.positive_number(support_raw, "updateHours", ns + "support.updateHours"),
    )

    return PilotSpec(customer=customer, region=region, start=start, end=end,
                     retention_days_after_end=after_end, roles=roles, people=people, stores=stores,
                     audit_retention_days=audit_days, owners=owners, support=support, source=source)


def _parse_roles(r: _Reader, config: Mapping[str, Any], ns: str) -> tuple[Role, ...]:
    roles: list[Role] = []
    for i, raw in enumerate(r.sequence(config, "roles", ns + "roles")):
        path = f"{ns}roles[{i}]"
        name = r.text(raw, "name", path + ".name", NAME_RE,
                      "2-24 lowercase letters, digits or hyphens, starting with a letter")
        if any(role.name == name for role in roles):
            raise r.fail(path + ".name", name, "a role name not used by another role")
        caps_raw = r.require(raw, "capabilities", path + ".capabilities")
        if not isinstance(caps_raw, list) or not caps_raw:
            raise r.fail(path + ".capabilities", caps_raw, f"a non-empty list of {', '.join(CAPABILITIES)}")
        caps = set()
        for j, cap in enumerate(caps_raw):
            if cap not in CAPABILITIES:
                raise r.fail(f"{path}.capabilities[{j}]", cap, f"one of {', '.join(CAPABILITIES)}")
            caps.add(Capability(cap))
        description = r.text(raw, "description", path + ".description", default="")
        roles.append(Role(name=name, capabilities=frozenset(caps), description=description))
    return tuple(roles)


def _parse_people(r: _Reader, config: Mapping[str, Any], ns: str, role_names: set[str]) -> tuple[Person, ...]:
    people: list[Person] = []
    for i, raw in enumerate(r.sequence(config, "people", ns + "people")):
        path = f"{ns}people[{i}]"
        pid = r.text(raw, "id", path + ".id", PERSON_ID_RE,
                     "one person's login id: 2-40 lowercase letters, digits, dots, hyphens or underscores")
        if any(word in re.split(r"[.\-_]", pid) for word in SHARED_ID_WORDS):
            raise r.fail(path + ".id", pid, "one identity per person (a personal id, not a shared login)")
        if any(p.id == pid for p in people):
            raise r.fail(path + ".id", pid, "an id used by exactly one person (no shared accounts)")
        if "role" not in raw or raw["role"] is None:
            raise r.fail(path + ".role", "<missing>", f"exactly one role, one of: {', '.join(sorted(role_names))}")
        role = raw["role"]
        if isinstance(role, list):
            raise r.fail(path + ".role", role, "exactly one role, not a list")
        if role not in role_names:
            raise r.fail(path + ".role", role, f"a declared role, one of: {', '.join(sorted(role_names))}")
        name = r.text(raw, "name", path + ".name", expected="the person's full name")
        email = r.text(raw, "email", path + ".email", default="")
        people.append(Person(id=pid, name=name, role=role, email=email))
    return tuple(people)


def _parse_stores(r: _Reader, config: Mapping[str, Any], ns: str) -> tuple[Store, ...]:
    stores: list[Store] = []
    for i, raw in enumerate(r.sequence(config, "stores", ns + "stores")):
        path = f"{ns}stores[{i}]"
        name = r.text(raw, "name", path + ".name", NAME_RE,
                      "2-24 lowercase letters, digits or hyphens, starting with a letter")
        if any(s.name == name for s in stores):
            raise r.fail(path + ".name", name, "a store name not used by another store")
        kind = r.require(raw, "kind", path + ".kind")
        if kind not in STORE_KINDS:
            raise r.fail(path + ".kind", kind, f"one of {', '.join(STORE_KINDS)}")
        classification = r.require(raw, "classification", path + ".classification")
        if classification not in CLASSIFICATIONS:
            raise r.fail(path + ".classification", classification, f"one of {', '.join(CLASSIFICATIONS)}")
        retention = r.positive_int(raw, "retentionDays", path + ".retentionDays")
        if kind == "s3" and retention < 2:
            # Versioned buckets need at least one day for current and one for noncurrent versions.
            raise r.fail(path + ".retentionDays", retention, "at least 2 days for an s3 store")
        if kind == "log_group" and retention not in LOG_RETENTION_DAYS:
            raise r.fail(path + ".retentionDays", retention,
                         "a CloudWatch Logs retention period: " + ", ".join(map(str, LOG_RETENTION_DAYS)))
        backup = r.boolean(raw, "backup", path + ".backup")
        if backup and kind != "s3":
            raise r.fail(path + ".backup", backup, f"false for a {kind} store (AWS Backup covers only the s3 kind here)")
        if backup and retention < 3:
            # One day of backups plus a current and a noncurrent day in the bucket.
            raise r.fail(path + ".retentionDays", retention, "at least 3 days for a backed-up s3 store")
        stores.append(Store(
            name=name, kind=kind, classification=classification,
            retention_days=retention,
            backup=backup,
            holds_exports=r.boolean(raw, "holdsExports", path + ".holdsExports", default=False),
            description=r.text(raw, "description", path + ".description", default=""),
        ))
    return tuple(stores)


def load_stack_file(path: str | Path) -> PilotSpec:
    """Read ``Pulumi.<customer>.yaml`` and validate its ``pilot:`` keys."""
    path = Path(path)
    source = path.name
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise SpecError(source, "<file>", str(path), "an existing stack file Pulumi.<customer>.yaml") from None
    try:
        document = yaml.safe_load(text) or {}
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}" if mark else "<file>"
        raise SpecError(source, where, getattr(exc, "problem", "unreadable"), "valid YAML") from None
    config = document.get("config") if isinstance(document, Mapping) else None
    if not isinstance(config, Mapping):
        raise SpecError(source, "config", "<missing>", "a top-level 'config:' mapping with pilot:* keys")
    values = {key.split(":", 1)[1]: value for key, value in config.items()
              if isinstance(key, str) and key.startswith(NAMESPACE + ":")}
    spec = parse_spec(values, source)
    aws_region = config.get("aws:region")
    if aws_region is not None and aws_region != spec.region:
        raise SpecError(source, "aws:region", aws_region, f"the same region as pilot:region ({spec.region})")
    return spec


def config_values(get_raw: Callable[[str], str | None], keys: tuple[str, ...] = ()) -> dict[str, Any]:
    """Decode ``pilot:*`` values read one key at a time, as ``pulumi.Config.get`` returns them.

    Pulumi passes structured config to the program as JSON strings.
    """
    values: dict[str, Any] = {}
    for key in keys or ("customer", "region", "dates", "roles", "people", "stores", "audit", "owners", "support"):
        raw = get_raw(key)
        if raw is None:
            continue
        try:
            values[key] = json.loads(raw)
        except json.JSONDecodeError:
            values[key] = raw
    return values


def to_pulumi_config(spec_file: str | Path) -> dict[str, str]:
    """Return the stack file's config in ``PULUMI_CONFIG`` form: ``{"pilot:roles": "<json>"}``."""
    document = yaml.safe_load(Path(spec_file).read_text(encoding="utf-8")) or {}
    result: dict[str, str] = {}
    for key, value in (document.get("config") or {}).items():
        result[key] = value if isinstance(value, str) else json.dumps(value, default=_json_default)
    return result


def _json_default(value: Any) -> Any:
    if isinstance(value, (dt.date, dt.datetime)):
        return value.isoformat()
    raise TypeError(f"cannot encode {type(value).__name__} in stack config")
