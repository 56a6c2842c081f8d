"""Audit rules: a trail records what happens to tenant data, and tenant principals cannot erase or shorten its logs.

The trail rules read the ``cloudtrail_trail`` records of the inventory. Data-event
coverage follows CloudTrail's event selector semantics, the protection of the
trail's bucket is decided by the IAM evaluator of ``datamap.iam``, and the
bucket's minimum lifetime of log files comes from its lifecycle as parsed by
``datamap.retention``.
"""

from __future__ import annotations

from collections.abc import Iterator

from datamap.access import DEFAULT_ASSUMPTIONS
from datamap.iam.context import Tri
from datamap.iam.evaluation import Decision, Reason, decide, explicit_deny
from datamap.iam.grants import MatrixBuilder, default_catalog
from datamap.inventory import Resource, thaw
from datamap.retention import ConfigError, Retention, parse_lifecycle, versioning_state
from datamap.retention.s3_config import NEVER, SUSPENDED
from datamap.retention.s3_scope import Match, ObjectScope, whole_number
from policies.context import CheckContext
from policies.findings import Finding, Severity, Status
from policies.rules.base import Rule, ref, scan_errors, tenant_ref, unread_kind, upper_first
from policies.rules.protection import bucket_policy, object_arn
from policies.rules.trail_events import coverage

# Requests the audit bucket policy must deny to every tenant principal: action and ARN form.
# Deleting the bucket policy would remove the Deny itself, so it is protected too.
PROTECTED_REQUESTS = (("s3:DeleteObject", "object"), ("s3:DeleteObjectVersion", "object"),
                      ("s3:PutLifecycleConfiguration", "bucket"), ("s3:PutBucketPolicy", "bucket"),
                      ("s3:DeleteBucketPolicy", "bucket"))
# Log files carry no object tags, so a lifecycle rule with a tag filter never matches one.
LOG_FILES = ObjectScope(exact_tags=True)


def _no_trail(context: CheckContext, rule: Rule, expected: str, consequence: str) -> Finding:
    """Return the finding for a tenant without a trail: unknown when the trail listing failed, else fail."""
    customer = context.inventory.customer
    errors = scan_errors(context, "cloudtrail")
    if errors:
        return unread_kind(rule, context, "CloudTrail trail", errors)
    if not context.inventory.resources:
        return empty_inventory(context, rule, expected)
    fix = (f"Deploy the tenant's trail (infra/components/audit.py), or tag the trail that covers the account "
           f"with pilot:customer={customer}.")
    return rule.finding(Status.FAIL, tenant_ref(context), "no trail", expected,
                        f"Tenant {customer} has no CloudTrail trail, so {consequence}. Fix: {fix}", fix=fix)


def empty_inventory(context: CheckContext, rule: Rule, expected: str) -> Finding:
    """Return the unknown finding for an inventory without resources, which points at the scan, not the tenant."""
    customer = context.inventory.customer
    return rule.finding(Status.UNKNOWN, tenant_ref(context), "empty inventory", expected,
                        f"The inventory of tenant {customer} holds no resources, so the scan probably looked in the "
                        "wrong account or region, or nothing carries the tenant tag.",
                        fix=f"Check the account, the region and the pilot:customer={customer} tags, and scan again.")


def check_trail_setting(context: CheckContext, rule: Rule) -> Iterator[Finding]:
    """Check that a trail exists and that a boolean setting (``attribute``) is true on every tenant trail."""
    attribute = rule.parameters["attribute"]
    meaning = rule.parameters["meaning"]
    trails = context.of_kind("cloudtrail_trail")
    if not trails:
        yield _no_trail(context, rule, f"a trail that {meaning}", rule.parameters["without_trail"])
        return
    for trail in trails:
        fix = rule.parameters["fix"].format(name=trail.name)
        expected = f"{attribute} true"
        if not trail.known(attribute):
            reason = trail.errors.get(attribute, "not recorded")
            yield rule.finding(Status.UNKNOWN, ref(trail), "not read", expected,
                               f"Whether trail {trail.name} {meaning} is unknown: {attribute} could not be read "
                               f"({reason}).", fix="Grant the scanner cloudtrail:GetTrail and "
                                                    "cloudtrail:GetTrailStatus and run the check again.")
        elif trail.get(attribute) is True:
            yield rule.finding(Status.PASS, ref(trail), expected, expected,
                               f"Trail {trail.name} {meaning} ({attribute} is true).", fix=fix)
        else:
            observed = f"{attribute} {str(trail.get(attribute)).lower()}"
            yield rule.finding(Status.FAIL, ref(trail), observed, expected,
                               f"Trail {trail.name} has {observed}, so it does not {rule.parameters['verb']}. "
                               f"Fix: {fix}", fix=fix)


def check_data_events(context: CheckContext, rule: Rule) -> Iterator[Finding]:
    """Check that a logging trail records read and write data events for every object of each S3 store."""
    trails = context.of_kind("cloudtrail_trail")
    buckets = [s for s in context.stores if s.resource.kind == "s3_bucket"]
    if not trails:
        if buckets:
            yield _no_trail(context, rule, "data events on every S3 store",
                            "nothing records who reads or writes objects in its S3 stores")
        return
    errors = scan_errors(context, "cloudtrail")
    for store in buckets:
        bucket = store.resource
        label = f"bucket {bucket.name} (store {store.name})"
        result = coverage(trails, bucket)
        expected = "read and write data events for every object"
        fix = (f"Add to a logging trail an event selector with ReadWriteType All and DataResources "
               f"{{Type: AWS::S3::Object, Values: [{bucket.arn}/]}}.")
        observed = f"reads {result.reads.describe()}, writes {result.writes.describe()}"
        if result.reads.covered is True and result.writes.covered is True:
            yield rule.finding(Status.PASS, ref(bucket), observed, expected,
                               f"Every read and write of objects in {label} is recorded: "
                               f"{'; '.join(result.deciding())}.", fix=fix, evidence=result.deciding())
        elif (result.reads.covered is False or result.writes.covered is False) and not errors:
            missing = " and ".join(kind for kind, part in (("reads", result.reads), ("writes", result.writes))
                                   if part.covered is False)
            yield rule.finding(Status.FAIL, ref(bucket), observed, expected,
                               f"No logging trail records all {missing} of objects in {label}: "
                               f"{'; '.join(result.gaps) or 'no data event selector names it'}. Fix: {fix}",
                               fix=fix, evidence=result.gaps)
        else:
            # With trails unlisted, a trail the scan missed may record what the listed ones do not.
            reasons = result.gaps + [f"the scan could not list every trail ({error})" for error in errors]
            yield rule.finding(Status.UNKNOWN, ref(bucket), observed, expected,
                               f"Whether every read and write of objects in {label} is recorded is unknown: "
                               f"{'; '.join(reasons)}.", fix=fix, evidence=reasons)


def _trail_buckets(context: CheckContext, rule: Rule, needed: str,
                   consequence: str) -> Iterator[Finding | tuple[Resource, Resource]]:
    """Yield (trail, its bucket) once per bucket, or the finding that replaces a missing trail or bucket."""
    trails = context.of_kind("cloudtrail_trail")
    if not trails:
        yield _no_trail(context, rule, needed, consequence)
        return
    seen = set()
    for trail in trails:
        if not trail.known("S3BucketName"):
            yield rule.finding(Status.UNKNOWN, ref(trail), "not read", needed,
                               f"The bucket of trail {trail.name} could not be read "
                               f"({trail.errors.get('S3BucketName', 'not recorded')}).",
                               fix="Grant the scanner cloudtrail:GetTrail and run the check again.")
            continue
        name = trail.get("S3BucketName")
        if not name or name in seen:
            continue
        seen.add(name)
        bucket = next((b for b in context.of_kind("s3_bucket") if b.name == name), None)
        if bucket is None:
            yield rule.finding(Status.UNKNOWN, ref(trail), f"bucket {name} not in the inventory", needed,
                               f"Trail {trail.name} writes to bucket {name}, which is not in the inventory (another "
                               f"account, or not tagged pilot:customer={context.inventory.customer}), so {needed} "
                               "cannot be checked.", fix=f"Tag bucket {name} with the tenant's pilot:customer, or "
                                                         "check it where it lives.")
            continue
        yield trail, bucket


def check_audit_bucket_protected(context: CheckContext, rule: Rule) -> Iterator[Finding]:
    """Check that every tenant principal is explicitly denied deleting or weakening the trail's log files."""
    needed = "an explicit Deny for every tenant principal"
    for item in _trail_buckets(context, rule, needed, "there are no audit logs that tenant principals are kept "
                                                      "from erasing"):
        if isinstance(item, Finding):
            yield item
            continue
        trail, bucket = item
        yield _protection_finding(context, rule, trail, bucket, needed)


def _protection_finding(context: CheckContext, rule: Rule, trail: Resource, bucket: Resource,
                        expected: str) -> Finding:
    label = f"audit bucket {bucket.name}"
    requests = rule.parameters["requests"]
    actions = ", ".join(action for action, _ in requests)
    fix = (f"Add to the policy of {label} a statement with Effect Deny, Principal \"*\", Action [{actions}], "
           f"Resource [\"{bucket.arn}\", \"{bucket.arn}/*\"] and Condition ArnLike aws:PrincipalArn on the "
           "tenant's role and user paths.")
    policy = bucket_policy(context, bucket)
    if policy.problem:
        return rule.finding(Status.UNKNOWN, ref(bucket), "policy not readable", expected,
                            f"Whether tenant principals can erase the logs of trail {trail.name} is unknown: "
                            f"{policy.problem}.", fix=policy.fix)
    iam_errors = scan_errors(context, "iam")
    builder = MatrixBuilder(context.inventory, context.spec, DEFAULT_ASSUMPTIONS, default_catalog())
    target = next(t for t in builder.targets if t.arn == bucket.arn)
    principals = context.principals
    policy_name = f"bucket {bucket.name} bucket policy"
    open_requests, undecided, deciding = [], [], {}
    for principal in principals:
        request_context = builder.context(principal, target)
        for action, form in requests:
            arn = object_arn(bucket) if form == "object" else bucket.arn
            # The Deny side alone settles the usual case. The whole decision is needed only to explain a gap.
            denied = explicit_deny(principal.caller, request_context, action, arn, principal.identity,
                                   principal.boundary, policy.statements)
            if denied.value is Tri.TRUE:
                by_bucket = [s for s in denied.statements if s.policy == policy_name]
                if by_bucket:
                    deciding.update(dict.fromkeys(str(s) for s in by_bucket))
                    continue
            result = decide(principal.caller, request_context, action, arn, context.inventory.account_id,
                            principal.identity, principal.boundary, policy.statements)
            request = f"{principal.kind} {principal.name} {action}"
            if result.reason is Reason.EXPLICIT_DENY:
                open_requests.append(f"{request} is denied only by {', '.join(str(s) for s in result.statements)}, "
                                     "which a tenant admin can change")
            elif result.decision is Decision.ALLOW:
                open_requests.append(f"{request} is allowed by {', '.join(str(s) for s in result.statements)}")
            elif result.decision is Decision.DENY:
                open_requests.append(f"{request} is refused only because no policy allows it today, and no Deny "
                                     "stops a tenant admin from adding an Allow")
            else:
                undecided.append(f"{request} depends on "
                                 f"{', '.join(result.unknown_conditions) or 'unreadable content'}")
    if open_requests:
        return rule.finding(Status.FAIL, ref(bucket), f"{len(open_requests)} requests not explicitly denied",
                            expected, f"The policy of {label} does not stop tenant principals from erasing or shortening the "
                            f"logs of trail {trail.name}: {'; '.join(open_requests[:4])}. Fix: {fix}", fix=fix,
                            evidence=open_requests)
    if undecided or iam_errors:
        reasons = undecided + list(iam_errors)
        return rule.finding(Status.UNKNOWN, ref(bucket), "undecided", expected,
                            f"Whether tenant principals can erase the logs of trail {trail.name} is unknown: "
                            f"{'; '.join(reasons[:4])}.", fix=fix, evidence=reasons)
    if not principals:
        return rule.finding(Status.PASS, ref(bucket), "no tenant principals", expected,
                            f"Tenant {context.inventory.customer} has no IAM users or roles that could erase the logs "
                            f"in {label}.", fix=fix)
    return rule.finding(Status.PASS, ref(bucket), f"{len(principals)} principals explicitly denied", expected,
                        f"The policy of {label} explicitly denies {actions} to all {len(principals)} tenant users "
                        f"and roles ({', '.join(deciding)}).", fix=fix, evidence=list(deciding))


def check_audit_retention(context: CheckContext, rule: Rule) -> Iterator[Finding]:
    """Check that the trail's bucket keeps every log file at least the spec's audit retention."""
    if context.spec is None:
        yield rule.finding(Status.UNKNOWN, tenant_ref(context), "no pilot spec", "the spec's audit retention",
                           f"There is no pilot spec, so the audit retention of tenant {context.inventory.customer} "
                           "is unknown.", fix="Run the check with the tenant's pilot spec.")
        return
    days = context.spec.audit_retention_days
    needed = f"log files kept at least {days} days"
    for item in _trail_buckets(context, rule, needed, "no audit log is kept at all"):
        if isinstance(item, Finding):
            yield item
            continue
        trail, bucket = item
        label = f"audit bucket {bucket.name}"
        fix = (f"Make every enabled lifecycle rule of {label} that can match log files expire current plus "
               f"noncurrent versions after {days} days or more.")
        lifetime = minimum_lifetime(bucket)
        verdict = lifetime.at_least(days)
        observed = "until deleted" if lifetime.is_forever else f"at least {lifetime}"
        if verdict is None:
            yield rule.finding(Status.UNKNOWN, ref(bucket), "unknown", needed,
                               f"How long {label} keeps the logs of trail {trail.name} is unknown: "
                               f"{lifetime.reason}.", fix=fix, evidence=lifetime.decided_by)
        elif verdict:
            yield rule.finding(Status.PASS, ref(bucket), observed, needed,
                               f"{upper_first(label)} keeps the logs of trail {trail.name} {observed}, at least as long "
                               f"as the pilot spec's audit retention of {days} days, because {lifetime.reason}.", fix=fix,
                               evidence=lifetime.decided_by)
        else:
            yield rule.finding(Status.FAIL, ref(bucket), str(lifetime), needed,
                               f"{upper_first(label)} can delete logs of trail {trail.name} after {lifetime}, but "
                               f"the pilot spec's audit retention is {days} days, because {lifetime.reason}. "
                               f"Fix: {fix}", fix=fix, evidence=lifetime.decided_by)


def minimum_lifetime(bucket: Resource) -> Retention:
    """Return the fewest days a log file lives in the bucket, or forever when no lifecycle rule deletes it.

    Every enabled rule without a tag filter counts, whatever its prefix, because the
    inventory does not record the trail's S3KeyPrefix. On a versioned bucket an
    expired log file stays as a noncurrent version until NoncurrentVersionExpiration
    deletes it. A rule with NewerNoncurrentVersions never deletes it, since each log
    file has one version. Object Lock default retention keeps a version at least
    that long.
    """
    attributes = {"Name": bucket.name, **thaw(bucket.attributes)}
    try:
        rules = parse_lifecycle(attributes)
        versioning = versioning_state(attributes)
        locked = _lock_minimum(attributes)
    except ConfigError as exc:
        return Retention.unknown(str(exc))
    matching = [r for r in rules if r.enabled and r.filter.match_keys_and_tags(LOG_FILES) is not Match.NONE]
    expiring = [(r.expiration_days, r) for r in matching if r.expiration_days is not None]
    expiring += [(0, r) for r in matching if r.expiration_date is not None]  # logs written after the date go at once
    if not expiring:
        return Retention.forever("no enabled lifecycle rule that can match log files expires them",
                                 [r.label for r in rules])
    days, current_rule = min(expiring, key=lambda pair: pair[0])
    reason = f"{current_rule.label} expires log files after {days} days"
    decided = [current_rule.label]
    if versioning not in (NEVER, SUSPENDED):
        deleting = [(r.noncurrent_days, r) for r in matching
                    if r.noncurrent_days is not None and r.newer_noncurrent_versions is None]
        if not deleting:
            return Retention.forever(reason + ", and no rule deletes them as noncurrent versions", decided)
        noncurrent, noncurrent_rule = min(deleting, key=lambda pair: pair[0])
        days += noncurrent
        reason += f" and {noncurrent_rule.label} deletes them {noncurrent} days after they become noncurrent"
        decided.append(noncurrent_rule.label)
    if locked is not None and locked[0] > days:
        return Retention.of_days(locked[0], f"{reason}, but {locked[1]} keeps them longer", (*decided, locked[1]))
    return Retention.of_days(days, reason, decided)


def _lock_minimum(bucket: dict) -> tuple[int, str] | None:
    """Return the days Object Lock default retention keeps each version at least, counting a year as 365 days."""
    if "ObjectLockConfiguration" not in bucket:
        raise ConfigError(f"the Object Lock configuration of bucket {bucket['Name']} was not read")
    config = bucket["ObjectLockConfiguration"] or {}
    default = (config.get("Rule") or {}).get("DefaultRetention") if config.get("ObjectLockEnabled") == "Enabled" \
        else None
    if not default:
        return None
    days = whole_number(default.get("Days"))
    if days is None and whole_number(default.get("Years")) is not None:
        days = whole_number(default.get("Years")) * 365
    return (days, f"Object Lock default retention ({days} days)") if days else None


RULES = (
    Rule("PILOT-AUD-001", "A tenant trail exists and is logging", Severity.HIGH,
         "Without a logging trail nobody can tell who read, changed or exported customer data, or who changed "
         "access; a trail that was stopped records nothing.",
         "Deploy the tenant's trail and keep logging on.",
         check_trail_setting, {"attribute": "IsLogging", "meaning": "is logging", "verb": "record events",
                               "without_trail": "nothing records who did what in it",
                               "fix": "aws cloudtrail start-logging --name {name}"}),
    Rule("PILOT-AUD-002", "Trail log file validation is on", Severity.MEDIUM,
         "Log file validation writes signed digest files, which show whether a log file was changed or deleted "
         "after CloudTrail delivered it.",
         "Turn on log file validation on every tenant trail.",
         check_trail_setting, {"attribute": "LogFileValidationEnabled", "meaning": "validates its log files",
                               "verb": "sign digests of its log files",
                               "without_trail": "no log file is written, let alone validated",
                               "fix": "aws cloudtrail update-trail --name {name} --enable-log-file-validation"}),
    Rule("PILOT-AUD-003", "Trail data events cover every S3 store", Severity.HIGH,
         "Management events do not show who read or wrote an object. Data events do, and only for the buckets, "
         "prefixes and read/write types the event selectors name; WriteOnly misses every read.",
         "Record S3 data events with ReadWriteType All for every store bucket, in a logging trail.",
         check_data_events),
    Rule("PILOT-AUD-004", "Tenant principals cannot erase or shorten the audit logs", Severity.HIGH,
         "If a tenant role can delete log files, versions, the lifecycle or the bucket policy of the trail's "
         "bucket, it can hide what it did. The rule evaluates DeleteObject, DeleteObjectVersion, "
         "PutLifecycleConfiguration, PutBucketPolicy and DeleteBucketPolicy for every tenant user and role and "
         "passes only on an explicit Deny in the bucket policy: a request refused only for lack of an Allow, or "
         "by the principal's own policies, is open to any admin who changes them.",
         "Add a bucket policy Deny on those actions for the tenant's role and user paths.",
         check_audit_bucket_protected, {"requests": PROTECTED_REQUESTS}),
    Rule("PILOT-AUD-005", "The audit bucket keeps logs as long as the pilot spec requires", Severity.HIGH,
         "Audit logs must outlive the questions asked about the pilot; the spec's audit retention says how long. "
         "The rule takes the earliest any enabled lifecycle rule can delete a log file, counting the noncurrent "
         "period on a versioned bucket.",
         "Make the audit bucket's lifecycle keep log files at least audit.retentionDays.",
         check_audit_retention),
)
