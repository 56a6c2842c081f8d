"""S3: the tenant's buckets and the settings that decide how long data stays and who reads it.

Buckets are global, so the scanner reads every bucket of the account whatever the
scan region, and records each bucket's own region.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from datamap.inventory import Resource
from datamap.sources.live.calls import ScanContext
from datamap.sources.live.common import (Collected, Failure, Field, Read, belongs, build_fields, key_value_tags,
                                         membership_error, parse_policy)
from infra import naming

# Attribute name -> (boto3 method, error codes that mean "not configured").
SETTINGS: dict[str, tuple[str, tuple[str, ...]]] = {
    "Versioning": ("get_bucket_versioning", ()),
    "LifecycleConfiguration": ("get_bucket_lifecycle_configuration", ("NoSuchLifecycleConfiguration",)),
    "Encryption": ("get_bucket_encryption", ("ServerSideEncryptionConfigurationNotFoundError",)),
    "Policy": ("get_bucket_policy", ("NoSuchBucketPolicy",)),
    "PublicAccessBlock": ("get_public_access_block", ("NoSuchPublicAccessBlockConfiguration",)),
    "ReplicationConfiguration": ("get_bucket_replication", ("ReplicationConfigurationNotFoundError",)),
    "Logging": ("get_bucket_logging", ()),
    "ObjectLockConfiguration": ("get_object_lock_configuration", ("ObjectLockConfigurationNotFoundError",)),
}

# Attribute name -> the value taken from the read's response body.
EXTRACT = {
    "Versioning": dict,  # {} when versioning was never enabled
    "LifecycleConfiguration": lambda body: {"Rules": body["Rules"]},
    "Encryption": lambda body: body["ServerSideEncryptionConfiguration"],
    "Policy": lambda body: parse_policy(body["Policy"]),
    "PublicAccessBlock": lambda body: body["PublicAccessBlockConfiguration"],
    "ReplicationConfiguration": lambda body: body["ReplicationConfiguration"],
    "Logging": lambda body: body.get("LoggingEnabled"),
    "ObjectLockConfiguration": lambda body: body["ObjectLockConfiguration"],
}


@dataclass(frozen=True)
class BucketReads:
    """Raw reads of one tenant bucket."""

    name: str
    tags: Mapping[str, str]
    location: Read  # a get_bucket_location body, or {"LocationConstraint": BucketRegion} from the listing
    settings: Mapping[str, Read]  # attribute name -> read, for every key of SETTINGS


def fetch(ctx: ScanContext) -> tuple[list[BucketReads], list[str], int]:
    """Read the tenant's buckets. Return their reads, the tenant-wide errors and the number of buckets listed."""
    reader = ctx.reader
    pages, failure = reader.pages("s3", "list_buckets", "the account")
    errors = [str(failure)] if failure else []
    listed = [bucket for page in pages for bucket in page.get("Buckets", [])]

    found = []
    for bucket in listed:
        name = bucket["Name"]
        target = f"bucket {name}"
        # On AWS, ListBuckets returns each bucket's region. Without it, the tagging read goes
        # to the scan region and botocore follows S3's redirect to the bucket's region.
        known_region = bucket.get("BucketRegion")
        tagging = reader.read("s3", "get_bucket_tagging", target, region=known_region,
                              not_configured=("NoSuchTagSet",), Bucket=name)
        if isinstance(tagging, Failure):
            errors.append(membership_error(tagging, target, ctx.customer))
            continue
        tags = key_value_tags(tagging["TagSet"]) if tagging else {}
        if not belongs(tags, ctx.customer):
            continue

        if known_region:
            location: Read = {"LocationConstraint": known_region}
        else:
            location = reader.read("s3", "get_bucket_location", target, Bucket=name)
        region = None if isinstance(location, Failure) else region_from_location(location)
        settings = {attribute: reader.read("s3", method, target, region=region, not_configured=codes, Bucket=name)
                    for attribute, (method, codes) in SETTINGS.items()}
        found.append(BucketReads(name=name, tags=tags, location=location, settings=settings))
    return found, errors, len(listed)


def region_from_location(body: Mapping[str, Any]) -> str:
    """Return the region of a get_bucket_location response. S3 returns None for us-east-1 and "EU" for eu-west-1."""
    constraint = body.get("LocationConstraint")
    if not constraint:
        return "us-east-1"
    if constraint == "EU":
        return "eu-west-1"
    return constraint


def to_resource(reads: BucketReads, partition: str = "aws") -> Resource:
    fields: dict[str, Field] = {"Region": (reads.location, region_from_location)}
    for attribute in SETTINGS:
        fields[attribute] = (reads.settings[attribute], EXTRACT[attribute])
    attributes, errors = build_fields(fields)
    return Resource(kind="s3_bucket", arn=naming.bucket_arn(reads.name, partition), name=reads.name,
                    region=attributes.get("Region") or "", tags=reads.tags,
                    attributes={"Name": reads.name, **attributes}, errors=errors)


def collect(ctx: ScanContext) -> Collected:
    found, errors, listed = fetch(ctx)
    return Collected(resources=[to_resource(reads, ctx.partition) for reads in found], errors=errors, seen=listed)
