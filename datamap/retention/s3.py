"""How long objects can live in an S3 bucket, from its lifecycle, versioning and Object Lock settings.

Input is the bucket as boto3 returns it, with the keys ``Name``, ``Versioning``
(``get_bucket_versioning`` body, ``{}`` if versioning was never enabled),
``LifecycleConfiguration`` (``{"Rules": [...]}`` or None for
NoSuchLifecycleConfiguration) and ``ObjectLockConfiguration`` (or None). A key that
is absent means the setting was not read, and every result that needs it is unknown.

S3 behaviour modelled here (Amazon S3 User Guide, lifecycle and Object Lock pages):

- A rule acts only when its Status is Enabled. Transitions and
  AbortIncompleteMultipartUpload never delete objects.
- ``Expiration.Days`` ends the current version N days after creation. On an
  unversioned bucket that deletes the data. On a versioned bucket it adds a delete
  marker and the data stays as a noncurrent version. ``Expiration.Date`` expires
  objects created before the date on that date and objects created later at once.
  ``ExpiredObjectDeleteMarker`` removes only lone delete markers, never data.
- When several rules match an object, the earliest expiration wins.
- ``NoncurrentVersionExpiration.NoncurrentDays`` deletes a version N days after it
  became noncurrent. With ``NewerNoncurrentVersions`` N, S3 keeps the N newest
  noncurrent versions of each object whatever their age, so an object deleted once
  and never written again keeps them forever.
- Suspending versioning keeps the versions made while it was enabled.
- Object Lock default retention protects each new version for its period from
  creation: lifecycle cannot permanently delete it before then. Versions uploaded with
  their own retain-until date or a legal hold can live longer. The bucket settings
  do not show those, so every result here is for versions without them.

Rounding to the next UTC midnight and the delay of asynchronous lifecycle runs are
ignored, as they are in the AWS examples.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from datamap.retention.result import Retention, Verdict, longest, plus
from datamap.retention.s3_config import (
    NEVER, SUSPENDED, ConfigError, LifecycleRule, ObjectLock, object_lock, parse_lifecycle, versioning_state,
)
from datamap.retention.s3_scope import EVERY_OBJECT, Match, ObjectScope, size_candidates


@dataclass(frozen=True)
class BucketRetention:
    """The maximum time objects of ``scope`` live in ``bucket``.

    ``current``: days a version stays current. ``noncurrent``: days a version stays
    after it became noncurrent. ``data``: days from creation until every version of an
    object that no user overwrites or deletes is permanently gone.
    ``per_version_locks_possible`` is True when Object Lock is enabled, because a
    version uploaded with its own retention or a legal hold outlives these numbers.
    """

    bucket: str
    scope: ObjectScope
    current: Retention
    noncurrent: Retention
    data: Retention
    per_version_locks_possible: bool = False


def bucket_retention(bucket: Mapping[str, Any], scope: ObjectScope = EVERY_OBJECT, *,
                     created: dt.date | None = None, today: dt.date | None = None) -> BucketRetention:
    """Compute the maximum current, noncurrent and total lifetime of the objects in ``scope``.

    ``created`` is the objects' creation date, when known. Without it, a date-based
    expiration bounds objects only when its date is on or before ``today`` (objects
    created since then expire at once). An unreadable setting makes the results that
    need it unknown, with the reason.

    >>> b = {"Name": "b", "Versioning": {}, "ObjectLockConfiguration": None,
    ...      "LifecycleConfiguration": {"Rules": [{"ID": "r", "Filter": {}, "Status": "Enabled",
    ...                                           "Expiration": {"Days": 30}}]}}
    >>> str(bucket_retention(b).current), bucket_retention(b).current.decided_by
    ('30 days', ('lifecycle rule r',))
    """
    name = bucket.get("Name", "<bucket>")
    try:
        rules = parse_lifecycle(bucket)
    except ConfigError as exc:
        unknown = Retention.unknown(str(exc), ("LifecycleConfiguration",))
        return BucketRetention(name, scope, unknown, unknown, unknown)
    lifecycle = _Lifecycle(name, rules, scope, created, today)
    current = lifecycle.longest_over_sizes(lifecycle.current)

    try:
        versioning = versioning_state(bucket)
        lock = object_lock(bucket)
    except ConfigError as exc:
        unknown = Retention.unknown(str(exc))
        return BucketRetention(name, scope, current, unknown, unknown)

    if versioning == NEVER:
        none = Retention.of_days(0, f"versioning was never enabled on bucket {name}, "
                                    "so it holds no noncurrent versions", ("Versioning",))
        return BucketRetention(name, scope, current, none, current, lock.enabled)

    def noncurrent_at(forced: list[LifecycleRule], size: int) -> Retention:
        return _with_lock(lifecycle.noncurrent(forced, size), lock)

    def data_at(forced: list[LifecycleRule], size: int) -> Retention:
        return _with_lock(plus(lifecycle.current(forced, size), lifecycle.noncurrent(forced, size)), lock)

    noncurrent = lifecycle.longest_over_sizes(noncurrent_at)
    data = lifecycle.longest_over_sizes(data_at)
    if versioning == SUSPENDED:
        note = "versioning is suspended, but versions made while it was enabled remain"
        noncurrent, data = noncurrent.with_notes(note), data.with_notes(note)
    return BucketRetention(name, scope, current, noncurrent, data, lock.enabled)


def object_retention(bucket: Mapping[str, Any], key: str, tags: Mapping[str, str] | None = None,
                     size: int | None = None, *, created: dt.date | None = None,
                     today: dt.date | None = None) -> BucketRetention:
    """Compute the retention of one object. With ``size`` None, return the maximum over every size."""
    return bucket_retention(bucket, ObjectScope.one_object(key, tags, size), created=created, today=today)


def covers_every_object(bucket: Mapping[str, Any]) -> Verdict:
    """Return whether every object, whatever its key, tags and size, matches an enabled expiring rule."""
    try:
        rules = parse_lifecycle(bucket)
    except ConfigError as exc:
        return Verdict(None, str(exc), ("LifecycleConfiguration",))
    lifecycle = _Lifecycle(bucket.get("Name", "<bucket>"), rules, EVERY_OBJECT)
    forced = lifecycle.forced()
    for size in size_candidates((r.filter for r in forced), EVERY_OBJECT):
        if not any(r.expires_current and r.filter.admits_size(size) for r in forced):
            sized = any(r.filter.has_size_bounds for r in forced)
            objects = f"objects of {size} bytes" if sized else "every object"
            return Verdict(False, lifecycle.no_rule_reason(_CURRENT, objects), tuple(r.label for r in rules))
    deciding = tuple(r.label for r in forced if r.expires_current)
    return Verdict(True, "enabled rules that expire current versions match every object: " + ", ".join(deciding),
                   deciding)


def deletes_noncurrent_versions(bucket: Mapping[str, Any]) -> Verdict:
    """Return whether any enabled rule ever permanently deletes a noncurrent version."""
    try:
        rules = parse_lifecycle(bucket)
        versioning = versioning_state(bucket)
    except ConfigError as exc:
        return Verdict(None, str(exc))
    name = bucket.get("Name", "<bucket>")
    if versioning == NEVER:
        return Verdict(False, f"versioning was never enabled on bucket {name}, so there are no noncurrent "
                              "versions to delete", ("Versioning",))
    deleting = tuple(r.label for r in rules if r.enabled and r.has_noncurrent_expiration)
    if deleting:
        return Verdict(True, "NoncurrentVersionExpiration in " + ", ".join(deleting), deleting)
    return Verdict(False, _Lifecycle(name, rules, EVERY_OBJECT).no_rule_reason(_NONCURRENT, "any object"),
                   tuple(r.label for r in rules))


@dataclass(frozen=True)
class _Action:
    """One kind of lifecycle action, with the words that explain its absence."""

    text: str                                  # "expires current versions of"
    lacks: str                                 # "does not expire current versions"
    performed_by: Callable[[LifecycleRule], bool]


_CURRENT = _Action("expires current versions of", "does not expire current versions",
                   lambda rule: rule.expires_current)
_NONCURRENT = _Action("has a NoncurrentVersionExpiration for", "has no NoncurrentVersionExpiration",
                      lambda rule: rule.has_noncurrent_expiration)


@dataclass(frozen=True)
class _Lifecycle:
    """The lifecycle rules of one bucket, applied to one scope of objects."""

    bucket: str
    rules: tuple[LifecycleRule, ...]
    scope: ObjectScope
    created: dt.date | None = None
    today: dt.date | None = None

    def forced(self) -> list[LifecycleRule]:
        """Return the enabled rules whose prefix and tags match every object in the scope."""
        return [r for r in self.rules if r.enabled and r.filter.match_keys_and_tags(self.scope) is Match.ALL]

    def longest_over_sizes(self, compute: Callable[[list[LifecycleRule], int], Retention]) -> Retention:
        """Return the longest of ``compute`` over every object size where the matching rules change."""
        forced = self.forced()
        sized = self.scope.size is None and any(r.filter.has_size_bounds for r in forced)
        results = []
        for size in size_candidates((r.filter for r in forced), self.scope):
            result = compute([r for r in forced if r.filter.admits_size(size)], size)
            if sized:
                result = Retention(result.kind, result.days, f"for objects of {size} bytes, {result.reason}",
                                   result.decided_by, result.notes)
            results.append(result)
        return longest(results)

    def current(self, forced: Sequence[LifecycleRule], size: int) -> Retention:
        """Return how long a current version of ``size`` bytes stays current under the ``forced`` rules."""
        bounds: list[tuple[int, LifecycleRule, str]] = []
        open_dates: list[LifecycleRule] = []
        for rule in forced:
            if rule.expiration_days is not None:
                bounds.append((rule.expiration_days, rule, f"{rule.label} expires current versions "
                                                           f"{rule.expiration_days} days after creation"))
            if rule.expiration_date is None:
                continue
            day = rule.expiration_date.isoformat()
            if self.created is not None:
                days = max(0, (rule.expiration_date - self.created).days)
                bounds.append((days, rule, f"{rule.label} expires objects on {day}, and objects created "
                                           "after that date at once"))
            elif self.today is not None and rule.expiration_date <= self.today:
                bounds.append((0, rule, f"{rule.label} expired every older object on {day} and expires "
                                        "objects created since then at once"))
            else:
                open_dates.append(rule)
        if bounds:
            days, rule, reason = min(bounds, key=lambda b: b[0])
            return Retention.of_days(days, reason, (rule.label,))
        if open_dates:
            rule = open_dates[0]
            return Retention.unknown(f"{rule.label} expires objects on {rule.expiration_date.isoformat()}, so the "
                                     "days an object lives depend on its creation date, which is not known",
                                     (rule.label,))
        return Retention.forever(self.no_rule_reason(_CURRENT, self.scope.describe()), self._labels())

    def noncurrent(self, forced: Sequence[LifecycleRule], size: int) -> Retention:
        """Return how long a version stays after it became noncurrent, under the ``forced`` rules."""
        bounded = [r for r in forced if r.noncurrent_days is not None and r.newer_noncurrent_versions is None]
        if bounded:
            rule = min(bounded, key=lambda r: r.noncurrent_days)
            return Retention.of_days(rule.noncurrent_days,
                                     f"{rule.label} deletes noncurrent versions {rule.noncurrent_days} days "
                                     "after they become noncurrent", (rule.label,))
        keeping = [r for r in forced if r.has_noncurrent_expiration]
        if keeping:
            rule = keeping[0]
            return Retention.forever(f"{rule.label} keeps the {rule.newer_noncurrent_versions} newest noncurrent "
                                     "versions of each object whatever their age (NewerNoncurrentVersions), so an "
                                     "object deleted once and never written again keeps them forever",
                                     (rule.label,))
        return Retention.forever(self.no_rule_reason(_NONCURRENT, self.scope.describe()), self._labels())

    def no_rule_reason(self, action: _Action, objects: str) -> str:
        """Explain why no enabled rule performs ``action`` on ``objects``, naming what each rule lacks."""
        if not self.rules:
            return f"bucket {self.bucket} has no lifecycle rules, so no rule {action.text} {objects}"
        details = []
        for rule in self.rules:
            if not action.performed_by(rule):
                extra = " (ExpiredObjectDeleteMarker removes only delete markers)" \
                    if rule.expired_object_delete_marker else ""
                details.append(f"{rule.label} {action.lacks}{extra}")
            elif not rule.enabled:
                details.append(f"{rule.label} is disabled")
            elif rule.filter.match_keys_and_tags(self.scope) is not Match.ALL or rule.filter.has_size_bounds:
                details.append(f"{rule.label} applies only to {rule.filter.describe()}")
        text = f"no enabled lifecycle rule of bucket {self.bucket} {action.text} {objects}"
        return text + (": " + "; ".join(details) if details else "")

    def _labels(self) -> tuple[str, ...]:
        return tuple(r.label for r in self.rules) or ("LifecycleConfiguration",)


def _with_lock(value: Retention, lock: ObjectLock) -> Retention:
    if lock.default_days is None:
        return value
    locked = Retention.of_days(lock.default_days, f"{lock.label} keeps every new version "
                                                  f"{lock.default_days} days after creation, and lifecycle "
                                                  "cannot delete it sooner", (lock.label,), lock.notes)
    return longest([value, locked])
