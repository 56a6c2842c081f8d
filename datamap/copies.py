"""Where a store's data is held again, read from inventory attributes: the flows of the tenant graph.

Pure functions over ``datamap.inventory`` records, used by ``datamap.graph``:

- backups: a backup plan's selection picks a bucket by ARN or tag. Each rule of the
  plan sends recovery points to its target vault, and its copy actions send them on
  to another vault;
- replication: enabled rules of a bucket's ReplicationConfiguration;
- access logs: a bucket's Logging target bucket;
- audit log: a CloudTrail trail whose data-event selectors cover the store keeps
  records of access to it, in its S3 bucket and its CloudWatch Logs log group;
- keys: the KMS key named by bucket encryption, a vault, a log group or a trail.

It also turns ARNs and inventory kinds into readable resource names.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from datamap.inventory import Inventory, Resource

# AWS Backup supports S3 among the kinds the inventory records; it cannot back up
# log groups, keys, IAM or trails.
BACKUP_KINDS = ("s3_bucket",)
_READ_WRITE = {"All": "reads and writes", "ReadOnly": "reads only", "WriteOnly": "writes only"}


@dataclass(frozen=True)
class Flow:
    """One way data moves from a bucket or vault to a copy."""

    flow: str                  # "backup", "backup copy", "replication" or "access log"
    target_arn: str
    detail: str                # what sets it up, for example "plan pilot-acme rule daily"
    contents: str              # what the target contains, for example "recovery points"
    target_key: str = ""       # key the flow itself names for the target (replica encryption)
    attributes: tuple[tuple[str, Any], ...] = ()


def flows_from(inventory: Inventory, resource: Resource, buckets: Mapping[str, Resource]) -> list[Flow]:
    """Return the flows out of a bucket (backup, replication, access log) or a vault (backup copy)."""
    flows: list[Flow] = []
    if resource.kind in BACKUP_KINDS:
        flows.extend(_backup_flows(inventory, resource))
    if resource.kind == "s3_bucket":
        flows.extend(_replication_flows(resource))
        logging = resource.get("Logging") if resource.known("Logging") else None
        if logging and logging.get("TargetBucket"):
            target = logging["TargetBucket"]
            arn = buckets[target].arn if target in buckets else f"arn:{_partition(resource.arn)}:s3:::{target}"
            flows.append(Flow("access log", arn, f"server access logging to {target}", "access log records",
                              attributes=(("prefix", logging.get("TargetPrefix", "")),)))
    if resource.kind == "backup_vault":
        flows.extend(_copy_action_flows(inventory, resource))
    return flows


def unreadable_flows(inventory: Inventory, sources: Iterable[str]) -> list[str]:
    """Return one sentence per attribute whose failed read leaves a flow unknown.

    ``sources`` are the ARNs of the stores and copies whose own settings matter. A
    trail needs only one of its two selector attributes, because CloudTrail returns
    either EventSelectors or AdvancedEventSelectors.
    """
    wanted = set(sources)
    checks = {"backup_plan": ("Rules", "Selections"), "s3_bucket": ("ReplicationConfiguration", "Logging"),
              "cloudtrail_trail": ("EventSelectors", "AdvancedEventSelectors")}
    messages = []
    for resource in sorted(inventory.resources, key=lambda r: (r.kind, r.arn)):
        if resource.kind == "s3_bucket" and resource.arn not in wanted:
            continue
        attributes = checks.get(resource.kind, ())
        missing = [a for a in attributes if not resource.known(a)]
        if resource.kind == "cloudtrail_trail" and len(missing) < len(attributes):
            missing = [a for a in missing if a in resource.errors]
        for attribute in missing:
            reason = resource.errors.get(attribute, "not recorded by the source")
            messages.append(f"{resource.kind.replace('_', ' ')} {resource.name}: {attribute} could not be "
                            f"read ({reason}), so the copies it makes are unknown")
    return messages


def _backup_flows(inventory: Inventory, bucket: Resource) -> list[Flow]:
    flows = []
    for plan in sorted(inventory.of_kind("backup_plan"), key=lambda r: r.arn):
        if not (plan.known("Selections") and plan.known("Rules")):
            continue
        picked = [(s.get("SelectionName", ""), selection_reason(s, bucket)) for s in plan.get("Selections") or ()]
        picked = [(name, reason) for name, reason in picked if reason]
        if not picked:
            continue
        plan_name = plan.get("BackupPlanName", plan.name)
        for rule in plan.get("Rules") or ():
            rule_name = rule.get("RuleName", "")
            flows.append(Flow(
                "backup", _vault_arn(inventory, plan.arn, rule.get("TargetBackupVaultName", "")),
                f"plan {plan_name} rule {rule_name}", "recovery points",
                attributes=(("plan", plan_name), ("rule", rule_name),
                            ("selected_by", "; ".join(f"selection {n}: {r}" for n, r in picked)),
                            ("delete_after_days", (rule.get("Lifecycle") or {}).get("DeleteAfterDays")))))
    return flows


def _copy_action_flows(inventory: Inventory, vault: Resource) -> list[Flow]:
    flows = []
    vault_name = vault.get("BackupVaultName", vault.name)
    for plan in sorted(inventory.of_kind("backup_plan"), key=lambda r: r.arn):
        for rule in plan.get("Rules") or ():
            if rule.get("TargetBackupVaultName") != vault_name:
                continue
            for action in rule.get("CopyActions") or ():
                flows.append(Flow(
                    "backup copy", action["DestinationBackupVaultArn"],
                    f"plan {plan.get('BackupPlanName', plan.name)} rule {rule.get('RuleName', '')}",
                    "copied recovery points",
                    attributes=(("delete_after_days", (action.get("Lifecycle") or {}).get("DeleteAfterDays")),)))
    return flows


def _vault_arn(inventory: Inventory, plan_arn: str, vault_name: str) -> str:
    vault = next((v for v in inventory.of_kind("backup_vault")
                  if vault_name in (v.get("BackupVaultName"), v.name)), None)
    if vault is not None:
        return vault.arn
    parts = plan_arn.split(":")
    return f"arn:{parts[1]}:backup:{parts[3]}:{parts[4]}:backup-vault:{vault_name}"


def selection_reason(selection: Mapping[str, Any], resource: Resource) -> str:
    """Return why a backup selection picks ``resource`` ("" when it does not).

    AWS Backup assigns a resource named in Resources or matching any ListOfTags entry
    (OR). It then keeps the resource only if every entry of Conditions is true (AND)
    and no NotResources pattern matches. A selection with neither Resources nor ListOfTags
    picks every supported resource that meets its Conditions.
    """
    if resource.kind not in BACKUP_KINDS:
        return ""
    if any(_wildcard(pattern, resource.arn) for pattern in selection.get("NotResources") or ()):
        return ""
    named = selection.get("Resources") or ()
    list_of_tags = selection.get("ListOfTags") or ()
    reasons = ["its ARN" for pattern in named if _wildcard(pattern, resource.arn)][:1]
    for condition in list_of_tags:
        key, value = _tag_key(condition.get("ConditionKey", "")), condition.get("ConditionValue")
        if resource.tags.get(key) == value:
            reasons.append(f"tag {key}={value}")
    if (named or list_of_tags) and not reasons:
        return ""
    if not _conditions_hold(selection.get("Conditions") or {}, resource.tags):
        return ""
    return ", ".join(reasons) or "the selection names no resources or tags, so it picks every resource"


def _conditions_hold(conditions: Mapping[str, Any], resource_tags: Mapping[str, str]) -> bool:
    for operator, entries in conditions.items():
        for entry in entries or ():
            actual = resource_tags.get(_tag_key(entry.get("ConditionKey", "")))
            expected = entry.get("ConditionValue", "")
            if operator == "StringEquals" and actual != expected:
                return False
            if operator == "StringNotEquals" and actual == expected:
                return False
            if operator == "StringLike" and (actual is None or not _wildcard(expected, actual)):
                return False
            if operator == "StringNotLike" and actual is not None and _wildcard(expected, actual):
                return False
    return True


def _tag_key(condition_key: str) -> str:
    return condition_key.removeprefix("aws:ResourceTag/")


def _wildcard(pattern: str, value: str) -> bool:
    return re.fullmatch(".*".join(re.escape(part) for part in pattern.split("*")), value) is not None


def _replication_flows(bucket: Resource) -> list[Flow]:
    config = bucket.get("ReplicationConfiguration") if bucket.known("ReplicationConfiguration") else None
    flows = []
    # NOTE: disabled rules are skipped, although objects they replicated earlier stay in the destination.
    for rule in (config or {}).get("Rules") or ():
        destination = rule.get("Destination") or {}
        if rule.get("Status") != "Enabled" or not destination.get("Bucket"):
            continue
        encryption = destination.get("EncryptionConfiguration") or {}
        flows.append(Flow("replication", destination["Bucket"], f"rule {rule.get('ID', '')}", "replicated objects",
                          target_key=encryption.get("ReplicaKmsKeyID", ""),
                          attributes=(("account", destination.get("Account", "")),)))
    return flows


def trails_recording(inventory: Inventory, store: Resource) -> list[tuple[Resource, str]]:
    """Return (trail, coverage) for each trail whose data-event selectors cover ``store``.

    Coverage names the events the trail keeps ("reads and writes", "reads only" or
    "writes only"), followed by "part of the store only" when a selector covers only some keys.
    """
    found = []
    for trail in sorted(inventory.of_kind("cloudtrail_trail"), key=lambda r: r.arn):
        coverage = sorted(set(_classic_coverage(trail, store)) | set(_advanced_coverage(trail, store)))
        if coverage:
            found.append((trail, "; ".join(coverage)))
    return found


def _store_prefix(store: Resource) -> tuple[str, str]:
    """Return (ARN prefix of the store's records, CloudTrail resource type or type prefix)."""
    if store.kind == "s3_bucket":
        return store.arn + "/", "AWS::S3::Object"
    # NOTE: log group data events are matched by any resources.type starting with AWS::Logs::;
    # the exact type names CloudTrail uses for CloudWatch Logs are not checked here.
    return store.arn.removesuffix(":*"), "AWS::Logs::"


def _classic_coverage(trail: Resource, store: Resource) -> Iterable[str]:
    prefix, resource_type = _store_prefix(store)
    for selector in trail.get("EventSelectors") or ():
        events = _READ_WRITE.get(selector.get("ReadWriteType", "All"), "reads and writes")
        for data_resource in selector.get("DataResources") or ():
            if data_resource.get("Type") != resource_type:
                continue
            for value in data_resource.get("Values") or ():
                if prefix.startswith(value) and (value.endswith(("/", ":s3", ":::"))):
                    yield events
                elif value.startswith(prefix):
                    yield f"{events}, part of the store only"


def _advanced_coverage(trail: Resource, store: Resource) -> Iterable[str]:
    prefix, resource_type = _store_prefix(store)
    for selector in trail.get("AdvancedEventSelectors") or ():
        fields = {f.get("Field"): f for f in selector.get("FieldSelectors") or ()}
        if "Data" not in (fields.get("eventCategory") or {}).get("Equals", ()):
            continue
        types = (fields.get("resources.type") or {}).get("Equals", ())
        if not any(t == resource_type or (resource_type.endswith("::") and t.startswith(resource_type))
                   for t in types):
            continue
        scope = _arn_scope(fields.get("resources.ARN") or {}, prefix)
        if scope == "none":
            continue
        read_only = (fields.get("readOnly") or {}).get("Equals", ())
        events = "reads only" if list(read_only) == ["true"] else "writes only" if list(read_only) == ["false"] \
            else "reads and writes"
        partial = scope == "partial" or any(f not in ("eventCategory", "resources.type", "resources.ARN", "readOnly")
                                            for f in fields)
        yield f"{events}, part of the store only" if partial else events


def _arn_scope(field: Mapping[str, Any], prefix: str) -> str:
    """Return "whole", "partial" or "none": how much of the store an advanced selector's ARN field keeps."""
    scope = "whole"
    if field.get("Equals"):
        scope = "partial" if any(v.startswith(prefix) for v in field["Equals"]) else "none"
    if field.get("StartsWith") and scope != "none":
        if any(prefix.startswith(v) for v in field["StartsWith"]):
            pass
        elif any(v.startswith(prefix) for v in field["StartsWith"]):
            scope = "partial"
        else:
            scope = "none"
    if any(prefix.startswith(v) for v in field.get("NotStartsWith") or ()):
        return "none"
    narrowing = [v for key in ("NotStartsWith", "NotEquals") for v in field.get(key) or () if v.startswith(prefix)]
    if scope == "whole" and (narrowing or field.get("EndsWith") or field.get("NotEndsWith")):
        scope = "partial"
    return scope


def trail_destinations(trail: Resource, buckets: Mapping[str, Resource]) -> list[str]:
    """Return the ARNs of the S3 bucket and the log group a trail delivers its log files to."""
    targets = []
    bucket = trail.get("S3BucketName")
    if bucket:
        targets.append(buckets[bucket].arn if bucket in buckets else f"arn:{_partition(trail.arn)}:s3:::{bucket}")
    log_group = trail.get("CloudWatchLogsLogGroupArn")
    if log_group:
        targets.append(log_group.removesuffix(":*"))
    return targets


def key_reference(resource: Resource) -> str:
    """Return the KMS key a store or copy names for encryption at rest ("" when none is named).

    S3 encryption with ``aws:kms`` and no key id uses the AWS managed key
    ``alias/aws/s3``.
    """
    if resource.kind == "s3_bucket":
        encryption = resource.get("Encryption") or {}
        for rule in encryption.get("Rules") or ():
            default = rule.get("ApplyServerSideEncryptionByDefault") or {}
            if default.get("SSEAlgorithm") in ("aws:kms", "aws:kms:dsse"):
                return default.get("KMSMasterKeyID") or "alias/aws/s3"
        return ""
    attribute = {"backup_vault": "EncryptionKeyArn", "log_group": "kmsKeyId", "cloudtrail_trail": "KmsKeyId"}
    return resource.get(attribute.get(resource.kind, ""), "") or ""


def find_key(inventory: Inventory, reference: str) -> Resource | None:
    """Return the inventory key a reference names by ARN, key id or alias (aliases only when recorded)."""
    for key in inventory.of_kind("kms_key"):
        key_id = key.get("KeyId", "")
        names = {key.arn, key.name, key_id, *(key.get("Aliases") or ())}
        if reference in names or (key_id and reference.endswith(f":key/{key_id}")):
            return key
        if reference.split(":", 5)[-1] in names:  # alias ARN: arn:aws:kms:region:account:alias/name
            return key
    return None


def key_label(reference: str) -> str:
    """Return a readable name for a key that is not in the inventory."""
    alias = reference.split(":", 5)[-1] if reference.startswith("arn:") else reference
    if alias.startswith("alias/aws/"):
        return f"AWS managed key {alias.removeprefix('alias/')}"
    return f"KMS key {alias.removeprefix('key/')}"


def name_from_arn(arn: str) -> str:
    """Return the resource name part of an ARN (the bucket, vault or log group name)."""
    for marker in (":::", ":backup-vault:", ":log-group:", ":trail/"):
        if marker in arn:
            return arn.split(marker, 1)[1].removesuffix(":*")
    return arn.rsplit("/", 1)[-1].rsplit(":", 1)[-1]


def _partition(arn: str) -> str:
    parts = arn.split(":")
    return parts[1] if len(parts) > 1 and parts[1] else "aws"


SERVICES = {"s3_bucket": "S3 bucket", "log_group": "CloudWatch Logs log group", "backup_vault": "AWS Backup vault",
            "backup_plan": "AWS Backup plan", "cloudtrail_trail": "CloudTrail trail", "kms_key": "KMS key",
            "iam_user": "IAM user", "iam_role": "IAM role", "iam_policy": "IAM policy"}
_ARN_SERVICES = ((":s3:::", "s3_bucket"), (":log-group:", "log_group"), (":backup-vault:", "backup_vault"),
                 (":kms:", "kms_key"), (":user/", "iam_user"), (":role/", "iam_role"))


def service_name(resource_kind: str, arn: str) -> str:
    """Return the AWS service and resource type in words, from the inventory kind or else the ARN."""
    if not resource_kind:
        resource_kind = next((kind for marker, kind in _ARN_SERVICES if marker in arn), "")
    return SERVICES.get(resource_kind, "AWS resource")
