"""ScheduledScanner: its resources under Pulumi mocks, and its handler run in-process against the emulator."""

from __future__ import annotations

import json
from pathlib import Path

import boto3
import pulumi
import pytest

from infra.components import scanner
from infra.sandbox.deploy import deploy
from infra.sandbox.fabricate import PlanHooks, predict, stable_uuid
from infra.sandbox.program import Registered, run_program
from infra.spec import load_stack_file

ROOT = Path(__file__).resolve().parents[2]


class ScannerHooks(PlanHooks):
    """Predict outputs for the scanner's resource types, which the tenant's plan never declares."""

    def create(self, resource: Registered):
        t, account, region = resource.type, self.account_id, self.region
        if t == "aws:sns/topic:Topic":
            return resource.name, {"arn": f"arn:aws:sns:{region}:{account}:{resource.name}"}
        if t == "aws:iam/role:Role":
            name = resource.inputs.get("name", resource.name)
            return name, {"arn": f"arn:aws:iam::{account}:role/{name}"}
        if t == "aws:s3/bucket:Bucket":
            name = resource.inputs.get("bucket", resource.name)
            return name, {"arn": f"arn:aws:s3:::{name}", "bucket": name}
        if t == "aws:lambda/function:Function":
            return resource.name, {"arn": f"arn:aws:lambda:{region}:{account}:function:{resource.name}",
                                   "name": resource.name}
        if t == "aws:cloudwatch/eventRule:EventRule":
            return resource.name, {"arn": f"arn:aws:events:{region}:{account}:rule/{resource.name}",
                                   "name": resource.name}
        if t.startswith(("aws:lambda/", "aws:cloudwatch/eventTarget", "aws:iam/rolePolicy", "aws:s3/")):
            return stable_uuid(resource.name), {}
        return predict(resource, account, region)


@pytest.fixture(scope="module")
def resources() -> dict[str, Registered]:
    spec = load_stack_file(ROOT / "Pulumi.acme.yaml")

    def build(_spec):
        scanner.ScheduledScanner("acme-scanner", scanner.ScannerArgs(
            customer="acme", region="us-east-1", code=pulumi.AssetArchive({}), schedule_expression="rate(6 hours)",
            retention_days=30, spec_file="Pulumi.acme.yaml"))

    registered = run_program(spec, ScannerHooks(region="us-east-1"), build)
    return {resource.type: resource for resource in registered if resource.type != "pulumi:pulumi:Stack"}


def test_scanner_resource_types(resources) -> None:
    assert set(resources) == {
        "pilotctl:tenant:ScheduledScanner", "aws:s3/bucket:Bucket",
        "aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration",
        "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock", "aws:sns/topic:Topic", "aws:iam/role:Role",
        "aws:iam/rolePolicy:RolePolicy", "aws:lambda/function:Function", "aws:cloudwatch/eventRule:EventRule",
        "aws:cloudwatch/eventTarget:EventTarget", "aws:lambda/permission:Permission"}


def test_scanner_children_parented(resources) -> None:
    component = resources["pilotctl:tenant:ScheduledScanner"]
    for resource in resources.values():
        if resource is not component:
            assert resource.parent == component.urn, resource.type


def test_scanner_bucket_retention(resources) -> None:
    bucket = resources["aws:s3/bucket:Bucket"]
    assert bucket.inputs["tags"]["pilot:retention-days"] == "30"
    rule = resources["aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration"].inputs["rules"][0]
    assert rule["expiration"]["days"] == 30
    assert rule["filter"]["prefix"] == "findings/"


def test_scanner_schedule_and_function(resources) -> None:
    assert resources["aws:cloudwatch/eventRule:EventRule"].inputs["scheduleExpression"] == "rate(6 hours)"
    function = resources["aws:lambda/function:Function"].inputs
    assert function["handler"] == "infra.scanner_handler.handler"
    assert function["environment"]["variables"]["PILOT_CUSTOMER"] == "acme"
    assert function["environment"]["variables"]["PILOT_SPEC_FILE"] == "Pulumi.acme.yaml"
    permission = resources["aws:lambda/permission:Permission"].inputs
    assert permission["principal"] == "events.amazonaws.com"


def test_scanner_role_least_privilege(resources) -> None:
    trust = json.loads(resources["aws:iam/role:Role"].inputs["assumeRolePolicy"])
    assert trust["Statement"][0]["Principal"] == {"Service": "lambda.amazonaws.com"}
    statements = {s["Sid"]: s for s in json.loads(resources["aws:iam/rolePolicy:RolePolicy"].inputs["policy"])[
        "Statement"]}
    scan_actions = statements["ScanReadOnly"]["Action"]
    assert all(action.split(":")[1].startswith(("Get", "List", "Describe")) for action in scan_actions)
    assert "s3:GetObject" not in scan_actions
    bucket_arn = resources["aws:s3/bucket:Bucket"].outputs["arn"]
    assert statements["WriteResults"]["Resource"] == f"{bucket_arn}/findings/acme/*"
    assert statements["PublishNewFailures"]["Action"] == "sns:Publish"
    assert statements["PublishNewFailures"]["Resource"] == resources["aws:sns/topic:Topic"].outputs["arn"]
    writes = [s for s in statements.values() if any(a in ("s3:PutObject", "sns:Publish")
                                                   for a in ([s["Action"]] if isinstance(s["Action"], str)
                                                             else s["Action"]))]
    assert len(writes) == 2


@pytest.mark.moto_server
def test_handler_on_emulator(emulator, aws_env, monkeypatch) -> None:
    from infra.scanner_handler import handler

    spec = load_stack_file(ROOT / "Pulumi.acme.yaml")
    emulator.reset()
    deploy(spec, emulator.endpoint)
    s3, sns, sqs = boto3.client("s3"), boto3.client("sns"), boto3.client("sqs")
    s3.create_bucket(Bucket="scanner-results-test")
    topic = sns.create_topic(Name="scanner-new-failures-test")["TopicArn"]
    queue = sqs.create_queue(QueueName="scanner-new-failures-test")["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=queue_arn)
    monkeypatch.setenv("AWS_REGION", spec.region)
    monkeypatch.setenv("PILOT_CUSTOMER", "acme")
    monkeypatch.setenv("RESULTS_BUCKET", "scanner-results-test")
    monkeypatch.setenv("TOPIC_ARN", topic)
    monkeypatch.setenv("PILOT_SPEC_FILE", str(ROOT / "Pulumi.acme.yaml"))

    first = handler({}, None)
    stored = json.loads(s3.get_object(Bucket="scanner-results-test", Key=first["key"])["Body"].read())
    assert stored["customer"] == "acme"
    assert stored["counts"] == first["counts"]
    latest = s3.get_object(Bucket="scanner-results-test", Key="findings/acme/latest.json")["Body"].read()
    assert json.loads(latest) == stored

    messages = sqs.receive_message(QueueUrl=queue, MaxNumberOfMessages=10).get("Messages", [])
    assert first["new_failures"] == stored["counts"]["fail"]
    assert len(messages) == (1 if first["new_failures"] else 0)
    for message in messages:
        assert f"{first['new_failures']} new failures in tenant acme in the first scan" in message["Body"]

    # A second run on the unchanged tenant finds nothing new and publishes nothing.
    second = handler({}, None)
    assert second["new_failures"] == 0
