"""Changed settings: the values that decide retention, encryption, exposure and audit, compared per record.

Each ``Check`` reads some attributes of one kind of record and returns named values
(``Value``). A value is compared as it is shown: retention as "30 days" or "forever"
(computed by ``datamap.retention``), KMS keys as ARNs whichever way the setting names
the key (id, alias or ARN). An attribute that either side could not read gives one
unknown item for that record and attribute, and the checks that need it are skipped.

IAM policies, bucket policies and key policies are not compared here: the access
matrix compares what they allow (``datamap.drift_access``).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from datamap.drift_items import DriftItem, Kind, fix_by_deploy, fix_or_declare, resource_label
from datamap.inventory import Inventory, Resource, thaw
from datamap.retention import (Retention, bucket_retention, copy_retention, log_group_retention, object_lock,
                               rule_retention, versioning_state)
from datamap.retention.s3_config import ConfigError

# Attributes whose absence means "not set", not "not read".
ABSENT_MEANS_UNSET = frozenset({"retentionInDays"})
PUBLIC_ACCESS_FLAGS = ("BlockPublicAcls", "IgnorePublicAcls", "BlockPublicPolicy", "RestrictPublicBuckets")


@dataclass(frozen=True)
class Value:
    """One compared value: what is shown, why it is so, or why it cannot be known."""

    shown: Any = None   # JSON-compatible; compared for equality
    detail: str = ""    # the setting that decided it, for the message
    unknown: str = ""   # the reason when the value cannot be known


class Keys:
    """One side's KMS keys, so that a key id, alias name, alias ARN or key ARN all resolve to the key ARN."""

    def __init__(self, inventory: Inventory):
        self._arns: dict[str, str] = {}
        self._aliases: dict[str, str] = {}
        for key in inventory.of_kind("kms_key"):
            aliases = list(key.get("Aliases") or ())
            prefix = key.arn.split(":key/", 1)[0]
            for name in [key.arn, key.arn.rsplit("/", 1)[-1], *aliases, *(f"{prefix}:{a}" for a in aliases)]:
                self._arns[name] = key.arn
            if aliases:
                self._aliases[key.arn] = aliases[0]

    def value(self, reference: Any) -> Value:
        if not reference:
            return Value("none")
        arn = self._arns.get(str(reference), str(reference))
        alias = self._aliases.get(arn)
        return Value(arn, f"{arn} is the key with alias {alias}" if alias else "")


@dataclass(frozen=True)
class Check:
    """Settings of one kind of record that drift compares."""

    kind: str
    reads: tuple[str, ...]                                    # attributes the values need
    values: Callable[[Mapping[str, Any], Keys], dict[str, Value]]
    fix: Callable[[str, str], str] = lambda customer, name: fix_or_declare(customer)
    # Shown for a setting that only one side has; None leaves it to another setting (such as a list of rule names).
    unset: str | None = "not set"


def _retention(value: Retention) -> Value:
    if value.is_unknown:
        return Value(unknown=value.reason)
    return Value(str(value), value.reason)


def _plain(value: Any) -> Value:
    return Value(value)


def _canonical(value: Any) -> Any:
    """Return a value with every list sorted, so that order alone is never a difference."""
    if isinstance(value, Mapping):
        return {key: _canonical(item) for key, item in sorted(value.items())}
    if isinstance(value, (list, tuple)):
        return sorted((_canonical(item) for item in value), key=lambda item: json.dumps(item, sort_keys=True))
    return value


# S3 -----------------------------------------------------------------------------------------

def _bucket_lifecycle(bucket: Mapping[str, Any], keys: Keys) -> dict[str, Value]:
    retention = bucket_retention(bucket)
    return {"current-version expiration": _retention(retention.current),
            "noncurrent-version expiration": _retention(retention.noncurrent)}


def _bucket_versioning(bucket: Mapping[str, Any], keys: Keys) -> dict[str, Value]:
    try:
        return {"versioning": Value(versioning_state(bucket))}
    except ConfigError as exc:
        return {"versioning": Value(unknown=str(exc))}


def _bucket_object_lock(bucket: Mapping[str, Any], keys: Keys) -> dict[str, Value]:
    try:
        lock = object_lock(bucket)
    except ConfigError as exc:
        return {"Object Lock": Value(unknown=str(exc))}
    if not lock.enabled:
        return {"Object Lock": Value("disabled")}
    days = f"default retention {lock.default_days} days" if lock.default_days else "no default retention"
    return {"Object Lock": Value(f"enabled, {days}", lock.label)}


def _bucket_encryption(bucket: Mapping[str, Any], keys: Keys) -> dict[str, Value]:
    rules = (bucket.get("Encryption") or {}).get("Rules") or []
    default = (rules[0].get("ApplyServerSideEncryptionByDefault") or {}) if rules else {}
    algorithm = default.get("SSEAlgorithm") or "none"
    if not default.get("KMSMasterKeyID"):
        return {"default encryption": Value(algorithm)}
    key = keys.value(default["KMSMasterKeyID"])
    return {"default encryption": Value(f"{algorithm} with key {key.shown}", key.detail)}


def _bucket_public_access(bucket: Mapping[str, Any], keys: Keys) -> dict[str, Value]:
    config = bucket.get("PublicAccessBlock") or {}
    return {f"public access block {flag}": Value(bool(config.get(flag, False))) for flag in PUBLIC_ACCESS_FLAGS}


def _bucket_copies(bucket: Mapping[str, Any], keys: Keys) -> dict[str, Value]:
    replication = bucket.get("ReplicationConfiguration") or {}
    routes = [f"rule {rule.get('ID', '?')} ({rule.get('Status', '?')}) to "
              f"{(rule.get('Destination') or {}).get('Bucket', '?')}" for rule in replication.get("Rules") or ()]
    logging = bucket.get("Logging") or {}
    target = f"{logging.get('TargetBucket')}/{logging.get('TargetPrefix', '')}" if logging else "off"
    return {"replication": Value(sorted(routes)), "access logging": Value(target)}


# Logs, KMS, Backup, CloudTrail, IAM users ----------------------------------------------------

def _log_group(group: Mapping[str, Any], keys: Keys) -> dict[str, Value]:
    return {"retention": _retention(log_group_retention(group)), "encryption key": keys.value(group.get("kmsKeyId"))}


def _key(key: Mapping[str, Any], keys: Keys) -> dict[str, Value]:
    return {"key rotation": _plain(key.get("KeyRotationEnabled")), "key state": _plain(key.get("KeyState")),
            "aliases": Value(sorted(key.get("Aliases") or ()))}


def _vault(vault: Mapping[str, Any], keys: Keys) -> dict[str, Value]:
    return {"encryption key": keys.value(vault.get("EncryptionKeyArn")),
            "Vault Lock": _plain(bool(vault.get("Locked"))),
            "Vault Lock minimum retention days": _plain(vault.get("MinRetentionDays")),
            "Vault Lock maximum retention days": _plain(vault.get("MaxRetentionDays"))}


def _backup_plan(plan: Mapping[str, Any], keys: Keys) -> dict[str, Value]:
    rules = plan.get("Rules") or []
    values = {"rules": Value(sorted(str(rule.get("RuleName")) for rule in rules))}
    for rule in rules:
        name = f"rule {rule.get('RuleName')}"
        values[f"{name} retention (DeleteAfterDays)"] = _retention(rule_retention(rule))
        values[f"{name} target vault"] = Value(rule.get("TargetBackupVaultName"))
        values[f"{name} schedule"] = Value(rule.get("ScheduleExpression"))
        for copy in rule.get("CopyActions") or ():
            where = copy.get("DestinationBackupVaultArn", "?")
            values[f"{name} copy to {where} retention"] = _retention(copy_retention(rule, copy))
    selections = plan.get("Selections") or []
    values["selected resources"] = Value(sorted({arn for s in selections for arn in s.get("Resources") or ()}))
    values["selection tags and conditions"] = Value(_canonical(
        [{key: s.get(key) for key in ("ListOfTags", "Conditions", "NotResources") if s.get(key)} for s in selections]))
    values["selection role"] = Value(sorted({str(s.get("IamRoleArn")) for s in selections}))
    return values


def _trail_logging(trail: Mapping[str, Any], keys: Keys) -> dict[str, Value]:
    return {"logging (IsLogging)": _plain(trail.get("IsLogging"))}


def _trail(trail: Mapping[str, Any], keys: Keys) -> dict[str, Value]:
    management, data = [], []
    for selector in trail.get("EventSelectors") or ():
        mode = selector.get("ReadWriteType", "All")
        if selector.get("IncludeManagementEvents", True):
            excluded = selector.get("ExcludeManagementEventSources") or []
            management.append(mode + (f" except {', '.join(sorted(excluded))}" if excluded else ""))
        for resource in selector.get("DataResources") or ():
            data += [f"{resource.get('Type')} {value} ({mode})" for value in resource.get("Values") or ()]
    return {"log file validation": _plain(trail.get("LogFileValidationEnabled")),
            "multi-region": _plain(trail.get("IsMultiRegionTrail")),
            "log bucket": _plain(trail.get("S3BucketName")),
            "log group": _plain(trail.get("CloudWatchLogsLogGroupArn")),
            "encryption key": keys.value(trail.get("KmsKeyId")),
            "management events": Value(sorted(management) or "none"),
            "data events": Value(sorted(data) or "none"),
            "advanced event selectors": Value(_canonical(trail.get("AdvancedEventSelectors") or []))}


def _user(user: Mapping[str, Any], keys: Keys) -> dict[str, Value]:
    return {"console password": _plain(bool(user.get("LoginProfile"))),
            "access keys": _plain(user.get("AccessKeys"))}


def _start_logging(customer: str, name: str) -> str:
    return (f"start it with `aws cloudtrail start-logging --name {name}`, then find out from CloudTrail who "
            "stopped it")


def _rotate_keys(customer: str, name: str) -> str:
    return (f"delete keys and passwords the program does not create (`aws iam list-access-keys --user-name "
            f"{name}`), or declare them in the program")


CHECKS: tuple[Check, ...] = (
    Check("s3_bucket", ("LifecycleConfiguration", "Versioning", "ObjectLockConfiguration"), _bucket_lifecycle),
    Check("s3_bucket", ("Versioning",), _bucket_versioning),
    Check("s3_bucket", ("ObjectLockConfiguration",), _bucket_object_lock),
    Check("s3_bucket", ("Encryption",), _bucket_encryption),
    Check("s3_bucket", ("PublicAccessBlock",), _bucket_public_access),
    Check("s3_bucket", ("ReplicationConfiguration", "Logging"), _bucket_copies),
    Check("log_group", ("retentionInDays", "kmsKeyId"), _log_group),
    Check("kms_key", ("KeyRotationEnabled", "KeyState", "Aliases"), _key),
    Check("backup_vault", ("EncryptionKeyArn", "Locked", "MinRetentionDays", "MaxRetentionDays"), _vault),
    Check("backup_plan", ("Rules", "Selections"), _backup_plan, unset=None),
    Check("cloudtrail_trail", ("IsLogging",), _trail_logging, _start_logging),
    Check("cloudtrail_trail", ("LogFileValidationEnabled", "IsMultiRegionTrail", "S3BucketName", "KmsKeyId",
                               "CloudWatchLogsLogGroupArn", "EventSelectors", "AdvancedEventSelectors"), _trail),
    Check("iam_user", ("LoginProfile", "AccessKeys"), _user, _rotate_keys),
)


def compare_settings(pairs: Sequence[tuple[Resource, Resource]], planned: Inventory, deployed: Inventory,
                     pending: Mapping[str, list[str]]) -> list[DriftItem]:
    """Return changed and unknown items for records on both sides, paired (planned, deployed).

    ``pending`` has a list for each placeholder id left in planned values (a key or backup
    plan without a deployed match). A planned value that contains one cannot be compared:
    it is appended to that list as "<record>: <setting>" instead of becoming an item.
    """
    planned_keys, deployed_keys = Keys(planned), Keys(deployed)
    customer = planned.customer
    items: list[DriftItem] = []
    for plan, live in pairs:
        unread: set[str] = set()
        for check in (c for c in CHECKS if c.kind == plan.kind):
            missing = _unread_items(plan, live, check.reads, unread)
            if missing is not None:
                items += missing
                continue
            before = check.values(thaw(plan.attributes), planned_keys)
            after = check.values(thaw(live.attributes), deployed_keys)
            for setting in sorted(before.keys() | after.keys()):
                if check.unset is None and (setting not in before or setting not in after):
                    continue
                old = before.get(setting, Value(check.unset))
                new = after.get(setting, Value(check.unset))
                items += _compare_value(plan, setting, old, new, pending, check.fix(customer, plan.name))
        if plan.kind != "iam_policy":
            items += _tag_items(plan, live, customer)
    return items


def _unread_items(plan: Resource, live: Resource, reads: tuple[str, ...], reported: set[str]
                  ) -> list[DriftItem] | None:
    """Return unknown items for attributes either side lacks (each once per record), or None when all are read."""
    items = []
    for attribute in reads:
        reasons = [f"{side}: {reason}" for side, record in (("plan", plan), ("account", live))
                   if (reason := _unread(record, attribute))]
        if not reasons:
            continue
        if attribute not in reported:
            reported.add(attribute)
            items.append(DriftItem(
                Kind.UNKNOWN, plan.arn, attribute, None, None,
                f"{resource_label(plan)}: {attribute} cannot be compared ({'; '.join(reasons)})",
                "read the setting (scan with permission to read it, or declare it in the program) and compare again"))
    return items if any(_unread(r, a) for a in reads for r in (plan, live)) else None


def _unread(record: Resource, attribute: str) -> str:
    if attribute in record.errors:
        return record.errors[attribute]
    if attribute not in record.attributes and attribute not in ABSENT_MEANS_UNSET:
        return "not in the inventory"
    return ""


def _compare_value(plan: Resource, setting: str, old: Value, new: Value, pending: Mapping[str, list[str]],
                   fix: str) -> list[DriftItem]:
    label = resource_label(plan)
    waiting = [placeholder for placeholder in pending if placeholder in json.dumps(old.shown)]
    for placeholder in waiting:
        pending[placeholder].append(f"{label}: {setting}")
    if waiting:
        return []
    if old.unknown or new.unknown:
        reasons = [f"{side}: {value.unknown}" for side, value in (("plan", old), ("account", new)) if value.unknown]
        return [DriftItem(Kind.UNKNOWN, plan.arn, setting, old.shown, new.shown,
                          f"{label}: {setting} cannot be compared ({'; '.join(reasons)})",
                          "fix the setting that cannot be read or computed, then compare again")]
    if old.shown == new.shown:
        return []
    why = f" ({new.detail})" if new.detail else ""
    return [DriftItem(Kind.CHANGED, plan.arn, setting, old.shown, new.shown,
                      f"{label}: {setting} is {_show(new.shown)} in the account{why}, but {_show(old.shown)} in "
                      "the plan", fix)]


def _tag_items(plan: Resource, live: Resource, customer: str) -> list[DriftItem]:
    if "tags" in plan.errors or "tags" in live.errors:
        reason = plan.errors.get("tags") or live.errors.get("tags")
        return [DriftItem(Kind.UNKNOWN, plan.arn, "tags", None, None,
                          f"{resource_label(plan)}: its tags cannot be compared ({reason})",
                          "declare the tags with known values")]
    items = []
    for key in sorted(set(plan.tags) | set(live.tags)):
        old, new = plan.tags.get(key), live.tags.get(key)
        if old != new:
            items.append(DriftItem(Kind.CHANGED, plan.arn, f"tag {key}", old, new,
                                   f"{resource_label(plan)}: tag {key} is {_show(new)} in the account, but "
                                   f"{_show(old)} in the plan",
                                   fix_by_deploy(customer, "restore the tags") + "; the rules and the data map "
                                   "find stores, people and roles by these tags"))
    return items


def _show(value: Any) -> str:
    if value is None:
        return "not set"
    if isinstance(value, str):
        return value
    if isinstance(value, list):
        return "[" + ", ".join(_show(item) for item in value) + "]" if value else "none"
    return json.dumps(value, sort_keys=True)
