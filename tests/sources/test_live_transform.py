"""The live scanner's pure parts: transforms from raw reads to records, and error summaries. No AWS calls."""

from __future__ import annotations

import datetime
import json

import boto3
import pytest
from botocore.exceptions import ClientError

from datamap.inventory import thaw
from datamap.sources.live import backup, cloudtrail, iam, kms, logs, s3
from datamap.sources.live.calls import Reader, _client_error_reason, is_read_operation
from datamap.sources.live.common import Failure, build_fields, jsonable
from infra import tags

DENIED = Failure("s3:GetBucketPolicy", "AccessDenied: Access Denied")
POLICY = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "s3:GetObject", "Resource": "*"}]}


def _bucket_reads(**overrides) -> s3.BucketReads:
    settings = {attribute: None for attribute in s3.SETTINGS}
    settings["Versioning"] = {}
    settings["Logging"] = {}
    settings.update(overrides)
    return s3.BucketReads(name="acme-records", tags={tags.CUSTOMER: "acme"},
                          location={"LocationConstraint": "EU"}, settings=settings)


# --- common ---------------------------------------------------------------------------------------


def test_build_fields_cases():
    attributes, errors = build_fields({
        "Known": ({"Value": 3}, lambda body: body["Value"]),
        "NotConfigured": (None, lambda body: body["Value"]),
        "Denied": (DENIED, lambda body: body["Value"]),
        "Malformed": ({"Other": 1}, lambda body: body["Value"]),
    })
    assert attributes == {"Known": 3, "NotConfigured": None}
    assert errors["Denied"] == "s3:GetBucketPolicy: AccessDenied: Access Denied"
    assert errors["Malformed"].startswith("invalid response body (KeyError")
    assert "Malformed" not in attributes


def test_jsonable_datetimes():
    value = {"Rules": [{"Expiration": {"Date": datetime.datetime(2030, 1, 1, tzinfo=datetime.UTC)}}]}
    assert jsonable(value) == {"Rules": [{"Expiration": {"Date": "2030-01-01T00:00:00+00:00"}}]}


# --- S3 -------------------------------------------------------------------------------------------


def test_bucket_settings_parsed():
    resource = s3.to_resource(_bucket_reads(
        Policy={"Policy": json.dumps(POLICY)},
        LifecycleConfiguration={"Rules": [{"ID": "r"}], "TransitionDefaultMinimumObjectSize": "all_storage_classes_128K"},
        Logging={"LoggingEnabled": {"TargetBucket": "acme-audit", "TargetPrefix": "r/"}}))
    assert resource.arn == "arn:aws:s3:::acme-records"
    assert resource.region == "eu-west-1"
    assert resource.get("Region") == "eu-west-1"
    assert resource.get("Policy")["Statement"][0]["Action"] == "s3:GetObject"
    assert dict(resource.get("LifecycleConfiguration")).keys() == {"Rules"}
    assert resource.get("Logging")["TargetBucket"] == "acme-audit"
    assert resource.errors == {}


def test_bucket_defaults_none():
    resource = s3.to_resource(_bucket_reads())
    assert dict(resource.get("Versioning")) == {}
    assert resource.get("Logging") is None
    assert resource.get("Encryption") is None
    assert resource.known("Encryption")


def test_bucket_denied_policy_unknown():
    resource = s3.to_resource(_bucket_reads(Policy=DENIED))
    assert "Policy" not in resource.attributes
    assert resource.errors == {"Policy": str(DENIED)}


def test_bucket_invalid_policy_json_unknown():
    resource = s3.to_resource(_bucket_reads(Policy={"Policy": "{not json"}))
    assert not resource.known("Policy")
    assert resource.errors["Policy"].startswith("invalid response body (JSONDecodeError")


def test_bucket_location_failure_region_unknown():
    reads = _bucket_reads()
    reads = s3.BucketReads(name=reads.name, tags=reads.tags, location=DENIED, settings=reads.settings)
    resource = s3.to_resource(reads)
    assert resource.region == ""
    assert "Region" in resource.errors


@pytest.mark.parametrize("constraint, region", [(None, "us-east-1"), ("", "us-east-1"), ("EU", "eu-west-1"),
                                                ("ap-south-1", "ap-south-1")])
def test_region_from_location(constraint, region):
    assert s3.region_from_location({"LocationConstraint": constraint}) == region


# --- IAM ------------------------------------------------------------------------------------------


def _user_reads(**overrides) -> iam.PrincipalReads:
    values = dict(
        kind="iam_user",
        detail={"UserName": "acme-ana", "Path": "/pilot/acme/", "Arn": "arn:aws:iam::111122223333:user/pilot/acme/acme-ana",
                "Tags": [{"Key": tags.CUSTOMER, "Value": "acme"}],
                "PermissionsBoundary": {"PermissionsBoundaryType": "Policy",
                                        "PermissionsBoundaryArn": "arn:aws:iam::111122223333:policy/boundary"}},
        inline={"Policies": {"own": {"PolicyName": "own", "PolicyDocument": POLICY}}},
        attached={"AttachedPolicies": [{"PolicyName": "p", "PolicyArn": "arn:aws:iam::aws:policy/p"}]},
        groups={"Groups": [{"GroupName": "readers"}]},
        login_profile=None,
        access_keys={"AccessKeyMetadata": [{"AccessKeyId": "AKIA1"}, {"AccessKeyId": "AKIA2"}]},
    )
    values.update(overrides)
    return iam.PrincipalReads(**values)


def _groups(inline=None, attached=None) -> dict[str, iam.GroupReads]:
    return {"readers": iam.GroupReads(
        inline=inline if inline is not None else {"Policies": {"g": {"PolicyDocument": POLICY}}},
        attached=attached if attached is not None else {"AttachedPolicies": [{"PolicyArn": "arn:aws:iam::aws:policy/g"}]})}


def test_user_record():
    resource = iam.principal_to_resource(_user_reads(), _groups())
    assert resource.kind == "iam_user"
    assert resource.name == "acme-ana"
    assert resource.tags == {tags.CUSTOMER: "acme"}
    assert resource.get("LoginProfile") is False
    assert resource.get("AccessKeys") == 2
    assert list(resource.get("Groups")) == ["readers"]
    assert resource.get("PermissionsBoundary") == "arn:aws:iam::111122223333:policy/boundary"
    assert list(resource.get("AttachedPolicies")) == ["arn:aws:iam::aws:policy/p"]
    assert list(resource.get("GroupPolicies")["readers"]["AttachedPolicies"]) == ["arn:aws:iam::aws:policy/g"]
    assert resource.errors == {}


def test_user_login_profile_present():
    resource = iam.principal_to_resource(_user_reads(login_profile={"LoginProfile": {"UserName": "acme-ana"}}),
                                         _groups())
    assert resource.get("LoginProfile") is True


def test_user_group_failure_unknown():
    failure = Failure("iam:ListAttachedGroupPolicies", "AccessDenied: denied")
    resource = iam.principal_to_resource(_user_reads(), _groups(attached=failure))
    assert list(resource.get("Groups")) == ["readers"]
    assert "GroupPolicies" not in resource.attributes
    assert resource.errors["GroupPolicies"] == str(failure)


def test_user_groups_denied_unknown():
    failure = Failure("iam:ListGroupsForUser", "AccessDenied: denied")
    resource = iam.principal_to_resource(_user_reads(groups=failure, login_profile=failure), {})
    assert set(resource.errors) == {"Groups", "GroupPolicies", "LoginProfile"}


def test_role_record():
    reads = iam.PrincipalReads(
        kind="iam_role",
        detail={"RoleName": "acme-recorder", "Path": "/", "Arn": "arn:aws:iam::111122223333:role/acme-recorder",
                "AssumeRolePolicyDocument": json.dumps(POLICY)},
        inline=Failure("iam:ListRolePolicies", "Throttling: Rate exceeded (after 4 retries)"),
        attached={"AttachedPolicies": []})
    resource = iam.principal_to_resource(reads, {})
    assert thaw(resource.get("AssumeRolePolicyDocument")) == POLICY
    assert resource.get("PermissionsBoundary") is None
    assert list(resource.get("AttachedPolicies")) == []
    assert resource.errors == {"InlinePolicies": "iam:ListRolePolicies: Throttling: Rate exceeded (after 4 retries)"}
    assert "Groups" not in resource.attributes


def test_policy_failure_keeps_record():
    arn = "arn:aws:iam::aws:policy/service-role/AWSBackupServiceRolePolicyForBackup"
    failure = Failure("iam:GetPolicy", "AccessDenied: denied")
    resource = iam.policy_to_resource(iam.PolicyReads(arn, failure, failure))
    assert resource.name == "AWSBackupServiceRolePolicyForBackup"
    assert resource.get("PolicyName") == "AWSBackupServiceRolePolicyForBackup"
    assert not resource.known("Document")
    assert resource.errors["Document"] == str(failure)


def test_policy_document():
    arn = "arn:aws:iam::111122223333:policy/spare"
    resource = iam.policy_to_resource(iam.PolicyReads(
        arn, {"Policy": {"PolicyName": "spare", "DefaultVersionId": "v2", "Tags": [{"Key": "k", "Value": "v"}]}},
        {"PolicyVersion": {"Document": POLICY, "VersionId": "v2"}}))
    assert thaw(resource.get("Document")) == POLICY
    assert resource.tags == {"k": "v"}


# --- KMS, Backup, CloudTrail, Logs ----------------------------------------------------------------


def test_key_rotation_unsupported_none():
    reads = kms.KeyReads(key_id="k1", arn="arn:aws:kms:eu-west-1:111122223333:key/k1", tags={},
                         metadata={"KeyMetadata": {"KeyId": "k1", "KeyState": "PendingDeletion"}},
                         policy={"Policy": json.dumps(POLICY)}, rotation=None, aliases={"Aliases": []})
    resource = kms.to_resource(reads, "eu-west-1")
    assert resource.name == "k1"
    assert resource.get("KeyRotationEnabled") is None
    assert resource.get("KeyState") == "PendingDeletion"
    assert resource.get("Description") == ""
    assert thaw(resource.get("Policy")) == POLICY


def test_key_denied_policy_unknown():
    failure = Failure("kms:GetKeyPolicy", "AccessDeniedException: denied")
    reads = kms.KeyReads(key_id="k1", arn="arn:aws:kms:eu-west-1:111122223333:key/k1", tags={},
                         metadata={"KeyMetadata": {"KeyState": "Enabled"}}, policy=failure,
                         rotation={"KeyRotationEnabled": True}, aliases={"Aliases": ["alias/pilot/acme"]})
    resource = kms.to_resource(reads, "eu-west-1")
    assert resource.name == "alias/pilot/acme"
    assert resource.errors == {"Policy": str(failure)}
    assert resource.get("KeyRotationEnabled") is True


def test_vault_unlocked_none():
    listed = {"BackupVaultName": "v", "BackupVaultArn": "arn:aws:backup:eu-west-1:111122223333:backup-vault:v"}
    resource = backup.vault_to_resource(backup.VaultReads(listed, {}), "eu-west-1")
    assert resource.get("Locked") is None
    assert resource.get("MinRetentionDays") is None
    assert resource.get("EncryptionKeyArn") is None


def test_plan_selection_failure_unknown():
    failure = Failure("backup:ListBackupSelections", "HTTP 500")
    listed = {"BackupPlanId": "p1", "BackupPlanName": "pilot-acme",
              "BackupPlanArn": "arn:aws:backup:eu-west-1:111122223333:backup-plan:p1"}
    plan = {"BackupPlan": {"BackupPlanName": "pilot-acme", "Rules": [{"RuleName": "daily"}]}}
    resource = backup.plan_to_resource(backup.PlanReads(listed, {}, plan, failure), "eu-west-1")
    assert resource.get("Rules")[0]["RuleName"] == "daily"
    assert resource.errors == {"Selections": "backup:ListBackupSelections: HTTP 500"}


def test_plan_selections_bodies():
    listed = {"BackupPlanId": "p1", "BackupPlanName": "pilot-acme",
              "BackupPlanArn": "arn:aws:backup:eu-west-1:111122223333:backup-plan:p1"}
    selections = {"Selections": [{"BackupSelection": {"SelectionName": "s", "IamRoleArn": "arn:r"},
                                  "SelectionId": "id1"}]}
    resource = backup.plan_to_resource(
        backup.PlanReads(listed, {}, {"BackupPlan": {"Rules": []}}, selections), "eu-west-1")
    assert [dict(selection) for selection in resource.get("Selections")] == [{"SelectionName": "s", "IamRoleArn": "arn:r"}]


def test_trail_status_denied_unknown():
    failure = Failure("cloudtrail:GetTrailStatus", "AccessDeniedException: denied")
    listed = {"TrailARN": "arn:aws:cloudtrail:eu-west-1:111122223333:trail/pilot-acme", "Name": "pilot-acme",
              "HomeRegion": "eu-west-1"}
    reads = cloudtrail.TrailReads(
        listed=listed, tags={}, trail={"Trail": {"S3BucketName": "acme-audit", "LogFileValidationEnabled": True}},
        status=failure, selectors={"AdvancedEventSelectors": [{"Name": "data", "FieldSelectors": []}]})
    resource = cloudtrail.to_resource(reads)
    assert resource.region == "eu-west-1"
    assert not resource.known("IsLogging")
    assert resource.errors == {"IsLogging": str(failure)}
    assert resource.get("EventSelectors") is None
    assert resource.get("AdvancedEventSelectors")[0]["Name"] == "data"
    assert resource.get("KmsKeyId") is None


def test_log_group_never_expires():
    listed = {"logGroupName": "/pilot/acme/app", "arn": "arn:aws:logs:eu-west-1:111122223333:log-group:/pilot/acme/app:*"}
    resource = logs.to_resource(logs.LogGroupReads(listed, {}), "eu-west-1")
    assert resource.arn == "arn:aws:logs:eu-west-1:111122223333:log-group:/pilot/acme/app"
    assert "retentionInDays" not in resource.attributes
    assert resource.get("kmsKeyId") is None


# --- calls ----------------------------------------------------------------------------------------


def _client_error(code: str, message: str, status: int, retries: int = 0) -> ClientError:
    return ClientError({"Error": {"Code": code, "Message": message},
                        "ResponseMetadata": {"HTTPStatusCode": status, "RetryAttempts": retries}}, "Operation")


@pytest.mark.parametrize("error, reason", [
    (_client_error("AccessDenied", "Access Denied", 403), "AccessDenied: Access Denied"),
    (_client_error("500", "<!doctype html>\n<title>500</title>", 500, retries=4), "HTTP 500 (after 4 retries)"),
    (_client_error("ThrottlingException", "Rate exceeded", 400, retries=4),
     "ThrottlingException: Rate exceeded (after 4 retries)"),
    (_client_error("", "", 503), "HTTP 503"),
])
def test_client_error_reason(error, reason):
    assert _client_error_reason(error) == reason


@pytest.mark.parametrize("name, expected", [("GetBucketPolicy", True), ("ListRoles", True),
                                            ("DescribeLogGroups", True), ("PutBucketPolicy", False),
                                            ("DeleteRole", False), ("StartLogging", False)])
def test_is_read_operation(name, expected):
    assert is_read_operation(name) is expected


def test_reader_rejects_write(monkeypatch):
    for name in ("AWS_PROFILE", "AWS_CONFIG_FILE", "AWS_SHARED_CREDENTIALS_FILE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    session = boto3.Session(aws_access_key_id="testing", aws_secret_access_key="testing", region_name="us-east-1")
    # Port 9 (discard) on loopback: the reader must raise before any request is sent.
    reader = Reader(session, "us-east-1", endpoint_url="http://127.0.0.1:9", max_attempts=1)
    with pytest.raises(ValueError, match="s3:PutBucketPolicy is not a read operation"):
        reader.read("s3", "put_bucket_policy", "bucket x", Bucket="x", Policy="{}")
    assert reader.calls["s3"] == 0
