"""How long CloudWatch Logs and CloudTrail keep events.

- A log group keeps events ``retentionInDays`` days; without the setting, forever.
  Log groups of the DELIVERY class keep events one day (CloudWatch Logs
  CreateLogGroup reference). CloudWatch Logs deletes expired events up to about
  72 hours late; that lag is ignored here.
- A trail writes log files to its bucket under
  ``<S3KeyPrefix>/AWSLogs/<account>/CloudTrail/<region>/...`` (without a prefix,
  under ``AWSLogs/``), so a lifecycle rule bounds them only when its prefix covers
  that path. Log files carry no object tags.
- A CloudTrail Lake event data store keeps events ``RetentionPeriod`` days.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from datamap.retention.result import Retention, longest
from datamap.retention.s3 import BucketRetention, bucket_retention
from datamap.retention.s3_scope import ObjectScope, whole_number


def log_group_retention(group: Mapping[str, Any]) -> Retention:
    """Return how long a log group (a ``describe_log_groups`` entry) keeps its events."""
    name = group.get("logGroupName", "<log group>")
    if group.get("logGroupClass") == "DELIVERY":
        return Retention.of_days(1, f"log group {name} is of the DELIVERY class, which keeps events one day",
                                 ("logGroupClass",))
    raw = group.get("retentionInDays")
    if raw is None:
        return Retention.forever(f"log group {name} has no retentionInDays, so CloudWatch Logs keeps its events "
                                 "forever", ("retentionInDays",))
    days = whole_number(raw)
    if days is None or days < 1:
        return Retention.unknown(f"log group {name} has retentionInDays {raw!r}, which is not a number of days",
                                 ("retentionInDays",))
    return Retention.of_days(days, f"log group {name} keeps events {days} days (retentionInDays)",
                             ("retentionInDays",))


def trail_key_prefix(trail: Mapping[str, Any]) -> str:
    """Return the key prefix every log file of the trail starts with.

    The account id comes from TrailARN. Organization trails write under
    ``AWSLogs/<organization id>/`` too, so for them, and when IsOrganizationTrail is
    absent, the prefix stops at ``AWSLogs/``. A shorter prefix can only make fewer
    lifecycle rules apply, so the retention computed from it is never too short.
    S3KeyPrefix absent means none, as ``describe_trails`` omits it when unset.
    """
    prefix = trail.get("S3KeyPrefix") or ""
    base = f"{prefix}/AWSLogs/" if prefix else "AWSLogs/"
    if trail.get("IsOrganizationTrail") is not False:
        return base
    parts = str(trail.get("TrailARN", "")).split(":")
    account = parts[4] if len(parts) > 5 and parts[4] else ""
    return f"{base}{account}/CloudTrail/" if account else base


def trail_bucket_retention(trail: Mapping[str, Any], bucket: Mapping[str, Any], *,
                           today: dt.date | None = None) -> BucketRetention:
    """Compute how long the trail's log files live in its S3 bucket.

    Raises ValueError when ``bucket`` is not the trail's S3BucketName.
    """
    if bucket.get("Name") != trail.get("S3BucketName"):
        raise ValueError(f"bucket {bucket.get('Name')!r} is not the bucket of trail {trail.get('Name')!r} "
                         f"({trail.get('S3BucketName')!r})")
    return bucket_retention(bucket, ObjectScope(prefix=trail_key_prefix(trail)), today=today)


@dataclass(frozen=True)
class TrailRetention:
    """Retention of a trail's events in its bucket and in its log group, and the longer of the two."""

    trail: str
    bucket: BucketRetention | None
    log_group: Retention | None
    longest: Retention


def trail_retention(trail: Mapping[str, Any], buckets: Iterable[Mapping[str, Any]],
                    log_groups: Iterable[Mapping[str, Any]] = (), *, today: dt.date | None = None) -> TrailRetention:
    """Compute how long the trail's events live in its bucket and in its CloudWatch Logs log group."""
    name = trail.get("Name", "<trail>")
    values = []
    bucket_result = None
    if trail.get("S3BucketName"):
        bucket = next((b for b in buckets if b.get("Name") == trail["S3BucketName"]), None)
        if bucket is None:
            values.append(Retention.unknown(f"bucket {trail['S3BucketName']} of trail {name} is not in the input",
                                            ("S3BucketName",)))
        else:
            bucket_result = trail_bucket_retention(trail, bucket, today=today)
            values.append(bucket_result.data)

    group_result = None
    group_arn = trail.get("CloudWatchLogsLogGroupArn")
    if group_arn:
        group_name = log_group_name(group_arn)
        group = next((g for g in log_groups if g.get("logGroupName") == group_name), None)
        if group is None:
            group_result = Retention.unknown(f"log group {group_name} of trail {name} is not in the input",
                                             ("CloudWatchLogsLogGroupArn",))
        else:
            group_result = log_group_retention(group)
        values.append(group_result)

    if not values:
        overall = Retention.unknown(f"trail {name} names neither a bucket nor a log group", ("trail",))
    else:
        overall = longest(values)
    return TrailRetention(name, bucket_result, group_result, overall)


def log_group_name(arn: str) -> str:
    """Return the log group name of a log group ARN, with or without the trailing ``:*``."""
    marker = ":log-group:"
    if marker not in arn:
        return arn
    name = arn.split(marker, 1)[1]
    return name[:-2] if name.endswith(":*") else name


def event_data_store_retention(store: Mapping[str, Any]) -> Retention:
    """Return how long a CloudTrail Lake event data store (``get_event_data_store`` body) keeps events."""
    body = store.get("EventDataStore", store)
    name = body.get("Name", "<event data store>")
    raw = body.get("RetentionPeriod")
    days = whole_number(raw)
    if days is None or days < 1:
        return Retention.unknown(f"event data store {name} has RetentionPeriod {raw!r}, which is not a number "
                                 "of days", ("RetentionPeriod",))
    return Retention.of_days(days, f"event data store {name} keeps events {days} days (RetentionPeriod)",
                             ("RetentionPeriod",))
