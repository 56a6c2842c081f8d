"""Small helpers shared by the tenant's components."""

from __future__ import annotations

from collections.abc import Mapping

from infra import tags
from infra.spec import PilotSpec

# Days a recovery point is kept at most: long enough to undo a bad week, short enough
# that the backup fits inside the store's retention (see store_lifecycle_days).
RECOVERY_WINDOW_DAYS = 7


def base_tags(spec: PilotSpec, purpose: str, **extra: str) -> dict[str, str]:
    """Tags every tenant resource carries, so the scanner can find it by customer."""
    values = {tags.CUSTOMER: spec.customer, tags.PURPOSE: purpose}
    values.update(extra)
    return values


def backup_retention_days(spec: PilotSpec) -> int:
    """Return the days every recovery point is kept (the backup plan's DeleteAfterDays).

    A recovery point can hold an object version made just before the version expires,
    so data lives in a backup for up to the store's lifecycle plus these days. The
    window is therefore also bounded by the days after pilot end, and leaves at least
    two days of lifecycle to each backed-up store.
    """
    backed_up = [s.retention_days - 2 for s in spec.stores if s.backup]
    return max(1, min([RECOVERY_WINDOW_DAYS, spec.retention_days_after_end, *backed_up]))


def store_lifecycle_days(spec: PilotSpec, retention_days: int, backed_up: bool) -> int:
    """Return the days an object's versions may stay in the bucket itself.

    For a backed-up store the backup window is taken off, so bucket plus backup
    together keep data no longer than the store's retention.
    """
    return retention_days - backup_retention_days(spec) if backed_up else retention_days


def lifecycle_split(retention_days: int) -> tuple[int, int]:
    """Split a retention period into (current-version days, noncurrent-version days).

    On a versioned bucket, expiring the current version only makes it noncurrent;
    the data is gone when the noncurrent version expires too. The two periods add
    up to the retention, so no version outlives it. Noncurrent versions keep up to
    7 days, enough to undo an accidental overwrite.

    >>> lifecycle_split(90), lifecycle_split(2)
    ((83, 7), (1, 1))
    """
    if retention_days < 2:
        raise ValueError(f"retention of {retention_days} days cannot cover current and noncurrent versions")
    noncurrent = max(1, min(7, retention_days // 2))
    return retention_days - noncurrent, noncurrent


def lifecycle_rules(retention_days: int) -> list[Mapping]:
    """Whole-bucket lifecycle rules for a versioned bucket kept ``retention_days`` at most."""
    current, noncurrent = lifecycle_split(retention_days)
    return [
        {
            "id": f"expire-after-{retention_days}-days",
            "status": "Enabled",
            "filter": {},
            "expiration": {"days": current},
            "noncurrent_version_expiration": {"noncurrent_days": noncurrent},
            "abort_incomplete_multipart_upload": {"days_after_initiation": 1},
        },
        {
            # A separate rule: S3 rejects ExpiredObjectDeleteMarker next to Days.
            "id": "remove-expired-delete-markers",
            "status": "Enabled",
            "filter": {},
            "expiration": {"expired_object_delete_marker": True},
        },
    ]
