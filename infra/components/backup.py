"""AWS Backup for the stores the spec marks ``backup: true``, bounded by pilot end + retention."""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from infra import documents, naming, tags
from infra.components.common import backup_retention_days, base_tags
from infra.spec import PilotSpec

# AWS managed policies the AWS Backup service role needs to back up and restore S3.
BACKUP_SERVICE_POLICIES = (
    "service-role/AWSBackupServiceRolePolicyForBackup",
    "service-role/AWSBackupServiceRolePolicyForRestores",
    "AWSBackupServiceRolePolicyForS3Backup",
    "AWSBackupServiceRolePolicyForS3Restore",
)


@dataclass
class BackupArgs:
    spec: PilotSpec
    key_arn: pulumi.Input[str]
    partition: pulumi.Input[str]


class TenantBackup(pulumi.ComponentResource):
    vault: aws.backup.Vault
    plan: aws.backup.Plan

    def __init__(self, name: str, args: BackupArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("pilotctl:tenant:Backup", name, None, opts)
        spec = args.spec
        child = pulumi.ResourceOptions(parent=self)

        self.vault = aws.backup.Vault(
            f"{name}-vault", name=naming.backup_vault(spec.customer), kms_key_arn=args.key_arn,
            # Deleting the tenant at pilot end deletes its recovery points too.
            force_destroy=True,
            tags=base_tags(spec, "backup"), opts=child)

        self.plan = aws.backup.Plan(
            f"{name}-plan",
            name=naming.backup_plan(spec.customer),
            rules=[{
                "rule_name": "daily",
                "target_vault_name": self.vault.name,
                "schedule": "cron(0 3 * * ? *)",
                "start_window": 60,
                "completion_window": 180,
                "lifecycle": {"delete_after": backup_retention_days(spec)},
                "recovery_point_tags": base_tags(spec, "backup"),
            }],
            tags=base_tags(spec, "backup"), opts=child)

        service_role = aws.iam.Role(
            f"{name}-service-role",
            name=naming.service_role(spec.customer, "backup"),
            path=naming.iam_path(spec.customer) + "service/",
            assume_role_policy=documents.dumps(documents.service_trust_policy("backup.amazonaws.com")),
            tags=base_tags(spec, "backup"), opts=child)
        for policy in BACKUP_SERVICE_POLICIES:
            aws.iam.RolePolicyAttachment(
                f"{name}-service-role-{policy.rsplit('/', 1)[-1]}", role=service_role.name,
                policy_arn=pulumi.Output.from_input(args.partition).apply(
                    lambda partition, policy=policy: f"arn:{partition}:iam::aws:policy/{policy}"),
                opts=pulumi.ResourceOptions(parent=service_role))

        aws.backup.Selection(
            f"{name}-selection",
            name=f"pilot-{spec.customer}-tagged",
            plan_id=self.plan.id,
            iam_role_arn=service_role.arn,
            # Entries of ListOfTags are ORed, Conditions are ANDed: the tag picks
            # backed-up stores and the condition keeps other tenants out.
            selection_tags=[{"type": "STRINGEQUALS", "key": tags.BACKUP, "value": "true"}],
            conditions=[{"string_equals": [
                {"key": f"aws:ResourceTag/{tags.CUSTOMER}", "value": spec.customer}]}],
            opts=child)

        self.register_outputs({"vault": self.vault.name})
