"""KMS keys, CloudWatch Logs log groups, AWS Backup vaults and plans, and CloudTrail trails.

Ids that AWS assigns on create (a KMS key id, a backup plan id) are placeholders in a
plan (``Scope.ids_from_aws`` False). Their records keep the placeholder in the ARN, so
references between records still match, but the id attribute itself is unknown.
"""

from __future__ import annotations

from typing import Any

from datamap.inventory import Resource
from datamap.sources.declared.s3 import parse_document
from datamap.sources.declared.values import (
    Declared,
    NotConverted,
    Record,
    Scope,
    Stack,
    Unknown,
    declared_tags,
    meaningful,
    normalized,
    text,
)
from infra import naming
from infra.sandbox.translate import event_selectors, plan_rules, selection_body

KEY = "aws:kms/key:Key"
ALIAS = "aws:kms/alias:Alias"
LOG_GROUP = "aws:cloudwatch/logGroup:LogGroup"
VAULT = "aws:backup/vault:Vault"
VAULT_LOCK = "aws:backup/vaultLockConfiguration:VaultLockConfiguration"
PLAN = "aws:backup/plan:Plan"
SELECTION = "aws:backup/selection:Selection"
TRAIL = "aws:cloudtrail/trail:Trail"
# Declared resources whose settings the inventory has no attribute for (nor does the live scanner read them).
NO_ATTRIBUTE_TYPES = ("aws:backup/vaultPolicy:VaultPolicy", "aws:backup/vaultNotifications:VaultNotifications")

# Types this module reads, so the caller does not report them as unconverted.
TYPES = (KEY, ALIAS, LOG_GROUP, VAULT, VAULT_LOCK, PLAN, SELECTION, TRAIL, *NO_ATTRIBUTE_TYPES)


def _name(record: Record, declared: Declared, attribute: str, noun: str) -> str:
    """Store the declared name under ``attribute`` and return it, or a placeholder when it is unknown."""
    name = declared.get("name")
    if isinstance(name, str) and name:
        record.attributes[attribute] = name
        return name
    record.unknown(attribute, f"the {noun} name is not known before deploy")
    return f"unknown-{noun.replace(' ', '-')}-name-of-{declared.name}"


def _finish(kind: str, arn: str, name: str, region: str, declared: Declared, record: Record) -> Resource:
    tags, tag_error = declared_tags(declared)
    if tag_error:
        record.unknown("tags", tag_error)
    return Resource(kind=kind, arn=arn, name=name, region=region, tags=tags, attributes=record.attributes,
                    errors=record.errors, declared_at=declared.declared_at)


def _assigned_id(record: Record, declared: Declared, scope: Scope, attribute: str, value: Any, what: str) -> None:
    if not scope.ids_from_aws:
        record.unknown(attribute, f"assigned by AWS when the {what} is created; the ARN holds a placeholder id")
    else:
        record.put(attribute, lambda: text(value) or text(declared.physical_id))


def key_to_resource(stack: Stack, key: Declared, scope: Scope) -> Resource:
    record = Record(key)
    region = scope.region_of(key)
    arn = key.values.get("arn")
    if not isinstance(arn, str) or not arn:
        arn = f"arn:{scope.partition}:kms:{region}:{scope.account_id}:key/unknown-id-of-{key.name}"
    key_id = key.values.get("keyId")
    _assigned_id(record, key, scope, "KeyId", key_id, "key")

    declared_policy = key.values.get("policy")
    if declared_policy is None:
        record.unknown("Policy", "no key policy is declared, so KMS applies its default key policy, which this "
                                 "converter does not model")
    else:
        record.put("Policy", lambda: parse_document(declared_policy))
    record.put("KeyRotationEnabled", lambda: bool(key.get("enableKeyRotation", False)))
    record.put("KeyState", lambda: "Enabled" if key.get("isEnabled", True) else "Disabled")
    record.put("Description", lambda: text(key.get("description")) or "")
    aliases = stack.attached(ALIAS, "targetKeyId", key, (key_id, arn, key.physical_id))
    record.put("Aliases", lambda: sorted(alias.get("name") for alias in aliases))

    names = record.attributes.get("Aliases") or []
    name = names[0] if names else record.attributes.get("KeyId") or arn.rsplit("/", 1)[-1]
    return _finish("kms_key", arn, name, region, key, record)


def log_group_to_resource(stack: Stack, group: Declared, scope: Scope) -> Resource:
    record = Record(group)
    region = scope.region_of(group)
    name = _name(record, group, "logGroupName", "log group")
    record.put("kmsKeyId", lambda: text(group.get("kmsKeyId")))
    # The inventory leaves retentionInDays out for a group that never expires, as the API does.
    # Pulumi state has 0 there.
    days = group.values.get("retentionInDays")
    if isinstance(days, Unknown):
        record.unknown("retentionInDays", f"{days.where} is not known before deploy")
    elif days:
        record.put("retentionInDays", lambda: int(days))
    return _finish("log_group", naming.log_group_arn(region, scope.account_id, name, scope.partition), name, region,
                   group, record)


def vault_to_resource(stack: Stack, vault: Declared, scope: Scope) -> Resource:
    record = Record(vault)
    region = scope.region_of(vault)
    name = _name(record, vault, "BackupVaultName", "backup vault")

    def encryption_key() -> str:
        key = text(vault.get("kmsKeyArn"))
        if key is None:
            raise NotConverted("no kmsKeyArn is declared, so AWS Backup picks a default key, which this converter "
                               "does not model")
        return key

    record.put("EncryptionKeyArn", encryption_key)
    locks = stack.attached(VAULT_LOCK, "backupVaultName", vault, (name,))
    if len(locks) > 1:
        for attribute in ("Locked", "MinRetentionDays", "MaxRetentionDays"):
            record.unknown(attribute, f"{len(locks)} Vault Lock configurations name this vault")
    else:
        lock = locks[0] if locks else None
        record.attributes["Locked"] = lock is not None
        for attribute, camel in (("MinRetentionDays", "minRetentionDays"), ("MaxRetentionDays", "maxRetentionDays")):
            record.put(attribute, lambda camel=camel: int(lock.get(camel)) if lock and lock.get(camel) else None)
    arn = f"arn:{scope.partition}:backup:{region}:{scope.account_id}:backup-vault:{name}"
    return _finish("backup_vault", arn, name, region, vault, record)


def plan_to_resource(stack: Stack, plan: Declared, scope: Scope) -> Resource:
    record = Record(plan)
    region = scope.region_of(plan)
    name = _name(record, plan, "BackupPlanName", "backup plan")
    arn = plan.values.get("arn")
    if not isinstance(arn, str) or not arn:
        arn = f"arn:{scope.partition}:backup:{region}:{scope.account_id}:backup-plan:unknown-id-of-{plan.name}"
    plan_id = arn.rsplit(":", 1)[-1]
    _assigned_id(record, plan, scope, "BackupPlanId", plan_id, "backup plan")
    record.put("Rules", lambda: _rules(plan.get("rules")))
    selections = stack.attached(SELECTION, "planId", plan, (plan.physical_id, plan_id, arn))
    record.put("Selections", lambda: [selection_body(normalized(selection.values)) for selection in selections])
    return _finish("backup_plan", arn, name, region, plan, record)


def _rules(declared: Any) -> list[dict[str, Any]]:
    rules = normalized(declared)
    body = plan_rules(rules)
    # NOTE: GetBackupPlan also returns a RuleId per rule. AWS assigns it on create, so it is left out.
    for rule, entry in zip(rules, body):
        if rule.get("scheduleExpressionTimezone"):
            entry["ScheduleExpressionTimezone"] = rule["scheduleExpressionTimezone"]
    return body


def trail_to_resource(stack: Stack, trail: Declared, scope: Scope) -> Resource:
    record = Record(trail)
    region = scope.region_of(trail)
    name = _name(record, trail, "Name", "trail")
    record.put("S3BucketName", lambda: text(trail.get("s3BucketName")))
    record.put("LogFileValidationEnabled", lambda: bool(trail.get("enableLogFileValidation", False)))
    record.put("IsMultiRegionTrail", lambda: bool(trail.get("isMultiRegionTrail", False)))
    record.put("KmsKeyId", lambda: text(trail.get("kmsKeyId")))
    record.put("CloudWatchLogsLogGroupArn", lambda: text(trail.get("cloudWatchLogsGroupArn")))
    record.put("IsLogging", lambda: bool(trail.get("enableLogging", True)))

    def selectors(advanced: bool) -> Any:
        if meaningful(trail.values.get("advancedEventSelectors")):
            if advanced:
                raise NotConverted("advanced event selectors are declared, which the converter does not translate")
            return None  # AWS returns only the advanced selectors of such a trail
        if meaningful(trail.values.get("eventSelectors")):
            return None if advanced else event_selectors(normalized(trail.get("eventSelectors")))
        raise NotConverted("no event selectors are declared, so CloudTrail's default selector applies, which this "
                           "converter does not model")

    record.put("EventSelectors", lambda: selectors(advanced=False))
    record.put("AdvancedEventSelectors", lambda: selectors(advanced=True))
    arn = f"arn:{scope.partition}:cloudtrail:{region}:{scope.account_id}:trail/{name}"
    return _finish("cloudtrail_trail", arn, name, region, trail, record)
