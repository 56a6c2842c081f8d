"""The audit trail: a CloudTrail trail with data events on every tenant bucket.

Log files go to an audit bucket that tenant people and roles cannot delete from or
weaken, and to a log group; both keep them for the spec's audit retention.
"""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from infra import documents, naming, tags
from infra.components.common import base_tags
from infra.components.storage import secure_bucket
from infra.spec import LOG_RETENTION_DAYS, PilotSpec


# Audit records name the people who touched customer data and what they touched.
AUDIT_CLASSIFICATION = "confidential"


def audit_log_retention(days: int) -> int:
    """Return the longest CloudWatch Logs retention period that does not exceed ``days``."""
    allowed = [d for d in LOG_RETENTION_DAYS if d <= days]
    return allowed[-1] if allowed else LOG_RETENTION_DAYS[0]


@dataclass
class AuditArgs:
    spec: PilotSpec
    account_id: pulumi.Input[str]
    partition: pulumi.Input[str]
    key: aws.kms.Key
    # Store name -> bucket name of every S3 store; the trail records data events on each.
    bucket_names: dict[str, pulumi.Input[str]]


class TenantAudit(pulumi.ComponentResource):
    trail: aws.cloudtrail.Trail
    bucket: aws.s3.Bucket
    log_group: aws.cloudwatch.LogGroup

    def __init__(self, name: str, args: AuditArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("pilotctl:tenant:Audit", name, None, opts)
        spec = args.spec
        child = pulumi.ResourceOptions(parent=self)
        trail_name = naming.trail(spec.customer)
        trail_arn = pulumi.Output.all(args.partition, args.account_id).apply(
            lambda v: f"arn:{v[0]}:cloudtrail:{spec.region}:{v[1]}:trail/{trail_name}")

        self.bucket = aws.s3.Bucket(
            f"{name}-bucket",
            bucket=pulumi.Output.from_input(args.account_id).apply(
                lambda account: naming.audit_bucket(spec.customer, account)),
            force_destroy=True,
            tags=base_tags(spec, "audit", **{tags.RETENTION_DAYS: str(spec.audit_retention_days),
                                             tags.CLASSIFICATION: AUDIT_CLASSIFICATION}),
            opts=child)
        policy = pulumi.Output.all(self.bucket.arn, trail_arn, args.account_id, args.partition).apply(
            lambda v: documents.dumps(documents.audit_bucket_policy(v[0], v[1], v[2], spec.customer, v[3])))
        bucket_policy = secure_bucket(f"{name}-bucket", self.bucket, args.key, spec.audit_retention_days,
                                      policy, self)

        self.log_group = aws.cloudwatch.LogGroup(
            f"{name}-log-group",
            name=naming.audit_log_group(spec.customer),
            retention_in_days=audit_log_retention(spec.audit_retention_days),
            kms_key_id=args.key.arn,
            tags=base_tags(spec, "audit", **{
                tags.RETENTION_DAYS: str(audit_log_retention(spec.audit_retention_days)),
                tags.CLASSIFICATION: AUDIT_CLASSIFICATION}),
            opts=child)
        delivery_role = aws.iam.Role(
            f"{name}-delivery-role",
            name=naming.service_role(spec.customer, "trail"),
            path=naming.iam_path(spec.customer) + "service/",
            assume_role_policy=documents.dumps(documents.service_trust_policy("cloudtrail.amazonaws.com")),
            tags=base_tags(spec, "audit"), opts=child)
        aws.iam.RolePolicy(
            f"{name}-delivery-role-policy", name="deliver-trail-events", role=delivery_role.id,
            policy=self.log_group.arn.apply(lambda arn: documents.dumps(documents.trail_delivery_policy(arn))),
            opts=pulumi.ResourceOptions(parent=delivery_role))

        data_resources = pulumi.Output.all(args.partition, *args.bucket_names.values()).apply(
            lambda v: [f"arn:{v[0]}:s3:::{bucket}/" for bucket in sorted(v[1:])])
        self.trail = aws.cloudtrail.Trail(
            f"{name}-trail",
            name=trail_name,
            s3_bucket_name=self.bucket.id,
            enable_log_file_validation=True,
            enable_logging=True,
            is_multi_region_trail=True,
            include_global_service_events=True,
            kms_key_id=args.key.arn,
            cloud_watch_logs_group_arn=self.log_group.arn.apply(lambda arn: f"{arn}:*"),
            cloud_watch_logs_role_arn=delivery_role.arn,
            event_selectors=[{
                "read_write_type": "All",
                "include_management_events": True,
                "data_resources": [{"type": "AWS::S3::Object", "values": data_resources}],
            }],
            tags=base_tags(spec, "audit"),
            # CloudTrail checks the bucket policy when the trail is created.
            opts=pulumi.ResourceOptions(parent=self, depends_on=[bucket_policy]))

        self.register_outputs({"trail": self.trail.name})
