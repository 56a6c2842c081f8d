"""Sandbox deploy: the program's resources land in the emulator, and a second up changes nothing."""

from __future__ import annotations

import json
from pathlib import Path

import boto3
import pytest

from infra.sandbox.deploy import deploy
from infra.spec import load_stack_file

ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.moto_server


@pytest.fixture(scope="module")
def deployed(emulator):
    # Other modules deploy acme into the shared emulator too; start from an empty account.
    emulator.reset()
    spec = load_stack_file(ROOT / "Pulumi.acme.yaml")
    first = deploy(spec, emulator.endpoint)
    second = deploy(spec, emulator.endpoint)
    return spec, first, second


def client(emulator, name):
    return boto3.client(name, endpoint_url=emulator.endpoint, region_name="eu-west-1",
                        aws_access_key_id="testing", aws_secret_access_key="testing")


def test_first_up_creates(deployed):
    _, first, _ = deployed
    assert first.counts()["created"] == 58
    assert set(first.counts()) == {"created"}


def test_second_up_unchanged(deployed):
    _, _, second = deployed
    changed = {name: action for name, action in second.actions.items() if action != "unchanged"}
    assert changed == {}
    assert len(second.actions) == 58


def test_buckets_configured(deployed, emulator):
    s3 = client(emulator, "s3")
    account = client(emulator, "sts").get_caller_identity()["Account"]
    bucket = f"acme-records-{account}"
    assert s3.get_bucket_versioning(Bucket=bucket)["Status"] == "Enabled"
    rules = s3.get_bucket_lifecycle_configuration(Bucket=bucket)["Rules"]
    expiring = next(r for r in rules if "Days" in r.get("Expiration", {}))
    # 90 days of retention: 83 in the bucket plus 7 in the backup vault.
    assert expiring["Expiration"]["Days"] + expiring["NoncurrentVersionExpiration"]["NoncurrentDays"] == 83
    sse = s3.get_bucket_encryption(Bucket=bucket)["ServerSideEncryptionConfiguration"]["Rules"][0]
    assert sse["ApplyServerSideEncryptionByDefault"]["SSEAlgorithm"] == "aws:kms"
    block = s3.get_public_access_block(Bucket=bucket)["PublicAccessBlockConfiguration"]
    assert all(block.values())
    policy = json.loads(s3.get_bucket_policy(Bucket=bucket)["Policy"])
    assert policy["Statement"][0]["Sid"] == "DenyPlainHttp"


def test_backup_selection_exists(deployed, emulator):
    backup = client(emulator, "backup")
    (plan,) = [p for p in backup.list_backup_plans()["BackupPlansList"] if p["BackupPlanName"] == "pilot-acme"]
    (selection,) = backup.list_backup_selections(BackupPlanId=plan["BackupPlanId"])["BackupSelectionsList"]
    body = backup.get_backup_selection(BackupPlanId=plan["BackupPlanId"],
                                       SelectionId=selection["SelectionId"])["BackupSelection"]
    assert [t["ConditionKey"] for t in body["ListOfTags"]] == ["pilot:backup"]
    assert body["Conditions"]["StringEquals"] == [
        {"ConditionKey": "aws:ResourceTag/pilot:customer", "ConditionValue": "acme"}]


def test_trail_logging(deployed, emulator):
    cloudtrail = client(emulator, "cloudtrail")
    assert cloudtrail.get_trail_status(Name="pilot-acme")["IsLogging"] is True
    (selector,) = cloudtrail.get_event_selectors(TrailName="pilot-acme")["EventSelectors"]
    assert len(selector["DataResources"][0]["Values"]) == 2


def test_drift_is_repaired(deployed, emulator):
    spec, _, _ = deployed
    logs = client(emulator, "logs")
    logs.delete_retention_policy(logGroupName="/pilot/acme/app-logs")
    result = deploy(spec, emulator.endpoint)
    assert result.actions["pilot-acme-storage-app-logs"] == "updated"
    group = logs.describe_log_groups(logGroupNamePrefix="/pilot/acme/app-logs")["logGroups"][0]
    assert group["retentionInDays"] == 30


def test_dead_endpoint(tmp_path):
    from infra.errors import SandboxError
    spec = load_stack_file(ROOT / "Pulumi.acme.yaml")
    with pytest.raises(SandboxError, match="did not respond"):
        deploy(spec, "http://127.0.0.1:9")


def test_second_tenant_deploys(deployed, emulator, tmp_path):
    path = tmp_path / "Pulumi.beta.yaml"
    path.write_text((ROOT / "Pulumi.acme.yaml").read_text().replace("pilot:customer: acme", "pilot:customer: beta"))
    result = deploy(load_stack_file(path), emulator.endpoint)
    assert set(result.counts()) == {"created"}
    cloudtrail = client(emulator, "cloudtrail")
    assert cloudtrail.get_trail_status(Name="pilot-beta")["IsLogging"] is True
    assert cloudtrail.get_trail_status(Name="pilot-acme")["IsLogging"] is True
