"""Retention rules: stores carry the tags the spec declares, and no copy of their data outlives its limit.

Every figure comes from ``datamap.retention``, which models what AWS does. A store's
limit is the stricter of its ``pilot:retention-days`` tag and its spec entry.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator

from datamap.inventory import Resource, thaw
from datamap.retention import (
    BucketRetention, Retention, bucket_retention, copy_retention, log_group_retention, rule_retention,
)
from datamap.retention.backup import rule_label
from infra import naming, tags
from infra.spec import CLASSIFICATIONS
from policies.context import CheckContext, StoreResource, positive_days
from policies.findings import Finding, ResourceRef, Severity, Status
from policies.rules.base import Rule, ref, scan_errors, unread_kind, upper_first
from policies.rules.selection import selects

log = logging.getLogger(__name__)

# retentionInDays values CloudWatch Logs accepts (PutRetentionPolicy reference).
LOG_RETENTION_DAYS = (1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557,
                      2922, 3288, 3653)


def check_store_tags(context: CheckContext, rule: Rule) -> Iterator[Finding]:
    """Check that each store carries the required tags, with values that agree with the pilot spec."""
    for store in context.stores:
        yield _store_tags_finding(context, rule, store)
    for missing in context.missing_stores():
        name = _expected_resource_name(context, missing.name, missing.kind)
        resource = ResourceRef("", name)
        if context.inventory.errors:
            yield rule.finding(Status.UNKNOWN, resource, "not in the inventory", f"store {missing.name} deployed",
                               f"Store {missing.name} ({name}) is declared in the pilot spec but is not in the "
                               "inventory, and the scan reported errors, so it may exist unread.",
                               fix="Fix the scan errors and run the check again.",
                               evidence=context.inventory.errors)
        else:
            yield rule.finding(Status.FAIL, resource, "not deployed", f"store {missing.name} deployed",
                               f"Store {missing.name} is declared in the pilot spec, but no resource named {name} "
                               "exists. Fix: deploy the tenant with `pulumi up`.", fix="Deploy the tenant.")


def _store_tags_finding(context: CheckContext, rule: Rule, store: StoreResource) -> Finding:
    resource = store.resource
    label = _label(resource)
    if "tags" in resource.errors:
        return rule.finding(Status.UNKNOWN, ref(resource), "tags not read", "required tags present",
                            f"The tags of {label} could not be read ({resource.errors['tags']}).",
                            fix="Grant the scanner permission to read tags and run the check again.")
    expected = _expected_tags(context, store)
    problems = []
    for key in rule.parameters["required_tags"]:
        value = resource.tags.get(key)
        if not value:
            problems.append(f"{key} is missing")
        elif key in expected and expected[key] is not None and value != expected[key]:
            problems.append(f"{key} is {value!r}, expected {expected[key]!r}")
        elif key == tags.RETENTION_DAYS and positive_days(value) is None:
            problems.append(f"{key} is {value!r}, not a positive whole number of days")
        elif key == tags.CLASSIFICATION and value not in CLASSIFICATIONS:
            problems.append(f"{key} is {value!r}, not one of {', '.join(CLASSIFICATIONS)}")
    if context.spec is not None and store.spec_store is None:
        problems.append(f"store {store.name} is not declared in the pilot spec")

    observed = ", ".join(f"{k}={resource.tags.get(k, '')}" for k in rule.parameters["required_tags"])
    expected_text = ", ".join(f"{k}={expected.get(k) or '<any>'}" for k in rule.parameters["required_tags"])
    if problems:
        return rule.finding(Status.FAIL, ref(resource), observed, expected_text,
                            f"{upper_first(label)} has wrong store tags: {'; '.join(problems)}. "
                            f"Fix: set the tags {expected_text}.", fix=f"Set the tags {expected_text} on {label}.",
                            evidence=problems)
    if context.spec is None:
        return rule.finding(Status.UNKNOWN, ref(resource), observed, "tags that agree with the pilot spec",
                            f"{upper_first(label)} carries every store tag, but there is no pilot spec to compare "
                            "their values with.", fix="Run the check with the tenant's pilot spec.")
    return rule.finding(Status.PASS, ref(resource), observed, expected_text,
                        f"{upper_first(label)} carries the store tags the pilot spec expects.")


def _expected_tags(context: CheckContext, store: StoreResource) -> dict[str, str | None]:
    spec_store = store.spec_store
    customer = context.spec.customer if context.spec else context.inventory.customer
    by_name = context.spec_name_of(store.resource)
    return {
        tags.CUSTOMER: customer,
        tags.STORE: by_name or None,
        tags.RETENTION_DAYS: str(spec_store.retention_days) if spec_store else None,
        tags.CLASSIFICATION: spec_store.classification if spec_store else None,
    }


# Lifecycle variant -> (the period it measures, fix template).
_VERSIONS = {
    "current": ("keeps current versions", "Expiration.Days of at most {limit} in an enabled lifecycle rule whose "
                                          "filter is empty, so it covers the whole bucket"),
    "noncurrent": ("keeps noncurrent versions", "a NoncurrentVersionExpiration of at most {limit} days, without "
                                                "NewerNoncurrentVersions, in an enabled lifecycle rule whose filter "
                                                "is empty"),
    "data": ("keeps an object's data (current and noncurrent versions together)",
             "lifecycle expiration days plus noncurrent days of at most {limit} in an enabled rule whose filter is "
             "empty, and no Object Lock default retention longer than that"),
}
_NEEDED = {"current": ("LifecycleConfiguration",),
           "noncurrent": ("LifecycleConfiguration", "Versioning", "ObjectLockConfiguration"),
           "data": ("LifecycleConfiguration", "Versioning", "ObjectLockConfiguration")}


def check_bucket_lifecycle(context: CheckContext, rule: Rule) -> Iterator[Finding]:
    """Check that lifecycle settings delete current versions, noncurrent versions or all data within the limit."""
    versions = rule.parameters["versions"]
    keeps, fix_template = _VERSIONS[versions]
    stores = {s.resource.arn for s in context.stores}
    for resource in context.of_kind("s3_bucket"):
        limit = context.declared_limit(resource)
        if limit is None and resource.arn not in stores:
            continue  # neither a store nor a bucket whose tags declare a retention
        label = _label(resource)
        unread = [f"{key}: {resource.errors[key]}" for key in _NEEDED[versions] if key in resource.errors]
        if unread:
            yield rule.finding(Status.UNKNOWN, ref(resource), "not read", "settings readable",
                               f"The lifecycle settings of {label} could not be read ({'; '.join(unread)}).",
                               fix="Grant the scanner permission to read the bucket settings and run the check "
                                   "again.", evidence=unread)
            continue
        if limit is None:
            yield rule.finding(Status.UNKNOWN, ref(resource), "no limit declared", "a retention limit",
                               f"{upper_first(label)} has no {tags.RETENTION_DAYS} tag and no pilot spec entry, so "
                               "its retention limit is unknown.",
                               fix=f"Tag {label} with {tags.RETENTION_DAYS} or declare it in the pilot spec.")
            continue

        # The current, noncurrent and data rules read the same computation, so it is done once per bucket.
        result = context.derived_for(resource, "bucket retention", lambda: bucket_retention(
            {"Name": resource.name, **thaw(resource.attributes)}, today=context.today))
        value: Retention = getattr(result, versions)
        fix = f"Give {label} " + fix_template.format(limit=limit.days) + "."
        expected = f"at most {limit.days} days"
        evidence = (value.reason, *value.decided_by, *value.notes)
        verdict = value.at_most(limit.days)
        if verdict is None:
            yield rule.finding(Status.UNKNOWN, ref(resource), "unknown", expected,
                               f"How long {label} {keeps} is unknown: {value.reason}.", fix=fix, evidence=evidence)
        elif verdict is False:
            yield rule.finding(Status.FAIL, ref(resource), str(value), expected,
                               f"{upper_first(label)} {keeps} {_for(value)}, but its limit is {limit.days} days "
                               f"({limit.source}), because {value.reason}. Fix: {fix}", fix=fix, evidence=evidence)
        elif versions != "current" and result.per_version_locks_possible:
            yield _lock_unknown(rule, resource, label, keeps, value, expected, evidence)
        else:
            yield rule.finding(Status.PASS, ref(resource), str(value), expected,
                               f"{upper_first(label)} {keeps} {_for(value)}, within its limit of {limit.days} days "
                               f"({limit.source}).", fix=fix, evidence=evidence)


def _lock_unknown(rule: Rule, resource: Resource, label: str, keeps: str, value: Retention, expected: str,
                  evidence: tuple[str, ...]) -> Finding:
    return rule.finding(Status.UNKNOWN, ref(resource), str(value), expected,
                        f"{upper_first(label)} {keeps} {_for(value)} under its lifecycle, but Object Lock is "
                        "enabled, so a version uploaded with its own retain-until date or a legal hold can live "
                        "longer, and the inventory does not list per-version locks.",
                        fix=f"List object versions of {label} with their lock settings, or disable Object Lock "
                            "on a new bucket.", evidence=evidence)


def check_backup_retention(context: CheckContext, rule: Rule) -> Iterator[Finding]:
    """Check that recovery points and copies are deleted within min(store retention, days after pilot end)."""
    errors = scan_errors(context, "backup")
    if errors:
        yield unread_kind(rule, context, "backup plan", errors)
    for plan in context.of_kind("backup_plan"):
        label = f"backup plan {plan.name}"
        if context.spec is None:
            yield rule.finding(Status.UNKNOWN, ref(plan), "no pilot spec", "a limit from the pilot spec",
                               f"There is no pilot spec, so the retention limit of {label} is unknown.",
                               fix="Run the check with the tenant's pilot spec.")
            continue
        if not plan.known("Rules"):
            reason = plan.errors.get("Rules", "not recorded")
            yield rule.finding(Status.UNKNOWN, ref(plan), "rules not read", "rules readable",
                               f"The rules of {label} could not be read ({reason}).",
                               fix="Grant the scanner backup:GetBackupPlan and run the check again.")
            continue

        limit, limit_reason, scope = _backup_limit(context, plan)
        expected = f"at most {limit} days"
        rules = thaw(plan.get("Rules")) or []
        values = []
        for backup_rule in rules:
            values.append(rule_retention(backup_rule))
            values.extend(copy_retention(backup_rule, copy) for copy in backup_rule.get("CopyActions") or ())
        too_long = [v for v in values if v.at_most(limit) is False]
        unknown = [v for v in values if v.is_unknown]
        evidence = tuple(v.reason for v in values) + (limit_reason, scope)
        fix = (f"Set DeleteAfterDays of every rule and copy action in {label} to at most {limit} days "
               f"({', '.join(rule_label(r) for r in rules) or 'no rules'}).")
        if too_long:
            worst = too_long[0]
            observed = "; ".join(f"{v.decided_by[0] if v.decided_by else '?'}: {v}" for v in too_long)
            yield rule.finding(Status.FAIL, ref(plan), observed, expected,
                               f"{upper_first(label)} keeps recovery points {_for(worst)}, because {worst.reason}, "
                               f"but the pilot allows {limit} days ({limit_reason}, {scope}). Fix: {fix}", fix=fix,
                               evidence=evidence)
        elif unknown:
            yield rule.finding(Status.UNKNOWN, ref(plan), "unknown", expected,
                               f"How long {label} keeps recovery points is unknown: {unknown[0].reason}.",
                               fix=fix, evidence=evidence)
        else:
            longest_days = max((v.days for v in values), default=0)
            yield rule.finding(Status.PASS, ref(plan), f"at most {longest_days} days", expected,
                               f"{upper_first(label)} deletes every recovery point within {limit} days "
                               f"({limit_reason}).",
                               fix=fix, evidence=evidence)


def _backup_limit(context: CheckContext, plan: Resource) -> tuple[int, str, str]:
    """Return the plan's limit in days, what set it, and which stores were counted."""
    spec = context.spec
    buckets = [s for s in context.stores if s.resource.kind == "s3_bucket"]
    if plan.known("Selections"):
        selections = plan.get("Selections") or ()
        picked = [s for s in buckets if any(selects(sel, s.resource) for sel in selections)]
        scope = "stores counted: those its backup selections pick (" + \
            (", ".join(s.name for s in picked) or "none") + ")"
    else:
        picked = buckets
        scope = "stores counted: every store bucket, because the backup selections were not read"
        log.warning("backup plan %s: selections not read, so every store bucket counts", plan.name)
    parts = [(spec.retention_days_after_end, f"{spec.retention_days_after_end} days after pilot end")]
    for store in picked:
        limit = context.retention_limit(store)
        if limit is not None:
            parts.append((limit.days, f"store {store.name} keeps data {limit.days} days"))
    days, reason = min(parts, key=lambda part: part[0])
    if len(parts) > 1:
        reason += ", the smallest of " + ", ".join(text for _, text in parts)
    return days, reason, scope


def check_log_group_retention(context: CheckContext, rule: Rule) -> Iterator[Finding]:
    """Check that every log group has a retention period within its limit. No retention means forever and fails."""
    errors = scan_errors(context, "logs")
    if errors:
        yield unread_kind(rule, context, "log group", errors)
    for group in context.of_kind("log_group"):
        label = _label(group)
        if "retentionInDays" in group.errors:
            yield rule.finding(Status.UNKNOWN, ref(group), "not read", "a retention period",
                               f"The retention of {label} could not be read ({group.errors['retentionInDays']}).",
                               fix="Grant the scanner logs:DescribeLogGroups and run the check again.")
            continue
        limit = context.declared_limit(group)
        limit_days, source = (limit.days, limit.source) if limit else (None, "")
        value = log_group_retention({"logGroupName": group.name, **thaw(group.attributes)})
        evidence = (value.reason, source) if source else (value.reason,)

        if limit_days is None:
            expected = "a retention period"
            fix = (f"Tag {label} with {tags.RETENTION_DAYS} or declare it in the pilot spec, and set its "
                   "retentionInDays to match.")
            too_long = True if value.is_forever else None
        else:
            expected = f"at most {limit_days} days"
            allowed = max((d for d in LOG_RETENTION_DAYS if d <= limit_days), default=LOG_RETENTION_DAYS[0])
            fix = f"aws logs put-retention-policy --log-group-name {group.name} --retention-in-days {allowed}"
            too_long = None if value.is_unknown else value.at_most(limit_days) is False

        if too_long:
            violation = f"its limit is {limit_days} days ({source})" if limit_days is not None else \
                "every pilot log group needs a retention period, and no limit is declared for it"
            yield rule.finding(Status.FAIL, ref(group), str(value), expected,
                               f"{upper_first(label)} keeps events {_for(value)}, but {violation}. Fix: {fix}",
                               fix=fix, evidence=evidence)
        elif too_long is None:
            reason = value.reason if value.is_unknown else \
                f"no {tags.RETENTION_DAYS} tag or pilot spec entry gives its limit"
            yield rule.finding(Status.UNKNOWN, ref(group), str(value), expected,
                               f"Whether {label} keeps events too long is unknown: {reason}.", fix=fix,
                               evidence=evidence)
        else:
            yield rule.finding(Status.PASS, ref(group), str(value), expected,
                               f"{upper_first(label)} keeps events {value}, within its limit of {limit_days} days "
                               f"({source}).", fix=fix, evidence=evidence)


def _label(resource: Resource) -> str:
    kind = {"s3_bucket": "bucket", "log_group": "log group"}.get(resource.kind, resource.kind)
    return f"{kind} {resource.name}"


def _for(value: Retention) -> str:
    return "forever" if value.is_forever else f"for {value}"


def _expected_resource_name(context: CheckContext, store: str, kind: str) -> str:
    customer = context.spec.customer if context.spec else context.inventory.customer
    if kind == "s3":
        return naming.bucket(customer, store, context.inventory.account_id)
    return naming.log_group(customer, store)


REQUIRED_STORE_TAGS = (tags.STORE, tags.RETENTION_DAYS, tags.CLASSIFICATION, tags.CUSTOMER)

RULES = (
    Rule("PILOT-RET-001", "Stores carry retention tags that agree with the pilot spec", Severity.MEDIUM,
         "Retention checks, the data map and the backup selection read these tags; a missing or wrong tag "
         "hides a store or gives it the wrong limit.",
         "Set pilot:store, pilot:retention-days, pilot:classification and pilot:customer as the spec declares.",
         check_store_tags, {"required_tags": REQUIRED_STORE_TAGS}),
    Rule("PILOT-RET-002", "Bucket lifecycle expires current versions within the store's retention",
         Severity.HIGH,
         "A current version that no rule expires stays forever; a prefix or tag filter leaves other objects out.",
         "Add an enabled lifecycle rule with an empty filter and Expiration.Days within the limit.",
         check_bucket_lifecycle, {"versions": "current"}),
    Rule("PILOT-RET-003", "Bucket lifecycle deletes noncurrent versions within the store's retention",
         Severity.HIGH,
         "On a versioned bucket, expiring or overwriting an object leaves its data as a noncurrent version, "
         "which stays forever unless a NoncurrentVersionExpiration deletes it.",
         "Add a NoncurrentVersionExpiration within the limit to an enabled rule with an empty filter.",
         check_bucket_lifecycle, {"versions": "noncurrent"}),
    Rule("PILOT-RET-004", "An object's data is gone within the store's retention", Severity.HIGH,
         "Data lives through its current period and then its noncurrent period; only the sum shows when the "
         "last copy in the bucket is gone.",
         "Keep expiration days plus noncurrent days within the limit.",
         check_bucket_lifecycle, {"versions": "data"}),
    Rule("PILOT-RET-005", "Backups are deleted within the pilot's retention", Severity.HIGH,
         "A recovery point is a copy of customer data; it must not outlive the store it copies or the days "
         "allowed after the pilot ends.",
         "Set DeleteAfterDays of every backup rule and copy action to at most min(store retention, "
         "retentionDaysAfterEnd).",
         check_backup_retention),
    Rule("PILOT-RET-006", "Log groups have a retention period within their limit", Severity.HIGH,
         "A log group without retentionInDays keeps every event forever.",
         "Set retentionInDays to the largest allowed value within the limit.",
         check_log_group_retention),
)
