"""S3: one ``s3_bucket`` record per declared bucket, with the settings its separate aws:s3 resources declare.

pulumi-aws 7 declares each bucket setting as its own resource (``BucketVersioning``,
``BucketLifecycleConfiguration``, ...) that names the bucket in its ``bucket`` property.
A setting declared nowhere is recorded as the program leaves it: ``{}`` for versioning and
None for the others, which is what S3 reports for a new bucket that never had it.

NOTE: For encryption and the public access block, S3 applies defaults of its own when it
creates a bucket (SSE-S3, and all four public access settings on), which None does not
credit. Rules that require those settings therefore fail until the program declares them,
which is stricter than the deployed bucket, never looser. A bucket imported into the stack
keeps earlier settings that a plan cannot see.

A setting declared inline on the ``Bucket`` (deprecated in pulumi-aws 7) is not
translated and stays unknown, unless a separate resource declares it too.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from typing import Any

from datamap.inventory import Resource
from datamap.sources.declared.values import (
    Declared,
    NotConverted,
    Record,
    Scope,
    Stack,
    declared_tags,
    meaningful,
    normalized,
    text,
)
from infra import naming
from infra.sandbox.translate import bucket_lifecycle, bucket_sse

BUCKET = "aws:s3/bucket:Bucket"
VERSIONING = "aws:s3/bucketVersioning:BucketVersioning"
LIFECYCLE = "aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration"
ENCRYPTION = "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration"
POLICY = "aws:s3/bucketPolicy:BucketPolicy"
PUBLIC_ACCESS = "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock"
REPLICATION = "aws:s3/bucketReplicationConfig:BucketReplicationConfig"
LOGGING = "aws:s3/bucketLogging:BucketLogging"
OBJECT_LOCK = "aws:s3/bucketObjectLockConfiguration:BucketObjectLockConfiguration"

# Types this module reads, so the caller does not report them as unconverted.
TYPES = (BUCKET, VERSIONING, LIFECYCLE, ENCRYPTION, POLICY, PUBLIC_ACCESS, REPLICATION, LOGGING, OBJECT_LOCK)

_PUBLIC_ACCESS_KEYS = (("BlockPublicAcls", "blockPublicAcls"), ("IgnorePublicAcls", "ignorePublicAcls"),
                       ("BlockPublicPolicy", "blockPublicPolicy"), ("RestrictPublicBuckets", "restrictPublicBuckets"))


def parse_document(value: Any) -> Any:
    """Return a policy document declared as a JSON string (or already parsed) as a dict."""
    if isinstance(value, Mapping):
        return dict(value)
    return json.loads(text(value) or "")


def to_resource(stack: Stack, bucket: Declared, scope: Scope) -> Resource:
    record = Record(bucket)
    name = bucket.get("bucket")
    if not isinstance(name, str) or not name:
        record.unknown("Name", "the bucket name is not known before deploy")
        name = f"unknown-bucket-name-of-{bucket.name}"
    else:
        record.attributes["Name"] = name
    region = scope.region_of(bucket)
    record.attributes["Region"] = region
    arn = naming.bucket_arn(name, scope.partition)
    ids = (name, arn, bucket.physical_id)

    def setting(attribute: str, token: str, inline: tuple[str, ...], translate: Callable[[Declared], Any],
                undeclared: Callable[[], Any]) -> None:
        found = stack.attached(token, "bucket", bucket, ids)

        def build() -> Any:
            if len(found) > 1:
                raise NotConverted(f"{len(found)} resources of type {token} configure this bucket, and the last "
                                   "one applied wins")
            if found:
                return translate(found[0])
            for key in inline:
                if meaningful(bucket.values.get(key)):
                    raise NotConverted(f"declared inline in property {key} of {bucket.name}, which the converter "
                                       f"does not translate; declare it with {token}")
            return undeclared()

        record.put(attribute, build)

    setting("Versioning", VERSIONING, ("versioning",), _versioning, dict)
    setting("LifecycleConfiguration", LIFECYCLE, ("lifecycleRules",), _lifecycle, lambda: None)
    setting("Encryption", ENCRYPTION, ("serverSideEncryptionConfiguration",),
            lambda res: bucket_sse(normalized(res.get("rules"))), lambda: None)
    setting("Policy", POLICY, ("policy",), lambda res: parse_document(res.get("policy")), lambda: None)
    setting("PublicAccessBlock", PUBLIC_ACCESS, (),
            lambda res: {api: bool(res.get(camel, False)) for api, camel in _PUBLIC_ACCESS_KEYS}, lambda: None)
    setting("ReplicationConfiguration", REPLICATION, ("replicationConfiguration",), _untranslated(REPLICATION),
            lambda: None)
    setting("Logging", LOGGING, ("logging",), _logging, lambda: None)
    setting("ObjectLockConfiguration", OBJECT_LOCK, ("objectLockConfiguration",), _object_lock,
            lambda: {"ObjectLockEnabled": "Enabled"} if bucket.get("objectLockEnabled", False) else None)

    tags, tag_error = declared_tags(bucket)
    if tag_error:
        record.unknown("tags", tag_error)
    return Resource(kind="s3_bucket", arn=arn, name=name, region=region, tags=tags, attributes=record.attributes,
                    errors=record.errors, declared_at=bucket.declared_at)


def _untranslated(token: str) -> Callable[[Declared], Any]:
    def translate(resource: Declared) -> Any:
        raise NotConverted(f"declared with {token} ({resource.name}), which the converter does not translate")
    return translate


def _versioning(resource: Declared) -> dict[str, str]:
    config = resource.get("versioningConfiguration")
    status = config["status"]
    # "Disabled" is pulumi-aws's word for a bucket that never had versioning, which S3 reports as {}.
    body: dict[str, str] = {} if status == "Disabled" else {"Status": status}
    mfa_delete = text(config.get("mfaDelete"))
    if mfa_delete:
        body["MFADelete"] = mfa_delete
    return body


def _lifecycle(resource: Declared) -> dict[str, Any]:
    rules = normalized(resource.get("rules"))
    body = bucket_lifecycle(rules)
    # translate.bucket_lifecycle leaves transitions out; GetBucketLifecycleConfiguration returns them.
    for declared, entry in zip(rules, body["Rules"]):
        for camel, api, days_key in (("transitions", "Transitions", "days"),
                                     ("noncurrentVersionTransitions", "NoncurrentVersionTransitions",
                                      "noncurrentDays")):
            moves = []
            for move in declared.get(camel) or ():
                item: dict[str, Any] = {"StorageClass": move["storageClass"]}
                if move.get(days_key) is not None:
                    item["Days" if days_key == "days" else "NoncurrentDays"] = int(move[days_key])
                if move.get("date"):
                    item["Date"] = move["date"]
                moves.append(item)
            if moves:
                entry[api] = moves
    return body


def _logging(resource: Declared) -> dict[str, str]:
    return {"TargetBucket": resource.get("targetBucket"), "TargetPrefix": text(resource.get("targetPrefix")) or ""}


def _object_lock(resource: Declared) -> dict[str, Any]:
    body: dict[str, Any] = {"ObjectLockEnabled": resource.get("objectLockEnabled", "Enabled")}
    retention = normalized(resource.get("rule") or {}).get("defaultRetention")
    if retention:
        default: dict[str, Any] = {"Mode": retention["mode"]}
        for camel, api in (("days", "Days"), ("years", "Years")):
            if retention.get(camel):
                default[api] = int(retention[camel])
        body["Rule"] = {"DefaultRetention": default}
    return body
