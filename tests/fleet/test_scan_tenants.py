"""The one-pass scan of every tenant in an account, and the fleet scan's retries, on a private emulator.

Three hand-built tenants share one account with an untagged bucket. Tenant ten1's role
also uses the managed policy tagged for ten0, so that policy belongs to both inventories.
"""

from __future__ import annotations

from collections import Counter

import boto3
import pytest
from botocore.awsrequest import AWSResponse
from fleet_tenants import SMALL, TenantBuilder, base_session

from datamap.fleet import Account, FleetOptions, FleetScan
from datamap.inventory import Inventory, Resource
from datamap.sources.live import scan, scan_tenants
from datamap.sources.live.common import Collected
from datamap.sources.live.tenants import Identity, ServiceScan, split_by_tenant
from infra import tags

pytestmark = pytest.mark.moto_server

ACCOUNT = "123456789012"
TENANTS = ["ten0", "ten1", "ten2"]
SHARED_POLICY = f"arn:aws:iam::{ACCOUNT}:policy/ten0-read"


def _reply(status: int, code: str):
    return (AWSResponse("http://127.0.0.1/injected", status, {}, None),
            {"Error": {"Code": code, "Message": "injected by the test"}, "ResponseMetadata": {"HTTPStatusCode": status}})


class OperationCount:
    """Counts the operations of a session's clients."""

    def __init__(self, session: boto3.Session):
        self.calls: Counter[str] = Counter()
        session.events.register("before-call", self._count)

    def _count(self, model, **kwargs) -> None:
        self.calls[model.name] += 1


@pytest.fixture(scope="module")
def account(fleet_emulator):
    session = base_session()
    builder = TenantBuilder(session, fleet_emulator.endpoint, ACCOUNT)
    for customer in TENANTS:
        builder.build(customer, SMALL)
    builder.iam.attach_role_policy(RoleName="ten1-role0", PolicyArn=SHARED_POLICY)
    builder.s3.create_bucket(Bucket="untagged-bucket")
    return fleet_emulator


def _comparable(inventory: Inventory) -> dict:
    data = inventory.to_json()
    data.pop("taken_at")
    return data


def test_split_equals_single_scans(account):
    together = scan_tenants(base_session(), region="us-east-1")
    assert sorted(together) == TENANTS
    for customer in TENANTS:
        alone = scan(customer, session=base_session(), region="us-east-1")
        assert _comparable(together[customer]) == _comparable(alone), customer


def test_split_shares_used_policy(account):
    together = scan_tenants(base_session(), region="us-east-1")
    assert together["ten1"].by_arn(SHARED_POLICY) is not None
    assert together["ten2"].by_arn(SHARED_POLICY) is None


def test_split_reads_each_tag_once(account):
    session = base_session()
    count = OperationCount(session)
    scan_tenants(session, region="us-east-1")
    buckets = 2 * len(TENANTS) + 1
    assert count.calls["GetBucketTagging"] == buckets
    assert count.calls["GetRole"] == len(TENANTS)


def test_split_copies_listing_errors(account):
    session = base_session()
    session.events.register("before-call.iam.ListUsers", lambda **kwargs: _reply(403, "AccessDenied"))
    together = scan_tenants(session, region="us-east-1")
    for customer in TENANTS:
        assert any(error.startswith("iam:ListUsers: AccessDenied") for error in together[customer].errors)
        assert together[customer].of_kind("iam_user") == ()


def test_split_unreadable_policy(account):
    session = base_session()
    session.events.register("before-call.iam.GetPolicy", lambda **kwargs: _reply(403, "AccessDenied"))
    together = scan_tenants(session, region="us-east-1")
    policy = together["ten1"].by_arn(SHARED_POLICY)
    assert "Document" in policy.errors
    assert any(SHARED_POLICY in error and "tenant ten2 is unknown" in error for error in together["ten2"].errors)


def _throttle_first(operation: str, counter: Counter):
    def handler(model, **kwargs):
        counter[operation] += 1
        if counter[operation] == 1:
            return _reply(400, "ThrottlingException")
        return None

    return handler


def test_fleet_retries_transient(account):
    counter: Counter[str] = Counter()

    def prepare(session: boto3.Session, account_id: str) -> None:
        session.events.register("before-call.s3.ListBuckets", _throttle_first("ListBuckets", counter))
        session.events.register("before-call.sts.GetCallerIdentity", _throttle_first("GetCallerIdentity", counter))

    fleet = FleetScan([Account()], session=base_session(), options=FleetOptions(
        region="us-east-1", retry_delay=0, prepare_session=prepare))
    results = {tenant.customer: tenant for tenant in fleet.run()}
    assert counter == {"ListBuckets": 2, "GetCallerIdentity": 2}
    assert sorted(results) == TENANTS
    for tenant in results.values():
        assert tenant.status == "complete"
        assert tenant.inventory.errors == ()
        assert len(tenant.inventory.of_kind("s3_bucket")) == 2


def test_fleet_unreachable_account(account):
    def prepare(session: boto3.Session, account_id: str) -> None:
        session.events.register("before-call.sts.GetCallerIdentity", lambda **kwargs: _reply(500, "InternalError"))

    fleet = FleetScan([Account(ACCOUNT)], session=base_session(), options=FleetOptions(
        region="us-east-1", retry_delay=0, max_attempts=1, prepare_session=prepare),
        known_accounts={"ten0": ACCOUNT, "elsewhere": "111111111111"})
    (result,) = fleet.run()
    assert (result.customer, result.status, result.account_id) == ("ten0", "failed", ACCOUNT)
    assert "InternalError" in result.reason
    assert list(fleet.failed_accounts) == [ACCOUNT]


# --- split_by_tenant on hand-made service scans -------------------------------------------------


def _resource(kind: str, name: str, customer: str) -> Resource:
    return Resource(kind=kind, arn=f"arn:aws:logs:eu-west-1:{ACCOUNT}:log-group:{name}", name=name,
                    tags={tags.CUSTOMER: customer})


def _service_scan(service: str, region: str, *resources: Resource, errors=()) -> ServiceScan:
    return ServiceScan(service, region, Collected(resources=list(resources), errors=list(errors)), calls=1)


def test_split_region_of_tag_only_tenant():
    scans = [_service_scan("s3", "us-east-1"), _service_scan("logs", "us-east-1"),
             _service_scan("logs", "eu-west-1", _resource("log_group", "/x", "west"))]
    inventories = split_by_tenant(Identity(ACCOUNT), scans, "us-east-1", {"known": "eu-west-1"})
    assert inventories["west"].region == "eu-west-1"
    assert [r.name for r in inventories["west"].resources] == ["/x"]
    assert inventories["known"].resources == ()


def test_split_regional_errors_stay_regional():
    scans = [_service_scan("logs", "us-east-1", errors=["logs:DescribeLogGroups: AccessDenied"]),
             _service_scan("logs", "eu-west-1"), _service_scan("iam", "us-east-1", errors=["iam:ListRoles: x"])]
    inventories = split_by_tenant(Identity(ACCOUNT), scans, "us-east-1", {"east": "us-east-1", "west": "eu-west-1"})
    assert inventories["east"].errors == ("iam:ListRoles: x", "logs:DescribeLogGroups: AccessDenied")
    assert inventories["west"].errors == ("iam:ListRoles: x",)
