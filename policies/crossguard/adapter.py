"""Turn the resources the Pulumi engine passes to a stack policy into what ``datamap.sources.program.convert`` reads.

``StackValidationArgs.resources`` contains ``pulumi_policy.PolicyResource`` objects. Their
``props`` are the resource's properties (inputs and outputs together, camelCase) behind a
proxy that raises ``UnknownValueError`` for a value the engine does not know yet. During a
preview, that is anything computed from a resource still to be created.
This module copies the properties into plain values, with ``Unknown`` markers in place of
unknown ones, and packs each resource as an ``infra.sandbox.program.Registered``.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from pulumi_policy import PolicyResource, Secret
from pulumi_policy.proxy import (
    UNKNOWN_ARCHIVE_VALUE,
    UNKNOWN_ARRAY_VALUE,
    UNKNOWN_ASSET_VALUE,
    UNKNOWN_BOOLEAN_VALUE,
    UNKNOWN_NUMBER_VALUE,
    UNKNOWN_OBJECT_VALUE,
    UNKNOWN_STRING_VALUE,
    UnknownValueError,
)

from datamap.sources.declared.values import Unknown
from infra.sandbox.program import Registered

# The strings Pulumi puts in place of a value it does not know yet (pulumi_policy.proxy).
UNKNOWN_SENTINELS = frozenset({UNKNOWN_ARCHIVE_VALUE, UNKNOWN_ARRAY_VALUE, UNKNOWN_ASSET_VALUE,
                               UNKNOWN_BOOLEAN_VALUE, UNKNOWN_NUMBER_VALUE, UNKNOWN_OBJECT_VALUE,
                               UNKNOWN_STRING_VALUE})

# arn:<partition>:<service>:<region>:<12-digit account>:...
_ARN_ACCOUNT = re.compile(r"^arn:(?P<partition>[a-z-]+):[a-z0-9-]+:[a-z0-9-]*:(?P<account>\d{12}):")


def plain(value: Any, where: str) -> Any:
    """Return a plain copy of a property value, with an ``Unknown`` for every part the engine does not know.

    ``where`` names the value in messages, for example "pilot-acme-storage-key.arn".
    """
    if isinstance(value, Secret):
        value = value.value
    if isinstance(value, str):
        return Unknown(where) if value in UNKNOWN_SENTINELS else value
    if isinstance(value, Mapping):
        out = {}
        for key in value:
            try:
                item = value[key]
            except UnknownValueError:
                out[str(key)] = Unknown(f"{where}.{key}")
                continue
            out[str(key)] = plain(item, f"{where}.{key}")
        return out
    if isinstance(value, Sequence) and not isinstance(value, (bytes, bytearray)):
        items = []
        for index in range(len(value)):
            try:
                item = value[index]
            except UnknownValueError:
                items.append(Unknown(f"{where}[{index}]"))
                continue
            items.append(plain(item, f"{where}[{index}]"))
        return items
    return value


def to_registered(resource: PolicyResource) -> Registered:
    """Return one stack resource in the shape ``run_program`` records, its properties as ``inputs``.

    A resource without a known ``region`` property gets its provider's region, which is
    where pulumi-aws creates it.
    """
    props = plain(resource.props, resource.name)
    region = props.get("region")
    if not isinstance(region, str) or not region:
        provider_region = _provider_region(resource)
        if provider_region:
            props["region"] = provider_region
    parent = resource.parent.urn if resource.parent is not None else (resource.opts.parent or "")
    dependencies = {key: [dependency.urn for dependency in found]
                    for key, found in resource.property_dependencies.items()}
    return Registered(type=resource.resource_type, name=resource.name, inputs=props, urn=resource.urn,
                      parent=parent, dependencies=dependencies)


def _provider_region(resource: PolicyResource) -> str:
    if resource.provider is None:
        return ""
    region = plain(resource.provider.props, resource.provider.name).get("region")
    return region if isinstance(region, str) else ""


def account_and_partition(resources: Iterable[Registered]) -> tuple[str, str]:
    """Return the AWS account id and partition that most known ARNs of the stack name, or ("", "aws")."""
    found: Counter[tuple[str, str]] = Counter()
    for resource in resources:
        arn = resource.inputs.get("arn")
        match = _ARN_ACCOUNT.match(arn) if isinstance(arn, str) else None
        if match:
            found[(match["account"], match["partition"])] += 1
    if not found:
        return "", "aws"
    return found.most_common(1)[0][0]


def account_from_names(resources: Iterable[Registered], patterns: Iterable[re.Pattern[str]]) -> str:
    """Return the account id that the first bucket name matching one of ``patterns`` contains, or ""."""
    patterns = tuple(patterns)
    for resource in resources:
        name = resource.inputs.get("bucket") if resource.type == "aws:s3/bucket:Bucket" else None
        if not isinstance(name, str):
            continue
        for pattern in patterns:
            match = pattern.fullmatch(name)
            if match:
                return match["account"]
    return ""


def partition_of(region: str) -> str:
    """Return the AWS partition of a region name: aws-cn for cn-*, aws-us-gov for us-gov-*, else aws."""
    if region.startswith("cn-"):
        return "aws-cn"
    if region.startswith("us-gov-"):
        return "aws-us-gov"
    return "aws"


def stack_customers(resources: Iterable[Registered], tag: str) -> Counter[str]:
    """Count the resources per value of tag ``tag``, for resources whose tag value is known."""
    counts: Counter[str] = Counter()
    for resource in resources:
        tags = resource.inputs.get("tagsAll")
        if not isinstance(tags, Mapping):
            tags = resource.inputs.get("tags")
        value = tags.get(tag) if isinstance(tags, Mapping) else None
        if isinstance(value, str) and value:
            counts[value] += 1
    return counts
