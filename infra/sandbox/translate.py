"""Pulumi inputs (camelCase, as the engine passes them) turned into AWS API request shapes.

Pure functions: the sandbox sends the results to the emulator, and planned
inventories use the same shapes, so a plan and a scan compare field by field.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any


def camel_tags(tags: Mapping[str, str] | None, key: str = "Key", value: str = "Value") -> list[dict[str, str]]:
    return [{key: k, value: v} for k, v in sorted((tags or {}).items())]


def bucket_sse(rules: Sequence[Mapping]) -> dict:
    out = []
    for rule in rules:
        default = rule.get("applyServerSideEncryptionByDefault") or {}
        entry: dict[str, Any] = {"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": default.get("sseAlgorithm")}}
        if default.get("kmsMasterKeyId"):
            entry["ApplyServerSideEncryptionByDefault"]["KMSMasterKeyID"] = default["kmsMasterKeyId"]
        if "bucketKeyEnabled" in rule:
            entry["BucketKeyEnabled"] = bool(rule["bucketKeyEnabled"])
        out.append(entry)
    return {"Rules": out}


def _lifecycle_filter(raw: Mapping | None) -> dict:
    if not raw:
        return {}
    out: dict[str, Any] = {}
    if raw.get("prefix") is not None:
        out["Prefix"] = raw["prefix"]
    if raw.get("tag"):
        out["Tag"] = {"Key": raw["tag"]["key"], "Value": raw["tag"]["value"]}
    for camel, api in (("objectSizeGreaterThan", "ObjectSizeGreaterThan"),
                       ("objectSizeLessThan", "ObjectSizeLessThan")):
        if raw.get(camel) is not None:
            out[api] = int(raw[camel])
    if raw.get("and"):
        both = raw["and"]
        inner: dict[str, Any] = {}
        if both.get("prefix") is not None:
            inner["Prefix"] = both["prefix"]
        if both.get("tags"):
            inner["Tags"] = camel_tags(both["tags"])
        for camel, api in (("objectSizeGreaterThan", "ObjectSizeGreaterThan"),
                           ("objectSizeLessThan", "ObjectSizeLessThan")):
            if both.get(camel) is not None:
                inner[api] = int(both[camel])
        out["And"] = inner
    return out


def bucket_lifecycle(rules: Sequence[Mapping]) -> dict:
    """Return a ``LifecycleConfiguration`` body as S3 returns it from GetBucketLifecycleConfiguration."""
    out = []
    for rule in rules:
        entry: dict[str, Any] = {"ID": rule["id"], "Status": rule["status"]}
        if rule.get("prefix") is not None:
            entry["Prefix"] = rule["prefix"]
        else:
            entry["Filter"] = _lifecycle_filter(rule.get("filter"))
        expiration = rule.get("expiration") or {}
        if expiration.get("days"):
            entry["Expiration"] = {"Days": int(expiration["days"])}
        elif expiration.get("date"):
            entry["Expiration"] = {"Date": expiration["date"]}
        elif expiration.get("expiredObjectDeleteMarker"):
            entry["Expiration"] = {"ExpiredObjectDeleteMarker": True}
        noncurrent = rule.get("noncurrentVersionExpiration") or {}
        if noncurrent:
            body = {"NoncurrentDays": int(noncurrent["noncurrentDays"])}
            if noncurrent.get("newerNoncurrentVersions") is not None:
                body["NewerNoncurrentVersions"] = int(noncurrent["newerNoncurrentVersions"])
            entry["NoncurrentVersionExpiration"] = body
        abort = rule.get("abortIncompleteMultipartUpload") or {}
        if abort:
            entry["AbortIncompleteMultipartUpload"] = {"DaysAfterInitiation": int(abort["daysAfterInitiation"])}
        out.append(entry)
    return {"Rules": out}


def plan_rules(rules: Sequence[Mapping]) -> list[dict]:
    """Return backup plan rules in the CreateBackupPlan request shape."""
    out = []
    for rule in rules:
        entry: dict[str, Any] = {"RuleName": rule["ruleName"], "TargetBackupVaultName": rule["targetVaultName"]}
        if rule.get("schedule"):
            entry["ScheduleExpression"] = rule["schedule"]
        if rule.get("startWindow") is not None:
            entry["StartWindowMinutes"] = int(rule["startWindow"])
        if rule.get("completionWindow") is not None:
            entry["CompletionWindowMinutes"] = int(rule["completionWindow"])
        if rule.get("enableContinuousBackup") is not None:
            entry["EnableContinuousBackup"] = bool(rule["enableContinuousBackup"])
        lifecycle = rule.get("lifecycle") or {}
        if lifecycle:
            body = {}
            if lifecycle.get("deleteAfter") is not None:
                body["DeleteAfterDays"] = int(lifecycle["deleteAfter"])
            if lifecycle.get("coldStorageAfter") is not None:
                body["MoveToColdStorageAfterDays"] = int(lifecycle["coldStorageAfter"])
            entry["Lifecycle"] = body
        if rule.get("recoveryPointTags"):
            entry["RecoveryPointTags"] = dict(rule["recoveryPointTags"])
        copies = []
        for action in rule.get("copyActions") or []:
            copy: dict[str, Any] = {"DestinationBackupVaultArn": action["destinationVaultArn"]}
            if action.get("lifecycle"):
                copy["Lifecycle"] = {"DeleteAfterDays": int(action["lifecycle"].get("deleteAfter"))}
            copies.append(copy)
        if copies:
            entry["CopyActions"] = copies
        out.append(entry)
    return out


def selection_body(inputs: Mapping) -> dict:
    """Return a ``BackupSelection`` body as CreateBackupSelection takes it."""
    body: dict[str, Any] = {"SelectionName": inputs["name"], "IamRoleArn": inputs["iamRoleArn"]}
    if inputs.get("resources"):
        body["Resources"] = list(inputs["resources"])
    if inputs.get("notResources"):
        body["NotResources"] = list(inputs["notResources"])
    if inputs.get("selectionTags"):
        body["ListOfTags"] = [{"ConditionType": t["type"], "ConditionKey": t["key"], "ConditionValue": t["value"]}
                              for t in inputs["selectionTags"]]
    conditions = _selection_conditions(inputs.get("conditions") or [])
    if conditions:
        body["Conditions"] = conditions
    return body


def _selection_conditions(raw: Sequence[Mapping]) -> dict:
    """Pulumi's ``conditions`` blocks as the API's ``Conditions``: operator -> [{ConditionKey, ConditionValue}]."""
    operators = {"stringEquals": "StringEquals", "stringLikes": "StringLike",
                 "stringNotEquals": "StringNotEquals", "stringNotLikes": "StringNotLike"}
    out: dict[str, list[dict[str, str]]] = {}
    for block in raw:
        for camel, api in operators.items():
            for entry in block.get(camel) or []:
                out.setdefault(api, []).append({"ConditionKey": entry["key"], "ConditionValue": entry["value"]})
    return out


def event_selectors(selectors: Sequence[Mapping]) -> list[dict]:
    out = []
    for selector in selectors:
        out.append({
            "ReadWriteType": selector.get("readWriteType", "All"),
            "IncludeManagementEvents": bool(selector.get("includeManagementEvents", True)),
            "DataResources": [{"Type": d["type"], "Values": list(d["values"])}
                              for d in selector.get("dataResources") or []],
            "ExcludeManagementEventSources": list(selector.get("excludeManagementEventSources") or []),
        })
    return out
