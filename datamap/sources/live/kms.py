"""KMS: the tenant's keys in the scan region, with key policy, rotation and aliases.

Keys are ``kms_key`` records with one attribute beyond the inventory's list:
``Aliases`` (alias names pointing at the key). AWS managed keys (those behind an
``alias/aws/...`` alias) are skipped without a tag read, because their tags cannot be
changed, so they never carry a tenant tag.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from datamap.inventory import Resource
from datamap.sources.live.calls import ScanContext
from datamap.sources.live.common import (Collected, Failure, Read, belongs, build_fields, key_value_tags,
                                         membership_error, parse_policy)


@dataclass(frozen=True)
class KeyReads:
    """Raw reads of one tenant key."""

    key_id: str
    arn: str
    tags: Mapping[str, str]
    metadata: Read  # describe_key body
    policy: Read    # get_key_policy body of the "default" policy, the only name KMS supports
    rotation: Read  # get_key_rotation_status body, None when the key type does not support rotation
    aliases: Read   # {"Aliases": [alias name]}


def fetch(ctx: ScanContext) -> tuple[list[KeyReads], list[str], int]:
    reader = ctx.reader
    pages, failure = reader.pages("kms", "list_keys", "the account")
    errors = [str(failure)] if failure else []
    listed = [key for page in pages for key in page.get("Keys", [])]

    alias_pages, alias_failure = reader.pages("kms", "list_aliases", "the account")
    names_by_key: dict[str, list[str]] = {}
    for alias in (alias for page in alias_pages for alias in page.get("Aliases", [])):
        if "TargetKeyId" in alias:
            names_by_key.setdefault(alias["TargetKeyId"], []).append(alias["AliasName"])
    aws_managed = {key_id for key_id, names in names_by_key.items()
                   if any(name.startswith("alias/aws/") for name in names)}

    found = []
    for key in listed:
        key_id = key["KeyId"]
        if key_id in aws_managed:
            continue
        target = f"key {key_id}"
        tagging = reader.items("kms", "list_resource_tags", target, "Tags", KeyId=key_id)
        if isinstance(tagging, Failure):
            errors.append(membership_error(tagging, target, ctx.customer))
            continue
        tags = key_value_tags(tagging["Tags"], key="TagKey", value="TagValue")
        if not belongs(tags, ctx.customer):
            continue
        aliases: Read = alias_failure or {"Aliases": sorted(names_by_key.get(key_id, []))}
        found.append(KeyReads(
            key_id=key_id, arn=key["KeyArn"], tags=tags,
            metadata=reader.read("kms", "describe_key", target, KeyId=key_id),
            policy=reader.read("kms", "get_key_policy", target, KeyId=key_id, PolicyName="default"),
            rotation=reader.read("kms", "get_key_rotation_status", target,
                                 not_configured=("UnsupportedOperationException",), KeyId=key_id),
            aliases=aliases))
    return found, errors, len(listed)


def to_resource(reads: KeyReads, region: str) -> Resource:
    attributes, errors = build_fields({
        "Policy": (reads.policy, lambda body: parse_policy(body["Policy"])),
        "KeyRotationEnabled": (reads.rotation, lambda body: body["KeyRotationEnabled"]),
        "KeyState": (reads.metadata, lambda body: body["KeyMetadata"]["KeyState"]),
        "Description": (reads.metadata, lambda body: body["KeyMetadata"].get("Description", "")),
        "Aliases": (reads.aliases, lambda body: list(body["Aliases"])),
    })
    aliases = attributes.get("Aliases") or []
    return Resource(kind="kms_key", arn=reads.arn, name=aliases[0] if aliases else reads.key_id, region=region,
                    tags=reads.tags, attributes={"KeyId": reads.key_id, **attributes}, errors=errors)


def collect(ctx: ScanContext) -> Collected:
    found, errors, listed = fetch(ctx)
    region = ctx.reader.region
    return Collected(resources=[to_resource(reads, region) for reads in found], errors=errors, seen=listed)
