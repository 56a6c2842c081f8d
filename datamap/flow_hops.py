"""One hop of a flow: how long a bucket, log group or recovery point keeps data, and who can export it.

Helpers of ``datamap.flows``. Pure: they read inventory records and the tenant graph.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator, Mapping
from typing import Any

import networkx as nx

from datamap.graph import ACCESS, PERSON, who_can_reach
from datamap.inventory import Resource, thaw
from datamap.retention import EVERY_OBJECT, BucketRetention, ObjectScope, Retention, bucket_retention, plus
from datamap.retention import log_group_retention
from datamap.retention.backup import COLD_STORAGE_MIN_DAYS
from datamap.retention.s3_scope import whole_number
from infra.capabilities import Capability


def settings(resource: Resource) -> dict[str, Any]:
    """Return the resource's attributes as plain values, with the ``Name`` the retention functions read."""
    return {"Name": resource.name, **thaw(resource.attributes)}


def kept_in(resource: Resource, scope: ObjectScope = EVERY_OBJECT, today: dt.date | None = None) -> Retention:
    """Return how long a bucket (the objects in ``scope``) or a log group keeps data after it arrives."""
    if resource.kind == "log_group":
        if "retentionInDays" in resource.errors:
            return Retention.unknown(f"the retention of log group {resource.name} could not be read "
                                     f"({resource.errors['retentionInDays']})", ("retentionInDays",))
        return log_group_retention({"logGroupName": resource.name, **thaw(resource.attributes)})
    return with_scan_errors(resource, without_locks(bucket_retention(settings(resource), scope, today=today)))


def with_scan_errors(resource: Resource, value: Retention) -> Retention:
    """Return an unknown value with the resource's failed reads added to its reason; other values unchanged."""
    if not value.is_unknown or not resource.errors:
        return value
    errors = "; ".join(f"{key}: {error}" for key, error in sorted(resource.errors.items()))
    return Retention.unknown(f"{value.reason} ({errors})", value.decided_by, value.notes)


def without_locks(result: BucketRetention) -> Retention:
    """Return the data retention, or unknown when Object Lock lets single versions outlive it.

    The bucket settings do not show versions uploaded with their own retain-until date
    or a legal hold, so with Object Lock enabled the days from the settings are no
    upper bound.
    """
    value = result.data
    if not result.per_version_locks_possible or not value.is_days:
        return value
    return Retention.unknown(f"Object Lock is enabled on bucket {result.bucket}, so a version uploaded with its "
                             f"own retain-until date or a legal hold can outlive the {value} its settings give "
                             f"({value.reason})", value.decided_by + ("ObjectLockConfiguration",), value.notes)


def in_cold_storage(value: Retention, lifecycle: Mapping[str, Any] | None, owner: str) -> Retention:
    """Return how long recovery points live when cold storage keeps them longer than DeleteAfterDays.

    AWS Backup keeps a recovery point in cold storage at least 90 days and rejects a
    lifecycle that deletes it sooner. A record that shows such a lifecycle therefore
    describes a plan AWS would not accept, or one whose points live the 90 days.
    """
    move = whole_number((lifecycle or {}).get("MoveToColdStorageAfterDays"))
    if move is None or move < 0 or not value.is_days or value.days >= move + COLD_STORAGE_MIN_DAYS:
        return value
    floor = move + COLD_STORAGE_MIN_DAYS
    return Retention.of_days(
        floor, f"{owner} moves recovery points to cold storage after {move} days, and AWS Backup keeps them "
               f"there at least {COLD_STORAGE_MIN_DAYS} days, longer than DeleteAfterDays {value.days}, so they live "
               f"{floor} days", value.decided_by)


def after(made_within: Retention, kept: Retention, copying: str) -> Retention:
    """Return ``made_within`` plus ``kept``, where ``copying`` explains why copies are made for that long."""
    total = plus(made_within, kept)
    if total.is_days:
        return Retention(total.kind, total.days, f"{copying} ({made_within}), and {kept.reason}", total.decided_by,
                         total.notes)
    if made_within.kind is total.kind:
        how_long = "forever" if made_within.is_forever else "for an unknown time"
        return Retention(total.kind, None, f"{copying}, {how_long}: {made_within.reason}", total.decided_by,
                         total.notes)
    return kept


def export_grants(graph: nx.MultiDiGraph, source: str, sink: str) -> Iterator[tuple[str, str]]:
    """Yield (read status, export status) per principal that can read ``source`` and export into ``sink``.

    Statuses are "allow" or "unknown". People count with every role they assume
    together; other principals (roles no person assumes) count by their own grants.
    Reading is view or export on ``source``; filling a store that holds exports is
    export on it.
    """
    readers = who_can_reach(graph, source)
    writers = who_can_reach(graph, sink)
    for person, capabilities in readers.items():
        read = _best(capabilities.get(Capability.VIEW), capabilities.get(Capability.EXPORT))
        write = writers.get(person, {}).get(Capability.EXPORT)
        if read and write:
            yield read, write
    for principal, data in graph.nodes(data=True):
        if data["kind"] == PERSON:
            continue
        direct = {(target, edge["capability"]): edge["status"]
                  for _, target, edge in graph.out_edges(principal, data=True)
                  if edge["kind"] == ACCESS and target in (source, sink)}
        read = _best(direct.get((source, Capability.VIEW)), direct.get((source, Capability.EXPORT)))
        write = direct.get((sink, Capability.EXPORT))
        if read and write:
            yield read, write


def _best(*statuses: str | None) -> str | None:
    """Return "allow" if any status is, else "unknown" if any is present, else None."""
    present = [s for s in statuses if s]
    return min(present) if present else None
