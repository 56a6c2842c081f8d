"""CloudTrail: the tenant's trails, whether they log, and which events they record.

ListTrails also returns trails whose home region is another region (multi-region
trails). The reads after the listing go to each trail's home region, where the trail's
tags and settings are managed.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from datamap.inventory import Resource
from datamap.sources.live.calls import ScanContext
from datamap.sources.live.common import Collected, Read, belongs, build_fields, key_value_tags, membership_error

# ListTags accepts at most 20 trail ARNs per request.
_TAG_BATCH = 20


@dataclass(frozen=True)
class TrailReads:
    listed: Mapping[str, Any]  # the entry of list_trails: TrailARN, Name, HomeRegion
    tags: Mapping[str, str]
    trail: Read      # get_trail body
    status: Read     # get_trail_status body
    selectors: Read  # get_event_selectors body


def fetch(ctx: ScanContext) -> tuple[list[TrailReads], list[str], int]:
    reader = ctx.reader
    pages, failure = reader.pages("cloudtrail", "list_trails", "the account")
    errors = [str(failure)] if failure else []
    listed = [trail for page in pages for trail in page.get("Trails", [])]

    by_region: dict[str, list[Mapping[str, Any]]] = {}
    for trail in listed:
        by_region.setdefault(trail.get("HomeRegion") or reader.region, []).append(trail)

    found = []
    for region, trails in sorted(by_region.items()):
        for start in range(0, len(trails), _TAG_BATCH):
            batch = trails[start:start + _TAG_BATCH]
            target = "trails " + ", ".join(trail["Name"] for trail in batch)
            tag_pages, failure = reader.pages("cloudtrail", "list_tags", target, region=region,
                                              ResourceIdList=[trail["TrailARN"] for trail in batch])
            if failure:
                errors.extend(membership_error(failure, f"trail {trail['Name']}", ctx.customer) for trail in batch)
                continue
            tags_by_arn = {entry["ResourceId"]: key_value_tags(entry.get("TagsList", []))
                           for page in tag_pages for entry in page.get("ResourceTagList", [])}
            for trail in batch:
                tags = tags_by_arn.get(trail["TrailARN"], {})
                if belongs(tags, ctx.customer):
                    found.append(_read_trail(ctx, trail, tags, region))
    return found, errors, len(listed)


def _read_trail(ctx: ScanContext, trail: Mapping[str, Any], tags: Mapping[str, str], region: str) -> TrailReads:
    reader = ctx.reader
    arn = trail["TrailARN"]
    target = f"trail {trail['Name']}"
    return TrailReads(
        listed=trail, tags=tags,
        trail=reader.read("cloudtrail", "get_trail", target, region=region, Name=arn),
        status=reader.read("cloudtrail", "get_trail_status", target, region=region, Name=arn),
        selectors=reader.read("cloudtrail", "get_event_selectors", target, region=region, TrailName=arn))


def to_resource(reads: TrailReads) -> Resource:
    listed = reads.listed

    def from_trail(key: str):
        return lambda body: body["Trail"].get(key)

    attributes, errors = build_fields({
        "S3BucketName": (reads.trail, from_trail("S3BucketName")),
        "LogFileValidationEnabled": (reads.trail, from_trail("LogFileValidationEnabled")),
        "IsMultiRegionTrail": (reads.trail, from_trail("IsMultiRegionTrail")),
        "KmsKeyId": (reads.trail, from_trail("KmsKeyId")),
        "CloudWatchLogsLogGroupArn": (reads.trail, from_trail("CloudWatchLogsLogGroupArn")),
        "IsLogging": (reads.status, lambda body: body["IsLogging"]),
        # A trail has either basic or advanced event selectors, and AWS leaves out the other key (None here).
        "EventSelectors": (reads.selectors, lambda body: body.get("EventSelectors")),
        "AdvancedEventSelectors": (reads.selectors, lambda body: body.get("AdvancedEventSelectors")),
    })
    return Resource(kind="cloudtrail_trail", arn=listed["TrailARN"], name=listed["Name"],
                    region=listed.get("HomeRegion", ""), tags=reads.tags,
                    attributes={"Name": listed["Name"], **attributes}, errors=errors)


def collect(ctx: ScanContext) -> Collected:
    found, errors, listed = fetch(ctx)
    return Collected(resources=[to_resource(reads) for reads in found], errors=errors, seen=listed)
