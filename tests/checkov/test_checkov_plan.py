"""Unit tests of the Registered -> Terraform plan conversion; checkov does not run here."""

from __future__ import annotations

import ast
import copy
import json
import re
from pathlib import Path

import pytest

from infra import tags
from infra.sandbox.program import Registered
from infra.spec import CLASSIFICATIONS
from policies.checkov import runner
from policies.checkov.plan import PULUMI_UNKNOWN, TerraformPlan, to_plan
from policies.checkov.terraform_names import TERRAFORM_TYPES, snake_case, terraform_name

SPLIT_S3_TYPES = (
    "aws_s3_bucket_versioning",
    "aws_s3_bucket_server_side_encryption_configuration",
    "aws_s3_bucket_public_access_block",
    "aws_s3_bucket_lifecycle_configuration",
    "aws_s3_bucket_ownership_controls",
    "aws_s3_bucket_policy",
)
CUSTOM_CHECK_FILE = Path(runner.CUSTOM_CHECKS_DIR) / "pilot_retention_tags.py"


@pytest.fixture(scope="module")
def acme_plan(acme_resources: list[Registered]) -> TerraformPlan:
    return to_plan(acme_resources)


def planned(plan: TerraformPlan, address: str) -> dict:
    return next(r for r in plan.document["planned_values"]["root_module"]["resources"] if r["address"] == address)


def configured(plan: TerraformPlan, address: str) -> dict:
    return next(r for r in plan.document["configuration"]["root_module"]["resources"] if r["address"] == address)


def test_plan_has_keys_checkov_requires(acme_plan: TerraformPlan):
    document = acme_plan.document
    assert document["terraform_version"]
    assert document["planned_values"]["root_module"]["resources"]
    assert document["configuration"]["root_module"]["resources"]
    assert json.loads(json.dumps(document)) == document


def test_plan_covers_every_mapped_type(acme_plan: TerraformPlan):
    types = {r.terraform_type for r in acme_plan.resources.values()}
    assert types == set(TERRAFORM_TYPES.values())
    assert acme_plan.unconverted == ()


def test_plan_types_of_acme_resources(acme_plan: TerraformPlan):
    expected = {
        "pilot-acme-storage-records": "aws_s3_bucket",
        "pilot-acme-storage-records-versioning": "aws_s3_bucket_versioning",
        "pilot-acme-storage-records-encryption": "aws_s3_bucket_server_side_encryption_configuration",
        "pilot-acme-storage-records-public-access": "aws_s3_bucket_public_access_block",
        "pilot-acme-storage-records-lifecycle": "aws_s3_bucket_lifecycle_configuration",
        "pilot-acme-audit-trail": "aws_cloudtrail",
        "pilot-acme-storage-app-logs": "aws_cloudwatch_log_group",
        "pilot-acme-backup-selection": "aws_backup_selection",
    }
    for pulumi_name, terraform_type in expected.items():
        assert acme_plan.address_of(pulumi_name).split(".")[0] == terraform_type, pulumi_name


def test_plan_addresses_are_identifiers(acme_plan: TerraformPlan):
    for address, origin in acme_plan.resources.items():
        terraform_type, name = address.split(".")
        assert re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", name), address
        assert terraform_type == origin.terraform_type
    resources = acme_plan.document["planned_values"]["root_module"]["resources"]
    assert [r["address"] for r in resources] == sorted(acme_plan.resources)
    for resource in resources:
        assert resource["address"] == f"{resource['type']}.{resource['name']}"
        assert resource["mode"] == "managed"


def test_plan_traces_addresses_to_pulumi(acme_plan: TerraformPlan, acme_resources: list[Registered]):
    address = "aws_iam_user.pilot_acme_access_user_ana_silva"
    origin = acme_plan.resources[address]
    source = next(r for r in acme_resources if r.name == "pilot-acme-access-user-ana.silva")
    assert origin.pulumi_name == source.name
    assert origin.urn == source.urn
    assert origin.pulumi_type == "aws:iam/user:User"
    assert acme_plan.address_of("pilot-acme-access-user-ana.silva") == address


def test_split_s3_resources_reference_their_bucket(acme_plan: TerraformPlan):
    buckets = {r.pulumi_name: a for a, r in acme_plan.resources.items() if r.terraform_type == "aws_s3_bucket"}
    split = [a for a, r in acme_plan.resources.items() if r.terraform_type in SPLIT_S3_TYPES]
    assert len(split) == 6 * len(buckets) == 18
    for address in split:
        pulumi_name = acme_plan.resources[address].pulumi_name
        # The program names each split resource "<bucket resource name>-<part>".
        bucket_address = next(a for name, a in buckets.items() if pulumi_name.startswith(name + "-"))
        references = configured(acme_plan, address)["expressions"]["bucket"]["references"]
        assert references == [f"{bucket_address}.id", bucket_address], address
        assert "bucket" not in planned(acme_plan, address)["values"], address


def test_versioning_reference_example(acme_plan: TerraformPlan):
    address = "aws_s3_bucket_versioning.pilot_acme_storage_records_versioning"
    references = configured(acme_plan, address)["expressions"]["bucket"]["references"]
    assert references[0] == "aws_s3_bucket.pilot_acme_storage_records.id"
    assert planned(acme_plan, address)["values"]["versioning_configuration"] == [{"status": "Enabled"}]
    change = next(c for c in acme_plan.document["resource_changes"] if c["address"] == address)
    assert change["change"]["after_unknown"] == {"bucket": True}


def test_arn_references(acme_plan: TerraformPlan):
    log_group = configured(acme_plan, "aws_cloudwatch_log_group.pilot_acme_storage_app_logs")
    assert log_group["expressions"]["kms_key_id"]["references"][0] == "aws_kms_key.pilot_acme_storage_key.arn"
    trail = configured(acme_plan, "aws_cloudtrail.pilot_acme_audit_trail")["expressions"]
    assert trail["cloud_watch_logs_group_arn"]["references"][0] == (
        "aws_cloudwatch_log_group.pilot_acme_audit_log_group.arn")
    assert trail["s3_bucket_name"]["references"][0] == "aws_s3_bucket.pilot_acme_audit_bucket.id"


def test_policy_documents_keep_values(acme_plan: TerraformPlan):
    address = "aws_iam_role_policy.pilot_acme_access_role_recorder_access"
    values = planned(acme_plan, address)["values"]
    assert json.loads(values["policy"])["Statement"]
    references = configured(acme_plan, address)["expressions"]["policy"]["references"]
    assert "aws_s3_bucket.pilot_acme_storage_records" in references
    assert configured(acme_plan, address)["expressions"]["role"]["references"][0] == (
        "aws_iam_role.pilot_acme_access_role_recorder.id")


def inputs_of(resources: list[Registered], name: str) -> dict:
    return next(r for r in resources if r.name == name).inputs


def test_lifecycle_uses_singular_blocks(acme_plan: TerraformPlan, acme_resources: list[Registered]):
    source = inputs_of(acme_resources, "pilot-acme-storage-records-lifecycle")["rules"]
    values = planned(acme_plan, "aws_s3_bucket_lifecycle_configuration.pilot_acme_storage_records_lifecycle")["values"]
    rule = values["rule"][0]
    assert rule["expiration"] == [{"days": source[0]["expiration"]["days"]}]
    assert rule["noncurrent_version_expiration"] == [
        {"noncurrent_days": source[0]["noncurrentVersionExpiration"]["noncurrentDays"]}]
    assert rule["abort_incomplete_multipart_upload"] == [{"days_after_initiation": 1}]
    assert rule["filter"] == [{}]
    assert values["rule"][1]["expiration"] == [{"expired_object_delete_marker": True}]


def test_encryption_uses_singular_blocks(acme_plan: TerraformPlan):
    address = "aws_s3_bucket_server_side_encryption_configuration.pilot_acme_storage_records_encryption"
    rule = planned(acme_plan, address)["values"]["rule"]
    default = rule[0]["apply_server_side_encryption_by_default"]
    assert default[0]["sse_algorithm"] == "aws:kms"
    assert default[0]["kms_master_key_id"].startswith("arn:aws:kms:eu-west-1:")
    assert rule[0]["bucket_key_enabled"] is True


def test_trail_and_backup_blocks(acme_plan: TerraformPlan, acme_resources: list[Registered]):
    trail = planned(acme_plan, "aws_cloudtrail.pilot_acme_audit_trail")["values"]
    data_resource = trail["event_selector"][0]["data_resource"][0]
    assert data_resource["type"] == "AWS::S3::Object"
    assert len(data_resource["values"]) == 2

    source_rule = inputs_of(acme_resources, "pilot-acme-backup-plan")["rules"][0]
    plan_rule = planned(acme_plan, "aws_backup_plan.pilot_acme_backup_plan")["values"]["rule"][0]
    assert plan_rule["lifecycle"] == [{"delete_after": source_rule["lifecycle"]["deleteAfter"]}]
    assert plan_rule["recovery_point_tags"][tags.CUSTOMER] == "acme"

    source_tags = inputs_of(acme_resources, "pilot-acme-backup-selection")["selectionTags"]
    selection = planned(acme_plan, "aws_backup_selection.pilot_acme_backup_selection")["values"]
    assert [t["key"] for t in selection["selection_tag"]] == [t["key"] for t in source_tags]


def test_nested_blocks_keep_terraform_names():
    selection = resource("picks", "aws:backup/selection:Selection", {
        "conditions": [{"stringEquals": [{"key": "aws:ResourceTag/pilot:customer", "value": "acme"}]}]})
    values = to_plan([selection]).document["planned_values"]["root_module"]["resources"][0]["values"]
    assert values["condition"] == [{"string_equals": [{"key": "aws:ResourceTag/pilot:customer", "value": "acme"}]}]


def test_tags_keep_their_keys(acme_plan: TerraformPlan):
    values = planned(acme_plan, "aws_s3_bucket.pilot_acme_storage_records")["values"]
    assert values["tags"][tags.RETENTION_DAYS] == "90"
    assert values["tags"][tags.CLASSIFICATION] == "confidential"
    assert values["bucket"] == "acme-records-123456789012"
    assert values["arn"] == "arn:aws:s3:::acme-records-123456789012"


def test_to_plan_leaves_input_unchanged(acme_resources: list[Registered]):
    before = copy.deepcopy(acme_resources)
    to_plan(acme_resources)
    assert acme_resources == before


def resource(name: str, type_: str, inputs: dict, **kwargs) -> Registered:
    return Registered(type=type_, name=name, inputs=inputs, urn=f"urn:pulumi:t::p::{type_}::{name}", **kwargs)


def test_unmapped_type_is_reported():
    queue = resource("jobs", "aws:sqs/queue:Queue", {"name": "jobs"})
    component = resource("tenant", "pilotctl:tenant:PilotTenant", {}, custom=False)
    provider = resource("aws", "pulumi:providers:aws", {})
    bucket = resource("data", "aws:s3/bucket:Bucket", {"bucket": "data"})
    plan = to_plan([queue, component, provider, bucket])
    assert [u.pulumi_name for u in plan.unconverted] == ["jobs"]
    assert list(plan.resources) == ["aws_s3_bucket.data"]


def test_colliding_names_get_suffixes():
    first = resource("a-b", "aws:s3/bucket:Bucket", {"bucket": "one"})
    second = resource("a.b", "aws:s3/bucket:Bucket", {"bucket": "two"})
    plan = to_plan([first, second])
    assert sorted(plan.resources) == ["aws_s3_bucket.a_b", "aws_s3_bucket.a_b_2"]
    assert {r.pulumi_name for r in plan.resources.values()} == {"a-b", "a.b"}


def test_secret_values_are_unwrapped():
    secret = {"4dabf18193072939515e22adb298388d": "1b47061264138c4ac30d75fd1eb44270", "value": "/pilot/x"}
    group = resource("logs", "aws:cloudwatch/logGroup:LogGroup", {"name": secret, "retentionInDays": 30})
    values = to_plan([group]).document["planned_values"]["root_module"]["resources"][0]["values"]
    assert values["name"] == "/pilot/x"
    assert values["retention_in_days"] == 30


def test_unknown_values_are_left_out():
    group = resource("logs", "aws:cloudwatch/logGroup:LogGroup", {"name": PULUMI_UNKNOWN, "retentionInDays": 30})
    plan = to_plan([group])
    assert "name" not in plan.document["planned_values"]["root_module"]["resources"][0]["values"]
    assert plan.document["resource_changes"][0]["change"]["after_unknown"] == {"name": True}


def test_snake_case_names():
    assert snake_case("kmsMasterKeyId") == "kms_master_key_id"
    assert snake_case("s3BucketName") == "s3_bucket_name"
    assert snake_case("cloudWatchLogsGroupArn") == "cloud_watch_logs_group_arn"
    assert snake_case("bucket") == "bucket"


def test_terraform_name_replaces_separators():
    assert terraform_name("pilot-acme-access-user-ana.silva") == "pilot_acme_access_user_ana_silva"
    assert terraform_name("1st") == "r_1st"


def custom_check_constants() -> dict[str, object]:
    """Read the module-level constants of the custom check without importing checkov."""
    tree = ast.parse(CUSTOM_CHECK_FILE.read_text(encoding="utf-8"))
    constants = {}
    for node in tree.body:
        if isinstance(node, ast.Assign) and len(node.targets) == 1 and isinstance(node.targets[0], ast.Name):
            try:
                constants[node.targets[0].id] = ast.literal_eval(node.value)
            except ValueError:
                continue
    return constants


def test_custom_check_matches_program_tags():
    constants = custom_check_constants()
    assert constants["CUSTOMER_TAG"] == tags.CUSTOMER
    assert constants["RETENTION_TAG"] == tags.RETENTION_DAYS
    assert constants["CLASSIFICATION_TAG"] == tags.CLASSIFICATION
    assert tuple(constants["CLASSIFICATIONS"]) == CLASSIFICATIONS
    assert tuple(constants["SUPPORTED_RESOURCES"]) == runner.CUSTOM_CHECK_TYPES["CKV_PILOT_1"]
