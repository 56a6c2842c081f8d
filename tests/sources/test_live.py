"""The live scanner against the shared moto server: scoping, values, unknowns, pagination, read-only.

The module builds one tenant with boto3 (plus another tenant's and untagged resources
that the scan must leave out) and scans it. Failures are injected with botocore event
handlers on the session the scan uses, so the server state stays the same for every test.
Names carry a random suffix because the emulator is shared with other test modules.
"""

from __future__ import annotations

import json
import os
import socket
import uuid
from collections import Counter
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from botocore.awsrequest import AWSResponse

from datamap import inventory as inventory_module
from datamap.inventory import Inventory, Resource
from datamap.sources.live import scan
from infra import tags
from infra.errors import ScanError
from infra.sandbox import emulator as sandbox

pytestmark = pytest.mark.moto_server

SUFFIX = uuid.uuid4().hex[:8]
CUSTOMER = f"scan{SUFFIX}"
OTHER = f"other{SUFFIX}"
ACCOUNT = "123456789012"
REGION = "us-east-1"
READ_ONLY_ARN = "arn:aws:iam::aws:policy/AmazonS3ReadOnlyAccess"
BULK_LOG_GROUPS = 120  # more than two pages of DescribeLogGroups (50 per page)

TRUST = {"Version": "2012-10-17", "Statement": [
    {"Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{ACCOUNT}:root"}, "Action": "sts:AssumeRole"}]}
INLINE = {"Version": "2012-10-17", "Statement": [
    {"Sid": "Write", "Effect": "Allow", "Action": "s3:PutObject", "Resource": f"arn:aws:s3:::{CUSTOMER}-records/*"}]}
BOUNDARY = {"Version": "2012-10-17", "Statement": [
    {"Effect": "Allow", "Action": ["s3:*", "logs:*"], "Resource": "*"}]}
GROUP_INLINE = {"Version": "2012-10-17", "Statement": [
    {"Effect": "Allow", "Action": "logs:GetLogEvents", "Resource": "*"}]}
SPARE = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "s3:ListBucket", "Resource": "*"}]}
LIFECYCLE_RULES = [{"ID": "retention", "Status": "Enabled", "Filter": {"Prefix": ""},
                    "Expiration": {"Days": 365}, "NoncurrentVersionExpiration": {"NoncurrentDays": 90}}]
PUBLIC_ACCESS_BLOCK = {"BlockPublicAcls": True, "IgnorePublicAcls": True, "BlockPublicPolicy": True,
                       "RestrictPublicBuckets": True}


def _tag_list(customer: str | None) -> list[dict[str, str]]:
    return [{"Key": tags.CUSTOMER, "Value": customer}] if customer else []


def _tag_dict(customer: str | None) -> dict[str, str]:
    return {tags.CUSTOMER: customer} if customer else {}


def _bucket_policy(bucket: str) -> dict[str, Any]:
    return {"Version": "2012-10-17", "Statement": [{
        "Sid": "TlsOnly", "Effect": "Deny", "Principal": "*", "Action": "s3:*",
        "Resource": [f"arn:aws:s3:::{bucket}", f"arn:aws:s3:::{bucket}/*"],
        "Condition": {"Bool": {"aws:SecureTransport": "false"}}}]}


def _populate(session: boto3.Session) -> dict[str, Any]:
    """Create the tenant, another tenant and untagged resources; return the names and ARNs the tests need."""
    s3 = session.client("s3")
    iam = session.client("iam")
    kms = session.client("kms")
    backup = session.client("backup")
    cloudtrail = session.client("cloudtrail")
    logs = session.client("logs")
    made: dict[str, Any] = {}

    key = kms.create_key(Description="tenant key", Tags=[{"TagKey": tags.CUSTOMER, "TagValue": CUSTOMER}])
    made["key_id"] = key["KeyMetadata"]["KeyId"]
    made["key_arn"] = key["KeyMetadata"]["Arn"]
    kms.enable_key_rotation(KeyId=made["key_id"])
    kms.create_alias(AliasName=f"alias/pilot/{CUSTOMER}", TargetKeyId=made["key_id"])
    kms.create_key(Description="other key", Tags=[{"TagKey": tags.CUSTOMER, "TagValue": OTHER}])
    kms.create_key(Description="untagged key")

    records, audit, bare = f"{CUSTOMER}-records", f"{CUSTOMER}-audit", f"{CUSTOMER}-bare"
    replica, locked = f"{CUSTOMER}-replica", f"{CUSTOMER}-locked"
    made["buckets"] = {records, audit, bare, replica, locked}
    for bucket in (records, audit, bare, replica):
        s3.create_bucket(Bucket=bucket)
    s3.create_bucket(Bucket=locked, ObjectLockEnabledForBucket=True)
    for bucket in made["buckets"]:
        s3.put_bucket_tagging(Bucket=bucket, Tagging={"TagSet": _tag_list(CUSTOMER)})
    s3.create_bucket(Bucket=f"{OTHER}-records")
    s3.put_bucket_tagging(Bucket=f"{OTHER}-records", Tagging={"TagSet": _tag_list(OTHER)})
    s3.create_bucket(Bucket=f"{CUSTOMER}-untagged")

    for bucket in (records, replica):
        s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
    s3.put_bucket_lifecycle_configuration(Bucket=records, LifecycleConfiguration={"Rules": LIFECYCLE_RULES})
    s3.put_bucket_encryption(Bucket=records, ServerSideEncryptionConfiguration={"Rules": [{
        "ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "aws:kms", "KMSMasterKeyID": made["key_arn"]},
        "BucketKeyEnabled": True}]})
    s3.put_bucket_policy(Bucket=records, Policy=json.dumps(_bucket_policy(records)))
    s3.put_public_access_block(Bucket=records, PublicAccessBlockConfiguration=PUBLIC_ACCESS_BLOCK)
    made["replication_role"] = f"arn:aws:iam::{ACCOUNT}:role/{CUSTOMER}-replication"
    s3.put_bucket_replication(Bucket=records, ReplicationConfiguration={
        "Role": made["replication_role"],
        "Rules": [{"ID": "copy", "Priority": 1, "Status": "Enabled", "Filter": {"Prefix": ""},
                   "DeleteMarkerReplication": {"Status": "Disabled"},
                   "Destination": {"Bucket": f"arn:aws:s3:::{replica}"}}]})
    s3.put_bucket_policy(Bucket=audit, Policy=json.dumps({"Version": "2012-10-17", "Statement": [{
        "Sid": "AccessLogs", "Effect": "Allow", "Principal": {"Service": "logging.s3.amazonaws.com"},
        "Action": "s3:PutObject", "Resource": f"arn:aws:s3:::{audit}/*"}]}))
    s3.put_bucket_logging(Bucket=records, BucketLoggingStatus={
        "LoggingEnabled": {"TargetBucket": audit, "TargetPrefix": "records/"}})
    s3.put_object_lock_configuration(Bucket=locked, ObjectLockConfiguration={
        "ObjectLockEnabled": "Enabled", "Rule": {"DefaultRetention": {"Mode": "GOVERNANCE", "Days": 30}}})

    path = f"/pilot/{CUSTOMER}/"
    boundary = iam.create_policy(PolicyName=f"{CUSTOMER}-boundary", PolicyDocument=json.dumps(BOUNDARY))
    made["boundary_arn"] = boundary["Policy"]["Arn"]
    spare = iam.create_policy(PolicyName=f"{CUSTOMER}-spare", PolicyDocument=json.dumps(SPARE),
                              Tags=_tag_list(CUSTOMER))
    made["spare_arn"] = spare["Policy"]["Arn"]
    iam.create_policy(PolicyName=f"{OTHER}-spare", PolicyDocument=json.dumps(SPARE), Tags=_tag_list(OTHER))
    group_policy = iam.create_policy(PolicyName=f"{CUSTOMER}-group-read", PolicyDocument=json.dumps(SPARE))
    made["group_policy_arn"] = group_policy["Policy"]["Arn"]

    recorder = f"{CUSTOMER}-recorder"
    iam.create_role(RoleName=recorder, Path=path, AssumeRolePolicyDocument=json.dumps(TRUST),
                    PermissionsBoundary=made["boundary_arn"], Tags=_tag_list(CUSTOMER))
    iam.put_role_policy(RoleName=recorder, PolicyName="write-records", PolicyDocument=json.dumps(INLINE))
    iam.attach_role_policy(RoleName=recorder, PolicyArn=READ_ONLY_ARN)
    # Built by hand outside the tenant path: only the tag makes it part of the tenant.
    iam.create_role(RoleName=f"{CUSTOMER}-handmade", AssumeRolePolicyDocument=json.dumps(TRUST),
                    Tags=_tag_list(CUSTOMER))
    iam.create_role(RoleName=f"{CUSTOMER}-untagged", Path=path, AssumeRolePolicyDocument=json.dumps(TRUST))
    iam.create_role(RoleName=f"{OTHER}-recorder", AssumeRolePolicyDocument=json.dumps(TRUST),
                    Tags=_tag_list(OTHER))
    made["roles"] = {recorder, f"{CUSTOMER}-handmade"}

    alice, bob = f"{CUSTOMER}-alice", f"{CUSTOMER}-bob"
    readers = f"{CUSTOMER}-readers"
    iam.create_group(GroupName=readers, Path=path)
    iam.put_group_policy(GroupName=readers, PolicyName="read-logs", PolicyDocument=json.dumps(GROUP_INLINE))
    iam.attach_group_policy(GroupName=readers, PolicyArn=made["group_policy_arn"])
    iam.create_user(UserName=alice, Path=path, Tags=_tag_list(CUSTOMER))
    iam.create_login_profile(UserName=alice, Password="Not-a-real-password-1")
    iam.create_access_key(UserName=alice)
    iam.create_access_key(UserName=alice)
    iam.add_user_to_group(GroupName=readers, UserName=alice)
    iam.put_user_policy(UserName=alice, PolicyName="own", PolicyDocument=json.dumps(SPARE))
    iam.create_user(UserName=bob, Tags=_tag_list(CUSTOMER))
    iam.create_user(UserName=f"{CUSTOMER}-untagged-user", Path=path)
    iam.create_user(UserName=f"{OTHER}-carol", Tags=_tag_list(OTHER))
    made["users"] = {alice, bob}

    vault = f"pilot-{CUSTOMER}"
    backup.create_backup_vault(BackupVaultName=vault, EncryptionKeyArn=made["key_arn"],
                               BackupVaultTags=_tag_dict(CUSTOMER))
    backup.put_backup_vault_lock_configuration(BackupVaultName=vault, MinRetentionDays=7, MaxRetentionDays=365)
    backup.create_backup_vault(BackupVaultName=f"pilot-{OTHER}", BackupVaultTags=_tag_dict(OTHER))
    backup.create_backup_vault(BackupVaultName=f"{CUSTOMER}-untagged-vault")
    made["vault"] = vault
    made["plan_rules"] = [{"RuleName": "daily", "TargetBackupVaultName": vault,
                           "ScheduleExpression": "cron(0 5 ? * * *)", "Lifecycle": {"DeleteAfterDays": 35}}]
    plan = backup.create_backup_plan(BackupPlan={"BackupPlanName": f"pilot-{CUSTOMER}", "Rules": made["plan_rules"]},
                                     BackupPlanTags=_tag_dict(CUSTOMER))
    made["plan"] = f"pilot-{CUSTOMER}"
    made["selection"] = {"SelectionName": "tagged", "IamRoleArn": f"arn:aws:iam::{ACCOUNT}:role/{recorder}",
                         "ListOfTags": [{"ConditionType": "STRINGEQUALS", "ConditionKey": tags.BACKUP,
                                         "ConditionValue": "true"}]}
    # Plain moto 5.2.5 lacks backup selections; the sandbox's moto extension adds them.
    try:
        backup.create_backup_selection(BackupPlanId=plan["BackupPlanId"], BackupSelection=made["selection"])
        made["selections_supported"] = True
    except backup.exceptions.ClientError:
        made["selections_supported"] = False
    backup.create_backup_plan(BackupPlan={"BackupPlanName": f"pilot-{OTHER}", "Rules": made["plan_rules"]},
                              BackupPlanTags=_tag_dict(OTHER))

    trail = f"pilot-{CUSTOMER}"
    cloudtrail.create_trail(Name=trail, S3BucketName=audit, EnableLogFileValidation=True, IsMultiRegionTrail=True,
                            TagsList=_tag_list(CUSTOMER))
    made["event_selectors"] = [{"ReadWriteType": "All", "IncludeManagementEvents": True,
                                "DataResources": [{"Type": "AWS::S3::Object", "Values": [f"arn:aws:s3:::{records}/"]}]}]
    cloudtrail.put_event_selectors(TrailName=trail, EventSelectors=made["event_selectors"])
    cloudtrail.start_logging(Name=trail)
    cloudtrail.create_trail(Name=f"pilot-{OTHER}", S3BucketName=audit, TagsList=_tag_list(OTHER))
    made["trail"] = trail

    kept, forever = f"/pilot/{CUSTOMER}/records", f"/pilot/{CUSTOMER}/audit-trail"
    logs.create_log_group(logGroupName=kept, kmsKeyId=made["key_arn"], tags=_tag_dict(CUSTOMER))
    logs.put_retention_policy(logGroupName=kept, retentionInDays=30)
    logs.create_log_group(logGroupName=forever, tags=_tag_dict(CUSTOMER))
    logs.create_log_group(logGroupName=f"/pilot/{OTHER}/records", tags=_tag_dict(OTHER))
    logs.create_log_group(logGroupName=f"/pilot/{CUSTOMER}/untagged")
    bulk = {f"/bulk/{CUSTOMER}/{index:03d}" for index in range(BULK_LOG_GROUPS)}
    for name in sorted(bulk):
        logs.create_log_group(logGroupName=name, tags=_tag_dict(CUSTOMER))
    made["log_groups"] = {kept, forever} | bulk
    made["kept_log_group"], made["forever_log_group"] = kept, forever
    return made


@pytest.fixture(scope="module")
def module_env(emulator) -> Iterator[dict[str, str]]:
    """Point boto3 at the emulator for the whole module, like the shared ``aws_env`` does per test."""
    with pytest.MonkeyPatch.context() as patch:
        for name in list(os.environ):
            if name.startswith("AWS_"):
                patch.delenv(name)
        env = sandbox.client_env(emulator.endpoint, REGION)
        for name, value in env.items():
            patch.setenv(name, value)
        yield env


@pytest.fixture(scope="module")
def tenant(module_env) -> dict[str, Any]:
    return _populate(boto3.Session())


class OperationLog:
    """Records every operation the clients of a session call, and flags those that are not reads."""

    READ_VERBS = ("List", "Get", "Describe", "Head", "Lookup")

    def __init__(self, session: boto3.Session):
        self.calls: Counter[str] = Counter()
        self.writes: list[str] = []
        session.events.register("before-call", self._record)

    def _record(self, model, **kwargs) -> None:
        name = f"{model.service_model.service_name}:{model.name}"
        self.calls[name] += 1
        if not model.name.startswith(self.READ_VERBS):
            self.writes.append(name)
            raise AssertionError(f"the scanner called {name}, which is not a read operation")


@pytest.fixture(scope="module")
def scanned(tenant) -> tuple[Inventory, OperationLog]:
    session = boto3.Session()
    operations = OperationLog(session)
    return scan(CUSTOMER, session=session), operations


@pytest.fixture(scope="module")
def inventory(scanned) -> Inventory:
    return scanned[0]


def _one(inventory: Inventory, kind: str, name: str) -> Resource:
    matches = [resource for resource in inventory.of_kind(kind) if resource.name == name]
    assert len(matches) == 1, f"expected one {kind} named {name}, found {len(matches)}"
    return matches[0]


def _reply(status: int, code: str):
    """Return a before-call handler result that makes botocore raise ClientError without a request."""
    return (AWSResponse("http://127.0.0.1/injected", status, {}, None),
            {"Error": {"Code": code, "Message": "injected by the test"}, "ResponseMetadata": {"HTTPStatusCode": status}})


def _deny(session: boto3.Session, event: str, url_part: str = "") -> None:
    """Make one operation (``service.Operation``) fail with AccessDenied, optionally only for URLs containing a part."""
    def handler(params, **kwargs):
        if url_part and url_part not in params["url"]:
            return None
        return _reply(403, "AccessDenied")

    session.events.register(f"before-call.{event}", handler)


# --- scoping --------------------------------------------------------------------------------------


def test_scan_finds_exactly_tenant(inventory, tenant):
    found = {(resource.kind, resource.name) for resource in inventory.resources}
    expected = {("s3_bucket", name) for name in tenant["buckets"]}
    expected |= {("iam_role", name) for name in tenant["roles"]}
    expected |= {("iam_user", name) for name in tenant["users"]}
    expected |= {("iam_policy", name) for name in
                 ("AmazonS3ReadOnlyAccess", f"{CUSTOMER}-boundary", f"{CUSTOMER}-spare", f"{CUSTOMER}-group-read")}
    expected |= {("kms_key", f"alias/pilot/{CUSTOMER}"), ("backup_vault", tenant["vault"]),
                 ("backup_plan", tenant["plan"]), ("cloudtrail_trail", tenant["trail"])}
    expected |= {("log_group", name) for name in tenant["log_groups"]}
    assert found == expected


def test_scan_excludes_others(inventory):
    names = {resource.name for resource in inventory.resources}
    assert not [name for name in names if OTHER in name]
    assert not [name for name in names if "untagged" in name]
    assert len(inventory.of_kind("kms_key")) == 1


def test_scan_metadata(inventory):
    assert inventory.customer == CUSTOMER
    assert inventory.account_id == ACCOUNT
    assert inventory.source == "live"
    assert inventory.region == REGION
    assert inventory.errors == ()
    assert inventory.taken_at


def test_scan_round_trips_json(inventory, tmp_path):
    path = inventory_module.write(inventory, tmp_path / "live.json")
    assert inventory_module.read(path).to_json() == inventory.to_json()


# --- attribute values -----------------------------------------------------------------------------


def test_bucket_settings(inventory, tenant):
    bucket = _one(inventory, "s3_bucket", f"{CUSTOMER}-records")
    assert bucket.errors == {}
    assert bucket.arn == f"arn:aws:s3:::{CUSTOMER}-records"
    assert bucket.tags[tags.CUSTOMER] == CUSTOMER
    assert bucket.get("Name") == f"{CUSTOMER}-records"
    assert bucket.get("Region") == REGION
    assert bucket.get("Versioning")["Status"] == "Enabled"
    rules = bucket.get("LifecycleConfiguration")["Rules"]
    assert rules[0]["NoncurrentVersionExpiration"]["NoncurrentDays"] == 90
    assert rules[0]["Expiration"]["Days"] == 365
    sse = bucket.get("Encryption")["Rules"][0]["ApplyServerSideEncryptionByDefault"]
    assert sse["SSEAlgorithm"] == "aws:kms"
    assert sse["KMSMasterKeyID"] == tenant["key_arn"]
    assert inventory_module.thaw(bucket.get("Policy")) == _bucket_policy(f"{CUSTOMER}-records")
    assert dict(bucket.get("PublicAccessBlock")) == PUBLIC_ACCESS_BLOCK
    replication = bucket.get("ReplicationConfiguration")
    assert replication["Role"] == tenant["replication_role"]
    assert replication["Rules"][0]["Destination"]["Bucket"] == f"arn:aws:s3:::{CUSTOMER}-replica"
    assert bucket.get("Logging")["TargetBucket"] == f"{CUSTOMER}-audit"
    assert bucket.get("ObjectLockConfiguration") is None


def test_bucket_not_configured_is_none(inventory):
    bucket = _one(inventory, "s3_bucket", f"{CUSTOMER}-bare")
    assert bucket.errors == {}
    assert dict(bucket.get("Versioning")) == {}
    for attribute in ("LifecycleConfiguration", "Encryption", "Policy", "PublicAccessBlock",
                      "ReplicationConfiguration", "Logging", "ObjectLockConfiguration"):
        assert bucket.known(attribute), attribute
        assert bucket.get(attribute) is None, attribute


def test_bucket_object_lock(inventory):
    bucket = _one(inventory, "s3_bucket", f"{CUSTOMER}-locked")
    lock = bucket.get("ObjectLockConfiguration")
    assert lock["ObjectLockEnabled"] == "Enabled"
    assert lock["Rule"]["DefaultRetention"]["Days"] == 30


def test_role_policies(inventory, tenant):
    role = _one(inventory, "iam_role", f"{CUSTOMER}-recorder")
    assert role.errors == {}
    assert role.arn == f"arn:aws:iam::{ACCOUNT}:role/pilot/{CUSTOMER}/{CUSTOMER}-recorder"
    assert role.get("Path") == f"/pilot/{CUSTOMER}/"
    assert inventory_module.thaw(role.get("AssumeRolePolicyDocument")) == TRUST
    assert inventory_module.thaw(role.get("InlinePolicies")) == {"write-records": INLINE}
    assert list(role.get("AttachedPolicies")) == [READ_ONLY_ARN]
    assert role.get("PermissionsBoundary") == tenant["boundary_arn"]


def test_handmade_role_found(inventory):
    role = _one(inventory, "iam_role", f"{CUSTOMER}-handmade")
    assert role.get("Path") == "/"
    assert role.get("PermissionsBoundary") is None
    assert dict(role.get("InlinePolicies")) == {}


def test_managed_policy_documents(inventory, tenant):
    read_only = inventory.by_arn(READ_ONLY_ARN)
    assert read_only is not None
    assert read_only.kind == "iam_policy"
    assert read_only.errors == {}
    actions = {action for statement in read_only.get("Document")["Statement"]
               for action in ([statement["Action"]] if isinstance(statement["Action"], str) else statement["Action"])}
    assert "s3:Get*" in actions
    boundary = inventory.by_arn(tenant["boundary_arn"])
    assert inventory_module.thaw(boundary.get("Document")) == BOUNDARY
    spare = inventory.by_arn(tenant["spare_arn"])
    assert spare.tags[tags.CUSTOMER] == CUSTOMER
    assert spare.get("PolicyName") == f"{CUSTOMER}-spare"


def test_user_access(inventory, tenant):
    alice = _one(inventory, "iam_user", f"{CUSTOMER}-alice")
    assert alice.errors == {}
    assert list(alice.get("Groups")) == [f"{CUSTOMER}-readers"]
    assert alice.get("LoginProfile") is True
    assert alice.get("AccessKeys") == 2
    assert inventory_module.thaw(alice.get("InlinePolicies")) == {"own": SPARE}
    assert inventory_module.thaw(alice.get("GroupPolicies")) == {
        f"{CUSTOMER}-readers": {"InlinePolicies": {"read-logs": GROUP_INLINE},
                                "AttachedPolicies": [tenant["group_policy_arn"]]}}
    bob = _one(inventory, "iam_user", f"{CUSTOMER}-bob")
    assert bob.get("LoginProfile") is False
    assert bob.get("AccessKeys") == 0
    assert list(bob.get("Groups")) == []


def test_kms_key(inventory, tenant):
    key = _one(inventory, "kms_key", f"alias/pilot/{CUSTOMER}")
    assert key.errors == {}
    assert key.arn == tenant["key_arn"]
    assert key.get("KeyId") == tenant["key_id"]
    assert key.get("KeyRotationEnabled") is True
    assert key.get("KeyState") == "Enabled"
    assert key.get("Description") == "tenant key"
    assert list(key.get("Aliases")) == [f"alias/pilot/{CUSTOMER}"]
    assert key.get("Policy")["Statement"]


def test_backup_vault_lock(inventory, tenant):
    vault = _one(inventory, "backup_vault", tenant["vault"])
    assert vault.get("Locked") is True
    assert vault.get("MinRetentionDays") == 7
    assert vault.get("MaxRetentionDays") == 365
    assert vault.get("EncryptionKeyArn") == tenant["key_arn"]


def test_backup_plan_rules(inventory, tenant):
    plan = _one(inventory, "backup_plan", tenant["plan"])
    rules = plan.get("Rules")
    assert [rule["RuleName"] for rule in rules] == ["daily"]
    assert rules[0]["Lifecycle"]["DeleteAfterDays"] == 35
    assert rules[0]["TargetBackupVaultName"] == tenant["vault"]
    if tenant["selections_supported"]:
        assert plan.known("Selections")
        assert [selection["SelectionName"] for selection in plan.get("Selections")] == ["tagged"]
        assert plan.get("Selections")[0]["ListOfTags"][0]["ConditionKey"] == tags.BACKUP
    else:
        assert not plan.known("Selections")
        assert "backup:" in plan.errors["Selections"]


def test_trail_settings(inventory, tenant):
    trail = _one(inventory, "cloudtrail_trail", tenant["trail"])
    assert trail.errors == {}
    assert trail.get("IsLogging") is True
    assert trail.get("LogFileValidationEnabled") is True
    assert trail.get("IsMultiRegionTrail") is True
    assert trail.get("S3BucketName") == f"{CUSTOMER}-audit"
    assert inventory_module.thaw(trail.get("EventSelectors")) == tenant["event_selectors"]
    assert trail.get("KmsKeyId") is None
    assert trail.get("CloudWatchLogsLogGroupArn") is None


def test_log_group_retention(inventory, tenant):
    kept = _one(inventory, "log_group", tenant["kept_log_group"])
    assert kept.get("retentionInDays") == 30
    assert kept.get("kmsKeyId") == tenant["key_arn"]
    assert kept.arn == f"arn:aws:logs:{REGION}:{ACCOUNT}:log-group:{tenant['kept_log_group']}"
    forever = _one(inventory, "log_group", tenant["forever_log_group"])
    assert "retentionInDays" not in forever.attributes
    assert forever.get("kmsKeyId") is None


# --- pagination and read-only ---------------------------------------------------------------------


def test_log_groups_paginated(scanned):
    inventory, operations = scanned
    bulk = [resource for resource in inventory.of_kind("log_group") if resource.name.startswith("/bulk/")]
    assert len(bulk) == BULK_LOG_GROUPS
    assert operations.calls["logs:DescribeLogGroups"] >= 3


def test_scan_only_reads(scanned):
    _, operations = scanned
    assert operations.writes == []
    services = {name.split(":")[0] for name in operations.calls}
    assert services == {"sts", "s3", "iam", "kms", "backup", "cloudtrail", "logs"}
    assert operations.calls["s3:GetBucketPolicy"] >= 5


# --- failures become unknown ----------------------------------------------------------------------


def test_denied_read_is_error(tenant):
    session = boto3.Session()
    _deny(session, "s3.GetBucketPolicy", url_part=f"/{CUSTOMER}-records")
    inventory = scan(CUSTOMER, session=session)

    records = _one(inventory, "s3_bucket", f"{CUSTOMER}-records")
    assert "Policy" not in records.attributes
    assert not records.known("Policy")
    assert records.errors["Policy"].startswith("s3:GetBucketPolicy: AccessDenied")
    assert records.get("PublicAccessBlock") is not None
    bare = _one(inventory, "s3_bucket", f"{CUSTOMER}-bare")
    assert bare.known("Policy")
    assert inventory.errors == ()


def test_denied_inline_policy_is_error(tenant):
    session = boto3.Session()
    _deny(session, "iam.GetRolePolicy")
    inventory = scan(CUSTOMER, session=session)

    role = _one(inventory, "iam_role", f"{CUSTOMER}-recorder")
    assert "InlinePolicies" not in role.attributes
    assert role.errors["InlinePolicies"].startswith("iam:GetRolePolicy: AccessDenied")
    assert list(role.get("AttachedPolicies")) == [READ_ONLY_ARN]


def test_denied_listing_is_inventory_error(tenant):
    session = boto3.Session()
    _deny(session, "iam.ListRoles")
    inventory = scan(CUSTOMER, session=session)

    assert inventory.of_kind("iam_role") == ()
    assert [error for error in inventory.errors if error.startswith("iam:ListRoles: AccessDenied")]
    assert {resource.name for resource in inventory.of_kind("iam_user")} == tenant["users"]


def test_denied_tag_read_is_inventory_error(tenant):
    session = boto3.Session()
    _deny(session, "s3.GetBucketTagging", url_part=f"/{CUSTOMER}-untagged")
    inventory = scan(CUSTOMER, session=session)

    errors = [error for error in inventory.errors if f"bucket {CUSTOMER}-untagged" in error]
    assert len(errors) == 1
    assert errors[0].startswith("s3:GetBucketTagging: AccessDenied")
    assert f"tenant {CUSTOMER} is unknown" in errors[0]
    assert {resource.name for resource in inventory.of_kind("s3_bucket")} == tenant["buckets"]


def test_selection_5xx_is_plan_error(tenant):
    """A 500 (what plain moto returns for backup selections) is retried, then recorded on the plan."""
    session = boto3.Session()
    attempts = Counter()

    class HtmlBody:
        def stream(self, **kwargs):
            yield b"<!doctype html><title>500 Internal Server Error</title>"

    def fail(request, **kwargs):
        attempts["ListBackupSelections"] += 1
        return AWSResponse(request.url, 500, {"Content-Type": "text/html"}, HtmlBody())

    session.events.register("before-send.backup.ListBackupSelections", fail)
    inventory = scan(CUSTOMER, session=session, max_attempts=2)

    plan = _one(inventory, "backup_plan", tenant["plan"])
    assert "Selections" not in plan.attributes
    assert plan.errors["Selections"].startswith("backup:ListBackupSelections: HTTP 500")
    assert plan.known("Rules")
    assert attempts["ListBackupSelections"] == 2


def test_explicit_endpoint(tenant, module_env, monkeypatch):
    monkeypatch.delenv("AWS_ENDPOINT_URL")
    inventory = scan(CUSTOMER, session=boto3.Session(), endpoint_url=module_env["AWS_ENDPOINT_URL"], region=REGION)
    assert {resource.name for resource in inventory.of_kind("s3_bucket")} == tenant["buckets"]


def test_unreachable_endpoint_raises(module_env, unused_port):
    with pytest.raises(ScanError, match="cannot identify the AWS account"):
        scan(CUSTOMER, session=boto3.Session(), endpoint_url=f"http://127.0.0.1:{unused_port}", max_attempts=1)


def test_missing_region_raises(module_env, monkeypatch):
    monkeypatch.delenv("AWS_DEFAULT_REGION")
    monkeypatch.delenv("AWS_REGION")
    monkeypatch.setenv("AWS_CONFIG_FILE", os.devnull)
    with pytest.raises(ScanError, match="no AWS region set"):
        scan(CUSTOMER, session=boto3.Session())


@pytest.fixture
def unused_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]
