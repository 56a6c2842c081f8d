"""The moto extension, called with boto3 through a real emulator process."""

from __future__ import annotations

import datetime
import json
import uuid

import boto3
import pytest
from botocore.exceptions import ClientError

from infra.sandbox.moto_backup import PLAN_HAS_SELECTIONS_MESSAGE

pytestmark = pytest.mark.moto_server

ROLE_ARN = "arn:aws:iam::123456789012:role/backup"


def _unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


@pytest.fixture
def backup(aws_env):
    return boto3.client("backup")


@pytest.fixture
def plan_id(backup):
    vault = _unique("vault")
    backup.create_backup_vault(BackupVaultName=vault)
    rule = {"RuleName": "daily", "TargetBackupVaultName": vault, "Lifecycle": {"DeleteAfterDays": 35}}
    plan = backup.create_backup_plan(BackupPlan={"BackupPlanName": _unique("plan"), "Rules": [rule]})
    return plan["BackupPlanId"]


def _selection(name: str = "records", **extra) -> dict:
    return {"SelectionName": name, "IamRoleArn": ROLE_ARN, **extra}


def _error_code(info: pytest.ExceptionInfo) -> str:
    return info.value.response["Error"]["Code"]


def test_selection_round_trip(backup, plan_id):
    document = _selection(
        Resources=["arn:aws:s3:::acme-records"],
        NotResources=["arn:aws:s3:::acme-scratch"],
        ListOfTags=[{"ConditionType": "STRINGEQUALS", "ConditionKey": "backup", "ConditionValue": "daily"}],
        Conditions={"StringEquals": [{"ConditionKey": "aws:ResourceTag/tenant", "ConditionValue": "acme"}]},
    )

    created = backup.create_backup_selection(BackupPlanId=plan_id, BackupSelection=document, CreatorRequestId="req-1")
    fetched = backup.get_backup_selection(BackupPlanId=plan_id, SelectionId=created["SelectionId"])
    listed = backup.list_backup_selections(BackupPlanId=plan_id)["BackupSelectionsList"]

    assert str(uuid.UUID(created["SelectionId"])) == created["SelectionId"]
    assert created["BackupPlanId"] == plan_id
    assert isinstance(created["CreationDate"], datetime.datetime)
    assert fetched["BackupSelection"] == document
    assert fetched["SelectionId"] == created["SelectionId"]
    assert fetched["BackupPlanId"] == plan_id
    assert fetched["CreationDate"] == created["CreationDate"]
    assert fetched["CreatorRequestId"] == "req-1"
    assert listed == [
        {
            "SelectionId": created["SelectionId"],
            "SelectionName": "records",
            "BackupPlanId": plan_id,
            "CreationDate": created["CreationDate"],
            "CreatorRequestId": "req-1",
            "IamRoleArn": ROLE_ARN,
        }
    ]

    backup.delete_backup_selection(BackupPlanId=plan_id, SelectionId=created["SelectionId"])

    assert backup.list_backup_selections(BackupPlanId=plan_id)["BackupSelectionsList"] == []
    with pytest.raises(ClientError) as info:
        backup.get_backup_selection(BackupPlanId=plan_id, SelectionId=created["SelectionId"])
    assert _error_code(info) == "ResourceNotFoundException"


def test_selection_sdk_request_ids(backup, plan_id):
    # botocore fills CreatorRequestId with a fresh UUID (an idempotency token) when it is omitted.
    first = backup.create_backup_selection(BackupPlanId=plan_id, BackupSelection=_selection())
    second = backup.create_backup_selection(BackupPlanId=plan_id, BackupSelection=_selection())

    fetched = backup.get_backup_selection(BackupPlanId=plan_id, SelectionId=first["SelectionId"])

    assert second["SelectionId"] != first["SelectionId"]
    assert str(uuid.UUID(fetched["CreatorRequestId"])) == fetched["CreatorRequestId"]


def test_selection_unknown_plan(backup):
    with pytest.raises(ClientError) as info:
        backup.create_backup_selection(BackupPlanId="no-such-plan", BackupSelection=_selection())

    assert _error_code(info) == "InvalidParameterValueException"
    assert "Cannot find Backup plan with ID no-such-plan" in str(info.value)


def test_selection_invalid_name(backup, plan_id):
    with pytest.raises(ClientError) as info:
        backup.create_backup_selection(BackupPlanId=plan_id, BackupSelection=_selection(name="has space"))

    assert _error_code(info) == "InvalidParameterValueException"


def test_selection_request_id_retry(backup, plan_id):
    first = backup.create_backup_selection(BackupPlanId=plan_id, BackupSelection=_selection(), CreatorRequestId="retry")
    again = backup.create_backup_selection(BackupPlanId=plan_id, BackupSelection=_selection(), CreatorRequestId="retry")

    assert again["SelectionId"] == first["SelectionId"]
    with pytest.raises(ClientError) as info:
        backup.create_backup_selection(BackupPlanId=plan_id, BackupSelection=_selection("other"), CreatorRequestId="retry")
    assert _error_code(info) == "AlreadyExistsException"


def test_selection_list_pages(backup, plan_id):
    created = [
        backup.create_backup_selection(BackupPlanId=plan_id, BackupSelection=_selection(f"s{index}"))["SelectionId"]
        for index in range(3)
    ]

    first = backup.list_backup_selections(BackupPlanId=plan_id, MaxResults=2)
    second = backup.list_backup_selections(BackupPlanId=plan_id, MaxResults=2, NextToken=first["NextToken"])
    paginated = [
        item["SelectionId"]
        for page in backup.get_paginator("list_backup_selections").paginate(BackupPlanId=plan_id, PaginationConfig={"PageSize": 1})
        for item in page["BackupSelectionsList"]
    ]

    assert [item["SelectionId"] for item in first["BackupSelectionsList"]] == created[:2]
    assert [item["SelectionId"] for item in second["BackupSelectionsList"]] == created[2:]
    assert "NextToken" not in second
    assert paginated == created


def test_plan_delete_with_selection(backup, plan_id):
    selection = backup.create_backup_selection(BackupPlanId=plan_id, BackupSelection=_selection())

    with pytest.raises(ClientError) as info:
        backup.delete_backup_plan(BackupPlanId=plan_id)
    assert _error_code(info) == "InvalidRequestException"
    assert PLAN_HAS_SELECTIONS_MESSAGE in str(info.value)

    backup.delete_backup_selection(BackupPlanId=plan_id, SelectionId=selection["SelectionId"])
    deleted = backup.delete_backup_plan(BackupPlanId=plan_id)
    assert deleted["BackupPlanId"] == plan_id
    with pytest.raises(ClientError) as info:
        backup.list_backup_selections(BackupPlanId=plan_id)
    assert _error_code(info) == "InvalidParameterValueException"


def test_selections_per_region(aws_env, plan_id):
    with pytest.raises(ClientError) as info:
        boto3.client("backup", region_name="eu-west-1").list_backup_selections(BackupPlanId=plan_id)

    assert _error_code(info) == "InvalidParameterValueException"


def test_update_backup_plan(backup, plan_id):
    before = backup.get_backup_plan(BackupPlanId=plan_id)
    rule = {"RuleName": "daily", "TargetBackupVaultName": before["BackupPlan"]["Rules"][0]["TargetBackupVaultName"], "Lifecycle": {"DeleteAfterDays": 90}}

    updated = backup.update_backup_plan(BackupPlanId=plan_id, BackupPlan={"BackupPlanName": before["BackupPlan"]["BackupPlanName"], "Rules": [rule]})
    after = backup.get_backup_plan(BackupPlanId=plan_id)

    assert updated["BackupPlanId"] == plan_id
    assert updated["VersionId"] != before["VersionId"]
    assert after["VersionId"] == updated["VersionId"]
    assert after["BackupPlan"]["Rules"][0]["Lifecycle"] == {"DeleteAfterDays": 90}


def test_vault_access_policy(backup):
    vault = _unique("vault")
    backup.create_backup_vault(BackupVaultName=vault)
    policy = json.dumps({"Version": "2012-10-17", "Statement": [{"Effect": "Deny", "Principal": "*", "Action": "backup:DeleteRecoveryPoint", "Resource": "*"}]})

    backup.put_backup_vault_access_policy(BackupVaultName=vault, Policy=policy)
    fetched = backup.get_backup_vault_access_policy(BackupVaultName=vault)
    backup.delete_backup_vault_access_policy(BackupVaultName=vault)

    assert fetched["Policy"] == policy
    assert fetched["BackupVaultName"] == vault
    with pytest.raises(ClientError) as info:
        backup.get_backup_vault_access_policy(BackupVaultName=vault)
    assert _error_code(info) == "ResourceNotFoundException"


def test_recovery_points_empty(backup):
    vault = _unique("vault")
    backup.create_backup_vault(BackupVaultName=vault)

    assert backup.list_recovery_points_by_backup_vault(BackupVaultName=vault)["RecoveryPoints"] == []
    with pytest.raises(ClientError) as info:
        backup.list_recovery_points_by_backup_vault(BackupVaultName=_unique("missing"))
    assert _error_code(info) == "ResourceNotFoundException"


def test_lifecycle_keeps_noncurrent_fields(aws_env):
    s3 = boto3.client("s3")
    bucket = _unique("records")
    s3.create_bucket(Bucket=bucket)
    rules = [
        {
            "ID": "noncurrent",
            "Status": "Enabled",
            "Filter": {"ObjectSizeGreaterThan": 128},
            "NoncurrentVersionExpiration": {"NoncurrentDays": 90, "NewerNoncurrentVersions": 3},
        },
        {
            "ID": "tagged",
            "Status": "Enabled",
            "Filter": {"And": {"Prefix": "a/", "Tags": [{"Key": "k", "Value": "v"}], "ObjectSizeLessThan": 4096}},
            "Expiration": {"Days": 30},
        },
    ]

    s3.put_bucket_lifecycle_configuration(Bucket=bucket, LifecycleConfiguration={"Rules": rules})
    fetched = s3.get_bucket_lifecycle_configuration(Bucket=bucket)["Rules"]

    assert fetched[0]["NoncurrentVersionExpiration"] == {"NoncurrentDays": 90, "NewerNoncurrentVersions": 3}
    assert fetched[0]["Filter"] == {"ObjectSizeGreaterThan": 128}
    assert fetched[1]["Filter"] == {"And": {"Prefix": "a/", "Tags": [{"Key": "k", "Value": "v"}], "ObjectSizeLessThan": 4096}}


def test_lifecycle_missing(aws_env):
    s3 = boto3.client("s3")
    bucket = _unique("plain")
    s3.create_bucket(Bucket=bucket)

    with pytest.raises(ClientError) as info:
        s3.get_bucket_lifecycle_configuration(Bucket=bucket)

    assert _error_code(info) == "NoSuchLifecycleConfiguration"


def test_object_lock_days_only(aws_env):
    s3 = boto3.client("s3")
    bucket = _unique("locked")
    s3.create_bucket(Bucket=bucket, ObjectLockEnabledForBucket=True)
    retention = {"Mode": "GOVERNANCE", "Days": 30}

    s3.put_object_lock_configuration(Bucket=bucket, ObjectLockConfiguration={"ObjectLockEnabled": "Enabled", "Rule": {"DefaultRetention": retention}})

    assert s3.get_object_lock_configuration(Bucket=bucket)["ObjectLockConfiguration"]["Rule"]["DefaultRetention"] == retention


def test_logging_policy_with_lists(aws_env):
    s3 = boto3.client("s3")
    source, target = _unique("records"), _unique("logs")
    s3.create_bucket(Bucket=source)
    s3.create_bucket(Bucket=target)
    statement = {
        "Effect": "Allow",
        "Principal": {"Service": ["logging.s3.amazonaws.com"]},
        "Action": ["s3:PutObject"],
        "Resource": [f"arn:aws:s3:::{target}/access/*"],
    }
    s3.put_bucket_policy(Bucket=target, Policy=json.dumps({"Version": "2012-10-17", "Statement": [statement]}))

    s3.put_bucket_logging(Bucket=source, BucketLoggingStatus={"LoggingEnabled": {"TargetBucket": target, "TargetPrefix": "access/"}})

    assert s3.get_bucket_logging(Bucket=source)["LoggingEnabled"] == {"TargetBucket": target, "TargetPrefix": "access/"}
    with pytest.raises(ClientError) as info:
        s3.put_bucket_logging(Bucket=source, BucketLoggingStatus={"LoggingEnabled": {"TargetBucket": target, "TargetPrefix": "other/"}})
    assert _error_code(info) == "InvalidTargetBucketForLogging"


def test_login_profile_reset_required(aws_env):
    iam = boto3.client("iam")
    user = _unique("alice")
    iam.create_user(UserName=user)

    created = iam.create_login_profile(UserName=user, Password="Correct-Horse-9", PasswordResetRequired=True)

    assert created["LoginProfile"]["PasswordResetRequired"] is True
    assert iam.get_login_profile(UserName=user)["LoginProfile"]["PasswordResetRequired"] is True


def test_key_policy_default_name(aws_env):
    kms = boto3.client("kms")
    key_id = kms.create_key()["KeyMetadata"]["KeyId"]
    policy = json.dumps({"Version": "2012-10-17", "Statement": [{"Sid": "root", "Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::123456789012:root"}, "Action": "kms:*", "Resource": "*"}]})

    kms.put_key_policy(KeyId=key_id, Policy=policy)

    assert json.loads(kms.get_key_policy(KeyId=key_id)["Policy"]) == json.loads(policy)
    with pytest.raises(ClientError) as info:
        kms.get_key_policy(KeyId=key_id, PolicyName="other")
    assert _error_code(info) == "NotFoundException"


@pytest.mark.parametrize(("days", "accepted"), [(90, True), (3653, True), (91, False), (0, False)])
def test_log_retention_values(aws_env, days, accepted):
    logs = boto3.client("logs")
    group = "/pilot/" + _unique("app")
    logs.create_log_group(logGroupName=group)

    if accepted:
        logs.put_retention_policy(logGroupName=group, retentionInDays=days)
        assert logs.describe_log_groups(logGroupNamePrefix=group)["logGroups"][0]["retentionInDays"] == days
    else:
        with pytest.raises(ClientError) as info:
            logs.put_retention_policy(logGroupName=group, retentionInDays=days)
        assert _error_code(info) == "InvalidParameterException"


def test_replication_rules_round_trip(aws_env):
    s3 = boto3.client("s3")
    source, replica = _unique("records"), _unique("replica")
    for bucket in (source, replica):
        s3.create_bucket(Bucket=bucket)
        s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
    key_arn = "arn:aws:kms:us-east-1:123456789012:key/replica"
    rules = [
        {
            "ID": "kms",
            "Priority": 1,
            "Status": "Enabled",
            "Filter": {"And": {"Prefix": "records/", "Tags": [{"Key": "class", "Value": "pii"}]}},
            "DeleteMarkerReplication": {"Status": "Enabled"},
            "SourceSelectionCriteria": {"SseKmsEncryptedObjects": {"Status": "Enabled"}},
            "Destination": {"Bucket": f"arn:aws:s3:::{replica}", "StorageClass": "STANDARD_IA", "EncryptionConfiguration": {"ReplicaKmsKeyID": key_arn}},
        },
        {
            "ID": "tagged",
            "Priority": 2,
            "Status": "Disabled",
            "Filter": {"Tag": {"Key": "copy", "Value": "yes"}},
            "DeleteMarkerReplication": {"Status": "Disabled"},
            "Destination": {"Bucket": f"arn:aws:s3:::{replica}"},
        },
    ]
    configuration = {"Role": "arn:aws:iam::123456789012:role/replication", "Rules": rules}

    s3.put_bucket_replication(Bucket=source, ReplicationConfiguration=configuration)

    assert s3.get_bucket_replication(Bucket=source)["ReplicationConfiguration"] == configuration
