"""Read the S3 bucket settings that decide retention: lifecycle rules, versioning and Object Lock.

Each reader takes the bucket as boto3 returns it. It raises ConfigError, naming the
bucket and the setting, when the setting was not read (its key is absent) or
contains a value that S3 would not return.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from datamap.retention.s3_scope import FilterError, ObjectFilter, parse_filter, whole_number

ENABLED, SUSPENDED, NEVER = "Enabled", "Suspended", "never enabled"


class ConfigError(ValueError):
    """A bucket setting that is missing or malformed, so the result is unknown."""


@dataclass(frozen=True)
class LifecycleRule:
    """One lifecycle rule, reduced to what decides retention."""

    id: str
    enabled: bool
    filter: ObjectFilter
    expiration_days: int | None = None
    expiration_date: dt.date | None = None
    noncurrent_days: int | None = None
    newer_noncurrent_versions: int | None = None
    has_noncurrent_expiration: bool = False
    expired_object_delete_marker: bool = False

    @property
    def label(self) -> str:
        return f"lifecycle rule {self.id}"

    @property
    def expires_current(self) -> bool:
        return self.expiration_days is not None or self.expiration_date is not None


@dataclass(frozen=True)
class ObjectLock:
    enabled: bool
    default_days: int | None = None
    label: str = "ObjectLockConfiguration"
    notes: tuple[str, ...] = ()


def parse_lifecycle(bucket: Mapping[str, Any]) -> tuple[LifecycleRule, ...]:
    """Return the bucket's lifecycle rules; raise ConfigError when they were not read or are malformed."""
    name = bucket.get("Name", "<bucket>")
    if "LifecycleConfiguration" not in bucket:
        raise ConfigError(f"the lifecycle configuration of bucket {name} was not read")
    config = bucket["LifecycleConfiguration"]
    if config is None:
        return ()
    raw_rules = config.get("Rules") if isinstance(config, Mapping) else None
    if raw_rules is None or isinstance(raw_rules, (str, bytes)) or not isinstance(raw_rules, Sequence):
        raise ConfigError(f"the lifecycle configuration of bucket {name} has no Rules list")
    return tuple(_parse_rule(raw, i, name) for i, raw in enumerate(raw_rules))


def _parse_rule(raw: Any, index: int, bucket: str) -> LifecycleRule:
    if not isinstance(raw, Mapping):
        raise ConfigError(f"lifecycle rule #{index} of bucket {bucket} is not a mapping")
    rule_id = raw.get("ID") or f"#{index}"
    where = f"lifecycle rule {rule_id} of bucket {bucket}"
    try:
        object_filter = parse_filter(raw, where)
    except FilterError as exc:
        raise ConfigError(str(exc)) from None

    expiration = raw.get("Expiration") or {}
    days = _positive(expiration.get("Days"), f"{where} Expiration.Days")
    date = _date(expiration.get("Date"), f"{where} Expiration.Date")
    noncurrent = raw.get("NoncurrentVersionExpiration")
    noncurrent_days = newer = None
    if noncurrent is not None:
        noncurrent_days = _positive(noncurrent.get("NoncurrentDays"), f"{where} NoncurrentDays")
        newer = _positive(noncurrent.get("NewerNoncurrentVersions"), f"{where} NewerNoncurrentVersions")
    return LifecycleRule(id=rule_id, enabled=raw.get("Status") == "Enabled", filter=object_filter,
                         expiration_days=days, expiration_date=date, noncurrent_days=noncurrent_days,
                         newer_noncurrent_versions=newer, has_noncurrent_expiration=noncurrent is not None,
                         expired_object_delete_marker=expiration.get("ExpiredObjectDeleteMarker") is True)


def _positive(value: Any, where: str) -> int | None:
    if value is None:
        return None
    number = whole_number(value)
    if number is None or number < 1:
        raise ConfigError(f"{where} is {value!r}, not a positive whole number")
    return number


def _date(value: Any, where: str) -> dt.date | None:
    if value is None:
        return None
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    if isinstance(value, str):
        try:
            return dt.datetime.fromisoformat(value.replace("Z", "+00:00")).date()
        except ValueError:
            pass
    raise ConfigError(f"{where} is {value!r}, not an ISO-8601 date")


def versioning_state(bucket: Mapping[str, Any]) -> str:
    """Return ENABLED, SUSPENDED or NEVER; raise ConfigError when versioning was not read."""
    if "Versioning" not in bucket or bucket["Versioning"] is None:
        raise ConfigError(f"the versioning state of bucket {bucket.get('Name', '<bucket>')} was not read")
    status = bucket["Versioning"].get("Status")
    if status in (ENABLED, SUSPENDED):
        return status
    if status is None:
        return NEVER
    raise ConfigError(f"bucket {bucket.get('Name')} has versioning status {status!r}")


def object_lock(bucket: Mapping[str, Any]) -> ObjectLock:
    """Read Object Lock: whether it is on and the default retention in days, as an upper bound.

    A default of N years counts as N * 365 days plus one day for each leap day the
    period can contain, since a retain-until date N calendar years after creation
    spans at most that many days.
    """
    name = bucket.get("Name", "<bucket>")
    if "ObjectLockConfiguration" not in bucket:
        raise ConfigError(f"the Object Lock configuration of bucket {name} was not read")
    config = bucket["ObjectLockConfiguration"]
    if not config or config.get("ObjectLockEnabled") != "Enabled":
        return ObjectLock(enabled=False)
    default = (config.get("Rule") or {}).get("DefaultRetention")
    if not default:
        return ObjectLock(enabled=True)
    unknown = sorted(k for k, v in default.items() if v is not None and k not in ("Mode", "Days", "Years"))
    if unknown:
        raise ConfigError(f"bucket {name} Object Lock default retention has unrecognised element {unknown[0]}")
    mode = default.get("Mode", "?")
    days = _positive(default.get("Days"), f"bucket {name} DefaultRetention.Days")
    years = _positive(default.get("Years"), f"bucket {name} DefaultRetention.Years")
    if days is not None:
        return ObjectLock(True, days, f"Object Lock default retention ({mode}, {days} days)")
    if years is not None:
        # NOTE: AWS does not document how many days a year of Object Lock retention
        # spans; counting every possible leap day keeps this an upper bound.
        bound = years * 365 + (years + 3) // 4
        return ObjectLock(True, bound, f"Object Lock default retention ({mode}, {years} years)",
                          (f"{years} years of Object Lock retention counted as at most {bound} days",))
    raise ConfigError(f"bucket {name} Object Lock default retention has neither Days nor Years")
