"""Retention along flows: every copy of a store's data is deleted within what the pilot spec allows.

The copies, the hops that made them and their retention come from ``datamap.flows``.
This module sets the limit of each copy and judges it. It returns one finding per
copy, and the message names the whole path, so a reader can see which hop keeps the
data too long.
"""

from __future__ import annotations

from collections.abc import Iterator

from datamap.flows import ACCESS_EVENT, AUDIT_LOG, BACKUP, BACKUP_COPY, EXPORT_EVENT, CopyRetention, flow_retention
from datamap.graph import build_graph
from datamap.inventory import Resource
from datamap.retention import Retention
from infra.spec import LOG_RETENTION_DAYS
from policies.context import CheckContext, StoreResource
from policies.findings import Finding, ResourceRef, Severity, Status
from policies.rules.base import Rule, tenant_ref, upper_first


def check_copy_retention(context: CheckContext, rule: Rule) -> Iterator[Finding]:
    """Check each copy of each store's data against the store's limit, the days after pilot end or the audit limit."""
    if context.spec is None:
        yield rule.finding(Status.UNKNOWN, tenant_ref(context), "no pilot spec", "limits from the pilot spec",
                           "There is no pilot spec, so how long each copy of the stores' data may live is unknown.",
                           fix="Run the check with the tenant's pilot spec.")
        return
    graph = build_graph(context.inventory, context.matrix, context.spec) if context.matrix is not None else None
    flows = flow_retention(context.inventory, context.spec, graph, today=context.today)
    stores = {s.resource.arn: s for s in context.stores}
    for store_flows in flows.values():
        store = stores.get(store_flows.arn)
        for copy in store_flows.copies:
            yield _copy_finding(context, rule, store, copy)


def _copy_finding(context: CheckContext, rule: Rule, store: StoreResource | None, copy: CopyRetention) -> Finding:
    resource = context.by_arn(copy.arn)
    where = ResourceRef(copy.arn, resource.name if resource is not None else copy.path[-1])
    path = copy.describe()
    value = copy.retention
    evidence = (value.reason, *value.decided_by, *value.notes, *((copy.doubt,) if copy.doubt else ()))

    limit = _limit(context, store, copy)
    if limit is None:
        return rule.finding(Status.UNKNOWN, where, str(value), "a retention limit",
                            f"{path} {_held(copy)}, but store {copy.path[0]} has no pilot:retention-days tag and no "
                            "pilot spec entry, so its limit is unknown.",
                            fix=f"Declare store {copy.path[0]} in the pilot spec.", evidence=evidence)
    days, source = limit
    expected = f"at most {days} days"
    evidence += (f"limit: {source}",)
    fix = _fix(copy, resource, days)

    verdict = value.at_most(days)
    if verdict is None:
        return rule.finding(Status.UNKNOWN, where, "unknown", expected,
                            f"How long {path} keeps data is unknown: {value.reason}. The spec allows {days} days "
                            f"({source}).", fix="Fix the scan errors or settings named above and run the check "
                                                "again.", evidence=evidence)
    if verdict is False and copy.doubt:
        return rule.finding(Status.UNKNOWN, where, str(value), expected,
                            f"{path} would keep data {_for(value)}, more than the {days} days the spec allows "
                            f"({source}), but whether this flow exists is unknown: {copy.doubt}.",
                            fix=upper_first(fix) + ".", evidence=evidence)
    if verdict is False:
        return rule.finding(Status.FAIL, where, str(value), expected,
                            f"{path} {_held(copy)}; the spec allows {days} days ({source}): {fix}. "
                            f"Why: {value.reason}.", fix=upper_first(fix) + ".", evidence=evidence)
    return rule.finding(Status.PASS, where, str(value), expected,
                        f"{path} {_held(copy)}, within the {days} days the spec allows ({source}).",
                        fix=upper_first(fix) + ".", evidence=evidence)


def _limit(context: CheckContext, store: StoreResource | None, copy: CopyRetention) -> tuple[int, str] | None:
    """Return the days ``copy`` may keep the data, and where that number comes from."""
    spec = context.spec
    if AUDIT_LOG in copy.flows:
        return spec.audit_retention_days, "the pilot spec's audit retention"
    limit = context.retention_limit(store) if store is not None else None
    if limit is None:
        return None
    source = f"the retention of store {store.name}: {limit.source}"
    if BACKUP not in copy.flows and BACKUP_COPY not in copy.flows:
        return limit.days, source
    after_end = spec.retention_days_after_end
    if after_end < limit.days:
        return after_end, (f"retentionDaysAfterEnd, shorter than {source}, since data written on the pilot's last "
                           f"day must be gone by {spec.data_deleted_by}")
    return limit.days, f"{source}, and retentionDaysAfterEnd is {after_end} days"


def _held(copy: CopyRetention) -> str:
    """Return "keeps data for 90 days after it is written" and the like, with the clock the copy counts from."""
    contents, since = {ACCESS_EVENT: ("records of each access", "the access"),
                       EXPORT_EVENT: ("exported data", "the export")}.get(copy.counted_from, ("data", "it is written"))
    if copy.retention.is_forever:
        return f"keeps {contents} forever"
    return f"keeps {contents} {_for(copy.retention)} after {since}"


def _for(value: Retention) -> str:
    if value.is_forever:
        return "forever"
    if value.is_days:
        return f"for {value}"
    return "for an unknown time"


def _fix(copy: CopyRetention, resource: Resource | None, limit: int) -> str:
    """Return the change that brings the copy within ``limit`` days, in words that name the setting."""
    made_within = copy.made_within
    room = limit - made_within.days if made_within.is_days else None
    name = resource.name if resource is not None else copy.path[-1]
    if copy.kind in (BACKUP, BACKUP_COPY):
        source = copy.path[-3] if copy.kind == BACKUP else copy.path[-5]
        if room is None or room < 1:
            return (f"the plan copies the data on every run while {source} keeps it ({made_within}), so no "
                    f"DeleteAfterDays keeps recovery points within {limit} days: shorten the lifecycle of {source} "
                    f"so that it plus DeleteAfterDays stays within {limit} days, or stop backing up {copy.path[0]} "
                    "(its pilot:backup tag or the plan's selection)")
        setting = "DeleteAfterDays" if copy.kind == BACKUP else "Lifecycle.DeleteAfterDays"
        extra = ""
        if made_within.days:
            extra = f", because the plan copies the data on every run while {source} keeps it ({made_within})"
        cold = " and no move to cold storage that keeps them longer" if "cold storage" in copy.kept.reason else ""
        return f"set {setting} of {copy.setting} to at most {room} days{cold}{extra}"
    if resource is not None and resource.kind == "log_group":
        allowed = max((d for d in LOG_RETENTION_DAYS if d <= limit), default=None)
        if allowed is None:
            return f"delete log group {name}, since no retentionInDays is as short as {limit} days"
        return f"run aws logs put-retention-policy --log-group-name {name} --retention-in-days {allowed}"
    versioned = resource is not None and (resource.get("Versioning") or {}).get("Status") in ("Enabled", "Suspended")
    if versioned:
        return (f"add an expiration lifecycle rule of at most {limit} days to {name}: an enabled rule with an empty "
                "filter whose Expiration.Days plus NoncurrentVersionExpiration.NoncurrentDays is at most "
                f"{limit}, since the bucket keeps noncurrent versions")
    return (f"add an expiration lifecycle rule of at most {limit} days to {name}, in an enabled rule with an empty "
            "filter")


RULES = (
    Rule("PILOT-RET-007", "Every copy of a store's data is deleted within what the spec allows", Severity.HIGH,
         "Data lives on in every copy the tenant makes: the store's versions, replicas, recovery points and their "
         "copies, audit and access logs, and exports. Each copy gets the store's retention as its limit, because "
         "the spec's retention is a promise about the data, wherever it is. Replication and backup copy the stored "
         "data itself, so its age carries over. An AWS Backup plan copies every unexpired version on each run, so "
         "a recovery point can hold data for as long as the store keeps it plus DeleteAfterDays. Recovery points "
         "and their copies are also bounded by retentionDaysAfterEnd. Data written on the pilot's last day must be "
         "gone by pilot end plus retentionDaysAfterEnd, and the plan keeps copying it after the pilot ends for as "
         "long as the store keeps it. Replicas are bounded by the store's retention only, like the store itself. "
         "CloudTrail data events name object keys, which may be customer data. Those audit records count from each "
         "access and are bounded by the spec's audit retention instead, because audit is a separate declared "
         "purpose. Access logs and exports are new records made at an access or an export, so they count from "
         "that event and are bounded by the store's retention. A copy whose retention is unknown, or that exceeds "
         "its limit along a flow that may not exist, is unknown.",
         "Bound every copy: lifecycle expiration on replica, log and export buckets, retentionInDays on log groups, "
         "and DeleteAfterDays on backup rules and copy actions, so the store's days plus DeleteAfterDays fit.",
         check_copy_retention),
)
