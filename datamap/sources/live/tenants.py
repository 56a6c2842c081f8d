"""Every tenant of one account in one pass: each service is read once and its resources are split by tenant tag.

``scanner.scan`` reads the tags of every resource in the account to find one tenant's
resources, so scanning N tenants of an account one by one costs N times the account's tag
reads. ``scan_tenants`` reads each service once, keeps every resource that carries a
``pilot:customer`` tag and splits them by that tag. Each tenant's inventory contains what
``scan(customer, region=<its region>)`` returns, apart from ``taken_at`` and the order of
membership errors.

The steps are public so that a caller can run them concurrently: ``identify`` once per
account, ``scan_service`` once per entry of ``service_regions`` (S3 and IAM are global, so
they run once per account), then ``split_by_tenant``. Give each concurrent step its own
boto3 session, because sessions are not thread-safe.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime

import boto3

from datamap.inventory import Inventory, Resource, merge
from datamap.sources.live.calls import DEFAULT_MAX_ATTEMPTS, Reader, ScanContext
from datamap.sources.live.common import ANY_TENANT, Collected, Failure, membership_error
from datamap.sources.live.scanner import SERVICES
from infra import tags as tag_keys
from infra.errors import ScanError

LOG = logging.getLogger(__name__)

# Services whose resources are not tied to the scan region: S3 lists buckets of every
# region and IAM is global.
GLOBAL_SERVICES = ("s3", "iam")
SERVICE_ORDER = tuple(name for name, _ in SERVICES)
REGIONAL_SERVICES = tuple(name for name in SERVICE_ORDER if name not in GLOBAL_SERVICES)


@dataclass(frozen=True)
class Identity:
    """The account that a set of credentials reaches."""

    account_id: str
    partition: str = "aws"


@dataclass(frozen=True)
class ServiceScan:
    """The tenant resources of one service in one account and region, with the calls it took."""

    service: str
    region: str  # the region of the calls; resources of a global service apply to every region
    collected: Collected
    calls: int


def identify(session: boto3.Session, region: str, endpoint_url: str | None = None, *,
             max_attempts: int = DEFAULT_MAX_ATTEMPTS) -> Identity:
    """Return the account of the session's credentials.

    Raises ScanError when the account cannot be identified (no credentials, endpoint unreachable).
    """
    reader = Reader(session, region, endpoint_url, max_attempts)
    identity = reader.read("sts", "get_caller_identity", "the caller")
    if isinstance(identity, Failure):
        raise ScanError(f"cannot identify the AWS account ({identity}); check the credentials and the endpoint")
    return Identity(account_id=identity["Account"], partition=identity["Arn"].split(":")[1])


def service_regions(region: str, tenant_regions: Mapping[str, str] | None = None) -> list[tuple[str, str]]:
    """Return the (service, region) pairs that cover every tenant: global services once, the others per region."""
    regions = sorted({region, *(tenant_regions or {}).values()})
    pairs = [(service, region) for service in GLOBAL_SERVICES]
    pairs += [(service, name) for name in regions for service in REGIONAL_SERVICES]
    return pairs


def scan_service(session: boto3.Session, service: str, identity: Identity, region: str,
                 endpoint_url: str | None = None, *, max_attempts: int = DEFAULT_MAX_ATTEMPTS) -> ServiceScan:
    """Read one service's resources of every tenant with read-only calls.

    Failed reads are recorded as ``scanner.scan`` records them: in the resource's
    ``errors``, or in ``Collected.errors`` for a failed listing or tag read.
    """
    collect = dict(SERVICES)[service]
    reader = Reader(session, region, endpoint_url, max_attempts)
    context = ScanContext(reader=reader, customer=ANY_TENANT, account_id=identity.account_id,
                          partition=identity.partition)
    found = collect(context)
    calls = sum(reader.calls.values())
    LOG.info("%s in account %s, region %s: %d listed, %d in tenants, %d tenant-wide errors, %d API calls",
             service, identity.account_id, region, found.seen, len(found.resources), len(found.errors), calls)
    return ServiceScan(service=service, region=region, collected=found, calls=calls)


def split_by_tenant(identity: Identity, scans: Iterable[ServiceScan], default_region: str,
                    tenant_regions: Mapping[str, str] | None = None, taken_at: str | None = None
                    ) -> dict[str, Inventory]:
    """Split the resources of one account's service scans into one inventory per tenant.

    Tenants are the keys of ``tenant_regions`` (customer -> region), which get an
    inventory even when none of their resources was found, and every ``pilot:customer``
    value found on a resource. A tenant found only by tag gets ``default_region``, or the
    one region where its regional resources were found. Tenant-wide errors of a scan go to
    every tenant that the scan covers, because any of them may be missing resources.
    """
    scans = sorted(scans, key=lambda scan: (SERVICE_ORDER.index(scan.service), scan.region))
    regions = _tenant_regions(scans, default_region, tenant_regions or {})
    taken_at = taken_at or datetime.now(UTC).isoformat(timespec="seconds")
    iam_resources = [resource for scan in scans if scan.service == "iam" for resource in scan.collected.resources]
    used_policies = _policies_used(iam_resources)
    unreadable = _unreadable_local_policies(iam_resources, identity.account_id)

    inventories = {}
    for customer, region in sorted(regions.items()):
        resources: list[Resource] = []
        errors: list[str] = []
        for scan in scans:
            if scan.service not in GLOBAL_SERVICES and scan.region != region:
                continue
            errors.extend(scan.collected.errors)
            for resource in scan.collected.resources:
                if _customer_of(resource) == customer or resource.arn in used_policies[customer]:
                    resources.append(resource)
            if scan.service == "iam":
                errors.extend(membership_error(failure, f"policy {arn}", customer)
                              for arn, failure in unreadable.items() if arn not in used_policies[customer])
        inventories[customer] = Inventory(customer=customer, account_id=identity.account_id, source="live",
                                          resources=merge(resources), region=region, taken_at=taken_at,
                                          errors=tuple(errors))
    LOG.info("account %s: %d tenants from %d service scans", identity.account_id, len(inventories), len(scans))
    return inventories


def scan_tenants(session: boto3.Session | None = None, endpoint_url: str | None = None, region: str | None = None,
                 *, tenant_regions: Mapping[str, str] | None = None,
                 max_attempts: int = DEFAULT_MAX_ATTEMPTS) -> dict[str, Inventory]:
    """Read every tenant of the account in one pass and return customer -> inventory.

    ``region`` (default: the session's) is where tenants found only by tag are read.
    ``tenant_regions`` names tenants known in advance, such as those of the stack files,
    with their regions. The services run one after another; see the module docstring for
    running them concurrently. Raises ScanError when no region is set or the account
    cannot be identified.
    """
    session = session or boto3.Session()
    region = region or session.region_name
    if not region:
        raise ScanError("no AWS region set: pass a region or set AWS_REGION or AWS_DEFAULT_REGION")
    identity = identify(session, region, endpoint_url, max_attempts=max_attempts)
    scans = [scan_service(session, service, identity, service_region, endpoint_url, max_attempts=max_attempts)
             for service, service_region in service_regions(region, tenant_regions)]
    return split_by_tenant(identity, scans, region, tenant_regions)


def _customer_of(resource: Resource) -> str:
    return resource.tags.get(tag_keys.CUSTOMER, "")


def _tenant_regions(scans: list[ServiceScan], default_region: str,
                    known: Mapping[str, str]) -> dict[str, str]:
    """Return customer -> region for the known tenants and every tenant found by tag."""
    found: set[str] = set()
    regional: dict[str, set[str]] = defaultdict(set)
    for scan in scans:
        for resource in scan.collected.resources:
            customer = _customer_of(resource)
            if not customer:
                continue
            found.add(customer)
            if scan.service not in GLOBAL_SERVICES:
                regional[customer].add(scan.region)
    regions = dict(known)
    for customer in sorted(found - set(known)):
        seen = regional[customer]
        regions[customer] = next(iter(seen)) if len(seen) == 1 else default_region
        if len(seen) > 1:
            LOG.warning("tenant %s has no stack file and resources in regions %s; only %s is checked",
                        customer, ", ".join(sorted(seen)), default_region)
    return regions


def _policies_used(iam_resources: Iterable[Resource]) -> defaultdict[str, set[str]]:
    """Return customer -> ARNs of the managed policies that the tenant's roles, users and groups use.

    ``scanner.scan`` adds these policies to a tenant's inventory whether or not they are tagged.
    """
    used: defaultdict[str, set[str]] = defaultdict(set)
    for resource in iam_resources:
        if resource.kind not in ("iam_role", "iam_user"):
            continue
        arns = used[_customer_of(resource)]
        arns.update(resource.get("AttachedPolicies") or ())
        if resource.get("PermissionsBoundary"):
            arns.add(resource.get("PermissionsBoundary"))
        for group in (resource.get("GroupPolicies") or {}).values():
            arns.update(group.get("AttachedPolicies") or ())
    return used


def _unreadable_local_policies(iam_resources: Iterable[Resource], account_id: str) -> dict[str, Failure]:
    """Return ARN -> failure of the customer managed policies whose GetPolicy failed, so their tags are unknown.

    ``scanner.scan`` records such a policy as a membership error of every tenant that does not use it.
    """
    unreadable = {}
    for resource in iam_resources:
        error = resource.errors.get("Document", "")
        if resource.kind == "iam_policy" and f":{account_id}:" in resource.arn and error.startswith("iam:GetPolicy:"):
            operation, reason = error.split(": ", 1)
            unreadable[resource.arn] = Failure(operation, reason)
    return unreadable
