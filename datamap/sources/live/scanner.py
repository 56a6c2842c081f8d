"""The scan: one pass over the services, each fetching with read-only calls and then transforming."""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import UTC, datetime

import boto3

from datamap.inventory import Inventory, merge
from datamap.sources.live import backup, cloudtrail, iam, kms, logs, s3
from datamap.sources.live.calls import DEFAULT_MAX_ATTEMPTS, Reader, ScanContext
from datamap.sources.live.common import Collected, Failure
from infra.errors import InputError, ScanError

LOG = logging.getLogger(__name__)

# The services in scan order, each with the function that returns its tenant resources.
SERVICES: tuple[tuple[str, Callable[[ScanContext], Collected]], ...] = (
    ("s3", s3.collect),
    ("iam", iam.collect),
    ("kms", kms.collect),
    ("backup", backup.collect),
    ("cloudtrail", cloudtrail.collect),
    ("logs", logs.collect),
)


def scan(customer: str, session: boto3.Session | None = None, endpoint_url: str | None = None,
         region: str | None = None, *, max_attempts: int = DEFAULT_MAX_ATTEMPTS) -> Inventory:
    """Read the tenant's resources from the deployed account and return them as an inventory.

    Only read operations are called. A resource is in the tenant when its
    ``pilot:customer`` tag equals ``customer``, also when it was built by hand. Without ``session``
    the usual boto3 credential chain applies, and without ``endpoint_url`` boto3 honours
    ``AWS_ENDPOINT_URL``. ``region`` defaults to the session's region. S3 buckets are
    read in every region; the other services only in ``region``.

    A read that fails leaves its attribute out and records the reason in the resource's
    ``errors``. A failed listing, or a tag read that leaves tenant membership open, goes
    to ``Inventory.errors``. ``max_attempts`` is the total number of attempts per call
    under botocore's standard retry mode.

    Raises InputError for an empty customer and ScanError when no region is set or the
    account cannot be identified (no credentials, endpoint unreachable).
    """
    if not customer:
        raise InputError("customer: missing value; pass the tenant id used in the pilot:customer tag")
    session = session or boto3.Session()
    region = region or session.region_name
    if not region:
        raise ScanError("no AWS region set: pass a region or set AWS_REGION or AWS_DEFAULT_REGION")

    reader = Reader(session, region, endpoint_url, max_attempts)
    identity = reader.read("sts", "get_caller_identity", "the caller")
    if isinstance(identity, Failure):
        raise ScanError(f"cannot identify the AWS account ({identity}); check the credentials and the endpoint")
    account_id = identity["Account"]
    ctx = ScanContext(reader=reader, customer=customer, account_id=account_id,
                      partition=identity["Arn"].split(":")[1])
    LOG.info("scanning tenant %s in account %s, region %s", customer, account_id, region)

    resources = []
    errors: list[str] = []
    for service, collect in SERVICES:
        found = collect(ctx)
        unknown = len(found.errors) + sum(len(resource.errors) for resource in found.resources)
        LOG.info("%s: %d listed, %d in tenant %s, %d reads unknown, %d API calls", service, found.seen,
                 len(found.resources), customer, unknown, reader.calls[service])
        resources.extend(found.resources)
        errors.extend(found.errors)

    LOG.info("scan of tenant %s done: %d resources, %d tenant-wide errors, %d API calls", customer,
             len(resources), len(errors), sum(reader.calls.values()))
    return Inventory(customer=customer, account_id=account_id, source="live", resources=merge(resources),
                     region=region, taken_at=datetime.now(UTC).isoformat(timespec="seconds"), errors=tuple(errors))
