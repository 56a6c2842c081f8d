"""Data protection rules: tenant data is encrypted with a tenant KMS key, never public, and reachable only over TLS.

The encryption and public access rules read each resource's own settings. The TLS
rule has the IAM evaluator of ``datamap.iam`` decide a plain-HTTP request as AWS would,
so a bucket passes only when an explicit Deny certainly matches that request for every
principal tried. ``bucket_policy`` and ``probe_callers`` are shared with the audit
rules.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from datamap.iam.context import RequestContext, Tri
from datamap.iam.errors import PolicyError
from datamap.iam.evaluation import DenyMatch, explicit_deny
from datamap.iam.policy import Statement, parse_policy
from datamap.iam.principals import Caller, anonymous_caller, parse_caller
from datamap.iam.targets import FRESH
from datamap.inventory import Resource, thaw
from policies.context import CheckContext
from policies.findings import Finding, Severity, Status
from policies.rules.base import Rule, ref, scan_errors, unread_kind, upper_first

PAB_FLAGS = ("BlockPublicAcls", "IgnorePublicAcls", "BlockPublicPolicy", "RestrictPublicBuckets")
# Requests a plain-HTTP caller could make: action and ARN form ("bucket" or "object").
PLAIN_HTTP_REQUESTS = (("s3:GetObject", "object"), ("s3:PutObject", "object"), ("s3:ListBucket", "bucket"))
KMS_ALGORITHMS = ("aws:kms", "aws:kms:dsse")
# Request-context keys that anonymous requests do not carry (IAM User Guide, "AWS global
# condition context keys", the Availability of each key).
ANONYMOUS_ABSENT_KEYS = ("aws:PrincipalArn", "aws:PrincipalOrgID", "aws:PrincipalOrgPaths", "aws:PrincipalTag/*",
                         "aws:PrincipalIsAWSService", "aws:PrincipalServiceName", "aws:PrincipalServiceNamesList",
                         "aws:username")


@dataclass(frozen=True)
class ResourcePolicy:
    """A bucket's parsed policy: ``statements`` None means the bucket has no policy."""

    statements: tuple[Statement, ...] | None
    problem: str = ""    # why the policy cannot be judged (not read, or invalid); "" when it can
    invalid: bool = False

    @property
    def fix(self) -> str:
        """Return what makes the policy readable again."""
        return "Correct the bucket policy document." if self.invalid else \
            "Grant the scanner s3:GetBucketPolicy and run the check again."


def bucket_policy(context: CheckContext, bucket: Resource) -> ResourcePolicy:
    """Return the bucket's policy statements, or the reason they cannot be judged, parsed once per record."""
    return context.derived_for(bucket, "bucket policy", lambda: _parse_bucket_policy(bucket))


def _parse_bucket_policy(bucket: Resource) -> ResourcePolicy:
    if not bucket.known("Policy"):
        return ResourcePolicy(None, bucket.errors.get("Policy", "the bucket policy was not recorded"))
    document = bucket.get("Policy")
    if document is None:
        return ResourcePolicy(None)
    try:
        return ResourcePolicy(parse_policy(thaw(document), f"bucket {bucket.name} bucket policy", "resource").statements)
    except PolicyError as exc:
        return ResourcePolicy(None, f"the bucket policy is invalid: {exc}", invalid=True)


def object_arn(bucket: Resource) -> str:
    """Return an object ARN of the bucket whose key only wildcards match, so it stands for every key."""
    return f"{bucket.arn}/{FRESH}"


def other_account(account: str) -> str:
    """Return an account id that is not ``account``, for a caller from outside."""
    return "999999999999" if account != "999999999999" else "888888888888"


@dataclass(frozen=True)
class Probe:
    """A caller to try a request as, with the request-context keys known about it."""

    label: str
    caller: Caller
    values: dict[str, Any]
    absent: tuple[str, ...] = ()      # keys that requests of this caller never carry


def probe_callers(context: CheckContext, partition: str) -> tuple[Probe, ...]:
    """Return callers that together stand for any principal: anonymous, outsiders, the account root, tenant principals.

    An anonymous request carries no principal ARN, organization or tags, and its
    aws:PrincipalAccount is "anonymous", so a Deny whose condition needs a signed
    caller does not cover it. Its aws:PrincipalType and aws:userid are left unknown.
    """
    account = context.inventory.account_id or "111111111111"
    outside = other_account(account)
    made_up = [(f"a principal of another account ({outside})", f"arn:{partition}:iam::{outside}:user/pilotctl-probe"),
               (f"a principal of account {account} outside the tenant",
                f"arn:{partition}:iam::{account}:user/pilotctl-probe-not-in-tenant"),
               (f"the account root of {account}", f"arn:{partition}:iam::{account}:root")]
    probes = [Probe("an anonymous caller", anonymous_caller(), {"aws:PrincipalAccount": "anonymous"},
                    absent=ANONYMOUS_ABSENT_KEYS)]
    for label, arn in made_up:
        caller = parse_caller(arn)
        probes.append(Probe(label, caller, {"aws:PrincipalArn": arn, "aws:PrincipalAccount": caller.account}))
    for principal in context.principals:
        probes.append(Probe(f"{principal.kind} {principal.name}", principal.caller, dict(principal.context),
                            absent=tuple(principal.absent)))
    return tuple(probes)


def plain_http_context(probe: Probe, owner: str) -> RequestContext:
    """Return the request context of a plain-HTTP request by ``probe`` on a resource of account ``owner``.

    The request is not over TLS and, unless the probe lists aws:PrincipalIsAWSService as
    absent, not made by an AWS service. Every other key is unknown unless the probe
    gives its value or lists it as absent.
    """
    values = {**probe.values, "aws:SecureTransport": False}
    if "aws:PrincipalIsAWSService" not in probe.absent:
        values["aws:PrincipalIsAWSService"] = False
    if owner:
        values["aws:ResourceAccount"] = owner
    return RequestContext(values, ("*",), probe.absent)


def plain_http_probes(context: CheckContext, partition: str) -> tuple[tuple[Probe, RequestContext], ...]:
    """Return ``probe_callers`` with each probe's plain-HTTP request context, built once per context."""
    owner = context.inventory.account_id
    return context.derived(("plain-HTTP probes", partition), lambda: tuple(
        (probe, plain_http_context(probe, owner)) for probe in probe_callers(context, partition)))


def plain_http_denied(probe: Probe, request_context: RequestContext, action: str, arn: str,
                      statements: tuple[Statement, ...]) -> DenyMatch:
    """Return whether a Deny in the bucket policy ``statements`` denies this plain-HTTP request of ``probe``.

    "TLS only" means plain HTTP is denied whatever else grants access, so only an
    explicit Deny counts and the Allow side is not evaluated. ``request_context`` comes
    from ``plain_http_context(probe, owner)``.
    """
    return explicit_deny(probe.caller, request_context, action, arn, (), None, statements)


def check_tls_only(context: CheckContext, rule: Rule) -> Iterator[Finding]:
    """Check that each tenant bucket's policy explicitly denies plain-HTTP requests on the bucket and its objects."""
    errors = scan_errors(context, "s3")
    if errors:
        yield unread_kind(rule, context, "S3 bucket", errors)
    for bucket in context.of_kind("s3_bucket"):
        label = f"bucket {bucket.name}"
        expected = "a Deny for aws:SecureTransport false on the bucket and its objects, for every principal"
        fix = (f"Add to the policy of {label} a statement with Effect Deny, Principal \"*\", Action \"s3:*\", "
               f"Resource [\"{bucket.arn}\", \"{bucket.arn}/*\"] and Condition "
               "{\"Bool\": {\"aws:SecureTransport\": \"false\"}}.")
        policy = bucket_policy(context, bucket)
        if policy.problem:
            yield rule.finding(Status.UNKNOWN, ref(bucket), "policy not readable", expected,
                               f"Whether {label} refuses plain HTTP is unknown: {policy.problem}.", fix=policy.fix)
            continue
        if policy.statements is None:
            yield rule.finding(Status.FAIL, ref(bucket), "no bucket policy", expected,
                               f"{upper_first(label)} has no bucket policy, so nothing denies plain-HTTP requests. "
                               f"Fix: {fix}", fix=fix)
            continue
        yield _tls_finding(context, rule, bucket, policy.statements, expected, fix)


def _tls_finding(context: CheckContext, rule: Rule, bucket: Resource, statements: tuple[Statement, ...],
                 expected: str, fix: str) -> Finding:
    label = f"bucket {bucket.name}"
    partition = bucket.arn.split(":")[1] if bucket.arn.startswith("arn:") else "aws"
    probes = plain_http_probes(context, partition)
    gaps: dict[str, list[str]] = {}       # request -> the probes it is not explicitly denied for
    undecided, deciding, evidence = [], {}, []
    for probe, request_context in probes:
        for action, form in PLAIN_HTTP_REQUESTS:
            arn = object_arn(bucket) if form == "object" else bucket.arn
            request = f"{action} on {'its objects' if form == 'object' else 'the bucket'}"
            denied = plain_http_denied(probe, request_context, action, arn, statements)
            if denied.value is Tri.TRUE:
                deciding.update(dict.fromkeys(str(s) for s in denied.statements))
            elif denied.value is Tri.UNKNOWN:
                undecided.append(f"{request} by {probe.label} depends on "
                                 f"{', '.join(denied.unknown_conditions) or 'unreadable content'}")
            else:
                gaps.setdefault(request, []).append(probe.label)
                evidence.append(f"{request} by {probe.label} is not denied, because no Deny statement matches it")
    if gaps:
        parts = [f"{request} (by {len(labels)} of {len(probes)} principals tried, such as {labels[0]})"
                 for request, labels in gaps.items()]
        return rule.finding(Status.FAIL, ref(bucket), f"not denied: {', '.join(gaps)}", expected,
                            f"No Deny in the policy of {label} refuses these plain-HTTP requests, so any grant lets "
                            f"them through: {'; '.join(parts)}. Fix: {fix}", fix=fix, evidence=evidence)
    if undecided:
        return rule.finding(Status.UNKNOWN, ref(bucket), "undecided", expected,
                            f"Whether {label} refuses plain HTTP is unknown: {'; '.join(undecided[:3])}.",
                            fix=fix, evidence=undecided)
    return rule.finding(Status.PASS, ref(bucket), "plain HTTP explicitly denied", expected,
                        f"The policy of {label} explicitly denies plain-HTTP requests on the bucket and its objects "
                        f"for all {len(probes)} principals tried ({', '.join(deciding)}).", fix=fix,
                        evidence=list(deciding))


def check_public_access_block(context: CheckContext, rule: Rule) -> Iterator[Finding]:
    """Check that every tenant bucket has a public access block with all four settings true."""
    errors = scan_errors(context, "s3")
    if errors:
        yield unread_kind(rule, context, "S3 bucket", errors)
    expected = ", ".join(f"{flag}=true" for flag in PAB_FLAGS)
    for bucket in context.of_kind("s3_bucket"):
        label = f"bucket {bucket.name}"
        fix = (f"aws s3api put-public-access-block --bucket {bucket.name} --public-access-block-configuration "
               + ",".join(f"{flag}=true" for flag in PAB_FLAGS))
        if not bucket.known("PublicAccessBlock"):
            reason = bucket.errors.get("PublicAccessBlock", "not recorded")
            yield rule.finding(Status.UNKNOWN, ref(bucket), "not read", expected,
                               f"The public access block of {label} could not be read ({reason}).",
                               fix="Grant the scanner s3:GetBucketPublicAccessBlock and run the check again.")
            continue
        config = bucket.get("PublicAccessBlock")
        if config is None:
            yield rule.finding(Status.FAIL, ref(bucket), "no public access block", expected,
                               f"{upper_first(label)} has no public access block, so a bucket policy or ACL can "
                               f"make its data public. Fix: {fix}", fix=fix)
            continue
        off = [flag for flag in PAB_FLAGS if config.get(flag) is not True]
        observed = ", ".join(f"{flag}={str(config.get(flag)).lower()}" for flag in PAB_FLAGS)
        if off:
            yield rule.finding(Status.FAIL, ref(bucket), observed, expected,
                               f"The public access block of {label} leaves {', '.join(off)} off. Fix: {fix}",
                               fix=fix, evidence=[observed])
        else:
            yield rule.finding(Status.PASS, ref(bucket), observed, expected,
                               f"{upper_first(label)} blocks public ACLs and public policies.", fix=fix)


@dataclass(frozen=True)
class KeySetting:
    """The KMS key a resource encrypts with, as its own setting names it."""

    key: str | None        # the key reference as written (ARN, key id, alias); None: not a KMS key of its own
    observed: str          # the setting as the finding shows it
    unread: str = ""       # why the setting is unknown


def _bucket_key(bucket: Resource) -> KeySetting:
    if not bucket.known("Encryption"):
        return KeySetting(None, "not read", bucket.errors.get("Encryption", "not recorded"))
    config = bucket.get("Encryption")
    if config is None:
        return KeySetting(None, "no default encryption, so S3 uses SSE-S3 (AES256)")
    defaults = [rule.get("ApplyServerSideEncryptionByDefault") or {} for rule in config.get("Rules") or ()]
    kms = [d for d in defaults if d.get("SSEAlgorithm") in KMS_ALGORITHMS]
    if not kms:
        algorithms = ", ".join(str(d.get("SSEAlgorithm")) for d in defaults) or "no default encryption rule"
        return KeySetting(None, f"SSEAlgorithm {algorithms}")
    key = kms[0].get("KMSMasterKeyID")
    if not key:
        return KeySetting(None, f"SSEAlgorithm {kms[0]['SSEAlgorithm']} without KMSMasterKeyID, so S3 uses the AWS "
                                "managed key aws/s3")
    return KeySetting(key, f"SSEAlgorithm {kms[0]['SSEAlgorithm']} with KMSMasterKeyID {key}")


def _attribute_key(attribute: str, absent: str | None) -> Callable[[Resource], KeySetting]:
    """Return a reader of a key attribute; ``absent`` explains an empty value, None makes an empty value unknown."""
    def read(resource: Resource) -> KeySetting:
        if not resource.known(attribute):
            return KeySetting(None, "not read", resource.errors.get(attribute, "not recorded"))
        key = resource.get(attribute)
        if key:
            return KeySetting(key, f"{attribute} {key}")
        if absent is None:
            return KeySetting(None, f"no {attribute}", f"{attribute} is empty")
        return KeySetting(None, f"no {attribute}, so {absent}")
    return read


# Inventory kind -> (label, read its key setting, fix template; {name} and {key} are filled in).
ENCRYPTED_KINDS: dict[str, tuple[str, Callable[[Resource], KeySetting], str]] = {
    "s3_bucket": ("bucket", _bucket_key,
                  "Set the default encryption of bucket {name} to SSEAlgorithm aws:kms with KMSMasterKeyID {key}."),
    "log_group": ("log group", _attribute_key("kmsKeyId", "CloudWatch Logs encrypts with its own service key"),
                  "aws logs associate-kms-key --log-group-name {name} --kms-key-id {key}"),
    # Every vault has a key, so an empty EncryptionKeyArn means the listing left it out.
    "backup_vault": ("backup vault", _attribute_key("EncryptionKeyArn", None),
                     "A vault's key cannot be changed: create a vault encrypted with {key} and point the backup "
                     "plan at it, then delete vault {name}."),
    "cloudtrail_trail": ("trail", _attribute_key("KmsKeyId", "log files get only SSE-S3 encryption"),
                         "aws cloudtrail update-trail --name {name} --kms-key-id {key}"),
}


def tenant_key(context: CheckContext, reference: str) -> Resource | None:
    """Return the tenant's KMS key that an ARN, key id, alias name or alias ARN refers to."""
    alias = reference.split(":", 5)[-1] if reference.startswith("arn:") and ":alias/" in reference else reference
    for key in context.of_kind("kms_key"):
        if reference in (key.arn, key.get("KeyId")) or alias in (key.get("Aliases") or ()):
            return key
    return None


def check_kms_encryption(context: CheckContext, rule: Rule) -> Iterator[Finding]:
    """Check that every bucket, log group, backup vault and trail encrypts with a KMS key of the tenant.

    NOTE: a bucket's default encryption applies to objects written after it was set.
    Objects written earlier, or uploaded with their own encryption headers, keep
    theirs, and the inventory does not list objects.
    """
    errors = scan_errors(context, "s3", "logs", "backup", "cloudtrail")
    if errors:
        yield unread_kind(rule, context, "bucket, log group, backup vault or trail", errors)
    kms_errors = scan_errors(context, "kms")
    keys = context.of_kind("kms_key")
    suggested = (keys[0].get("Aliases") or [keys[0].arn])[0] if keys else "<tenant KMS key ARN>"
    expected = "a KMS key of the tenant"
    for resource in context.inventory.resources:
        if resource.kind not in ENCRYPTED_KINDS:
            continue
        kind_label, read, fix_template = ENCRYPTED_KINDS[resource.kind]
        label = f"{kind_label} {resource.name}"
        setting = read(resource)
        fix = fix_template.format(name=resource.name, key=suggested)
        if setting.unread:
            yield rule.finding(Status.UNKNOWN, ref(resource), "not read", expected,
                               f"The encryption setting of {label} could not be read ({setting.unread}).",
                               fix="Grant the scanner permission to read the setting and run the check again.")
            continue
        if setting.key is None:
            yield rule.finding(Status.FAIL, ref(resource), setting.observed, expected,
                               f"{upper_first(label)} is not encrypted with a tenant KMS key: {setting.observed}. "
                               f"Fix: {fix}", fix=fix)
            continue
        key = tenant_key(context, setting.key)
        if key is not None:
            yield rule.finding(Status.PASS, ref(resource), setting.observed, expected,
                               f"{upper_first(label)} encrypts with tenant key {key.name}.", fix=fix,
                               evidence=[f"{key.name} ({key.arn})"])
        elif kms_errors:
            yield rule.finding(Status.UNKNOWN, ref(resource), setting.observed, expected,
                               f"{upper_first(label)} encrypts with key {setting.key}, and the scan could not list "
                               f"every KMS key ({'; '.join(kms_errors)}), so whether it is a tenant key is unknown.",
                               fix="Fix the scan errors and run the check again.", evidence=kms_errors)
        else:
            yield rule.finding(Status.FAIL, ref(resource), setting.observed, expected,
                               f"{upper_first(label)} encrypts with key {setting.key}, which is not a key of the "
                               f"tenant (none carries its tag), so the tenant's key policy does not govern who can "
                               f"decrypt it. Fix: {fix}", fix=fix)


RULES = (
    Rule("PILOT-PRO-001", "Stores and copies are encrypted with a tenant KMS key", Severity.HIGH,
         "With the tenant's own KMS key, its key policy decides who can decrypt, the key's use is in the trail, and "
         "disabling the key at pilot end makes every copy unreadable. SSE-S3 (AES256) and AWS managed keys give "
         "none of that.",
         "Encrypt every bucket, log group, backup vault and trail with the tenant's KMS key.",
         check_kms_encryption),
    Rule("PILOT-PRO-002", "Public access is blocked on every tenant bucket", Severity.CRITICAL,
         "Without all four public access block settings, one bucket policy or ACL change makes customer data "
         "public. The rule reads the bucket's own block, because the account-level block is not in the inventory "
         "and is shared with everything else in the account.",
         "Turn on all four public access block settings on every tenant bucket.",
         check_public_access_block),
    Rule("PILOT-PRO-003", "Buckets accept only TLS requests", Severity.HIGH,
         "A request over plain HTTP exposes data and credentials on the network. The rule evaluates, with the IAM "
         "evaluator, plain-HTTP GetObject, PutObject and ListBucket requests by a principal of another account, a "
         "principal of the tenant's account outside the tenant, the account root and every tenant principal, and "
         "passes only when a bucket-policy Deny certainly matches each one.",
         "Add a bucket policy Deny for aws:SecureTransport false on the bucket and its objects, for Principal \"*\".",
         check_tls_only),
)
