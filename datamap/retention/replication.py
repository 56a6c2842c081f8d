"""S3 replication: whether a bucket copies new objects to another, and how long the replicas live.

Replicas follow the destination bucket's own lifecycle. S3 does not replicate
lifecycle actions: delete markers that the source's lifecycle adds are never
replicated, even with delete-marker replication on, and neither are permanent
deletions of versions. So the source's lifecycle never shortens a replica's life.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from datamap.retention.result import Retention, Verdict, longest
from datamap.retention.s3 import BucketRetention, bucket_retention
from datamap.retention.s3_config import ENABLED, ConfigError, versioning_state
from datamap.retention.s3_scope import EVERY_OBJECT, FilterError, ObjectScope, parse_filter

SOURCE_LIFECYCLE_NOTE = ("the source bucket's lifecycle does not apply to replicas: S3 does not replicate "
                         "lifecycle actions")


@dataclass(frozen=True)
class ReplicationRoute:
    """One replication rule: where it copies which objects."""

    rule_id: str
    enabled: bool
    destination: str        # bucket name
    scope: ObjectScope      # the objects the rule copies

    @property
    def label(self) -> str:
        return f"replication rule {self.rule_id}"


def bucket_name(arn_or_name: str) -> str:
    """Return the bucket name of ``arn:aws:s3:::name`` (or of a plain name)."""
    return arn_or_name.split(":::", 1)[1] if ":::" in arn_or_name else arn_or_name


def replication_routes(bucket: Mapping[str, Any]) -> tuple[ReplicationRoute, ...]:
    """Return the bucket's replication rules; raise ConfigError when they were not read or are malformed."""
    name = bucket.get("Name", "<bucket>")
    if "ReplicationConfiguration" not in bucket:
        raise ConfigError(f"the replication configuration of bucket {name} was not read")
    config = bucket["ReplicationConfiguration"]
    if config is None:
        return ()
    raw_rules = config.get("Rules") if isinstance(config, Mapping) else None
    if raw_rules is None or isinstance(raw_rules, (str, bytes)) or not isinstance(raw_rules, Sequence):
        raise ConfigError(f"the replication configuration of bucket {name} has no Rules list")
    routes = []
    for i, raw in enumerate(raw_rules):
        rule_id = raw.get("ID") or f"#{i}"
        where = f"replication rule {rule_id} of bucket {name}"
        destination = (raw.get("Destination") or {}).get("Bucket")
        if not isinstance(destination, str) or not destination:
            raise ConfigError(f"{where} has no Destination.Bucket")
        try:
            object_filter = parse_filter(raw, where)
        except FilterError as exc:
            raise ConfigError(str(exc)) from None
        if object_filter.has_size_bounds:
            raise ConfigError(f"{where} filters by object size, which replication does not support")
        scope = ObjectScope(prefix=object_filter.prefix, tags=dict(object_filter.tags))
        routes.append(ReplicationRoute(rule_id, raw.get("Status") == "Enabled", bucket_name(destination), scope))
    return tuple(routes)


def replicates_to(source: Mapping[str, Any], destination: str) -> Verdict:
    """Return whether new objects written to ``source`` are copied to the bucket ``destination``.

    Replication needs an enabled rule for that destination and versioning enabled on
    the source.
    """
    name = source.get("Name", "<bucket>")
    target = bucket_name(destination)
    try:
        routes = [r for r in replication_routes(source) if r.destination == target]
        versioning = versioning_state(source)
    except ConfigError as exc:
        return Verdict(None, str(exc))
    if not routes:
        return Verdict(False, f"no replication rule of bucket {name} has destination {target}",
                       ("ReplicationConfiguration",))
    enabled = [r for r in routes if r.enabled]
    if not enabled:
        labels = tuple(r.label for r in routes)
        return Verdict(False, f"{', '.join(labels)} to {target} {'is' if len(labels) == 1 else 'are'} disabled, "
                              "and a disabled rule copies nothing", labels)
    if versioning != ENABLED:
        return Verdict(None, f"bucket {name} replicates to {target}, but its versioning is {versioning}, and "
                             "replication needs versioning enabled on the source", ("Versioning",))
    labels = tuple(r.label for r in enabled)
    return Verdict(True, f"{', '.join(labels)} copies new objects to {target}", labels)


def replica_retention(source: Mapping[str, Any], replica: Mapping[str, Any], *,
                      today: dt.date | None = None) -> BucketRetention:
    """Compute how long objects replicated from ``source`` live in ``replica``.

    Every rule that names the replica counts, enabled or not, because a rule that is
    disabled now may have copied objects earlier. When no rule names the replica, the
    result covers every object in it.
    """
    target = replica.get("Name", "<bucket>")
    try:
        routes = [r for r in replication_routes(source) if r.destination == target]
    except ConfigError as exc:
        unknown = Retention.unknown(str(exc), ("ReplicationConfiguration",))
        return BucketRetention(target, EVERY_OBJECT, unknown, unknown, unknown)
    scopes = [r.scope for r in routes] or [EVERY_OBJECT]
    results = [bucket_retention(replica, scope, today=today) for scope in scopes]
    note = SOURCE_LIFECYCLE_NOTE
    return BucketRetention(
        bucket=target,
        scope=results[0].scope if len(results) == 1 else EVERY_OBJECT,
        current=longest(r.current for r in results).with_notes(note),
        noncurrent=longest(r.noncurrent for r in results).with_notes(note),
        data=longest(r.data for r in results).with_notes(note),
        per_version_locks_possible=any(r.per_version_locks_possible for r in results),
    )
