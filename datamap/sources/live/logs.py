"""CloudWatch Logs: the tenant's log groups in the scan region, with retention and KMS key."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from datamap.inventory import Resource
from datamap.sources.live.calls import ScanContext
from datamap.sources.live.common import Collected, Failure, belongs, membership_error


@dataclass(frozen=True)
class LogGroupReads:
    listed: Mapping[str, Any]  # the entry of describe_log_groups, which carries every setting we need
    tags: Mapping[str, str]


def group_arn(listed: Mapping[str, Any]) -> str:
    """Return the log group's ARN without the ``:*`` suffix that DescribeLogGroups adds to ``arn``."""
    return listed.get("logGroupArn") or listed["arn"].removesuffix(":*")


def fetch(ctx: ScanContext) -> tuple[list[LogGroupReads], list[str], int]:
    reader = ctx.reader
    pages, failure = reader.pages("logs", "describe_log_groups", "the account")
    errors = [str(failure)] if failure else []
    listed = [group for page in pages for group in page.get("logGroups", [])]

    found = []
    for group in listed:
        target = f"log group {group['logGroupName']}"
        tagging = reader.read("logs", "list_tags_for_resource", target, resourceArn=group_arn(group))
        if isinstance(tagging, Failure):
            errors.append(membership_error(tagging, target, ctx.customer))
            continue
        tags = dict(tagging.get("tags") or {})
        if belongs(tags, ctx.customer):
            found.append(LogGroupReads(group, tags))
    return found, errors, len(listed)


def to_resource(reads: LogGroupReads, region: str) -> Resource:
    group = reads.listed
    attributes: dict[str, Any] = {"logGroupName": group["logGroupName"], "kmsKeyId": group.get("kmsKeyId")}
    # The inventory leaves retentionInDays out for a group that never expires, as the API does.
    if "retentionInDays" in group:
        attributes["retentionInDays"] = group["retentionInDays"]
    return Resource(kind="log_group", arn=group_arn(group), name=group["logGroupName"], region=region,
                    tags=reads.tags, attributes=attributes)


def collect(ctx: ScanContext) -> Collected:
    found, errors, listed = fetch(ctx)
    region = ctx.reader.region
    return Collected(resources=[to_resource(reads, region) for reads in found], errors=errors, seen=listed)
