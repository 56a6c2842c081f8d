"""Tenant storage: the KMS key, one S3 bucket or log group per store, all retention-tagged."""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from infra import documents, naming, tags
from infra.components.common import base_tags, lifecycle_rules, store_lifecycle_days
from infra.spec import PilotSpec, Store


@dataclass
class StorageArgs:
    spec: PilotSpec
    account_id: pulumi.Input[str]
    partition: pulumi.Input[str]


class TenantStorage(pulumi.ComponentResource):
    """The tenant key and the stores declared in the pilot spec."""

    key: aws.kms.Key
    buckets: dict[str, aws.s3.Bucket]
    log_groups: dict[str, aws.cloudwatch.LogGroup]

    def __init__(self, name: str, args: StorageArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("pilotctl:tenant:Storage", name, None, opts)
        spec = args.spec
        child = pulumi.ResourceOptions(parent=self)

        key_policy = pulumi.Output.all(args.account_id, args.partition).apply(
            lambda v: documents.dumps(documents.key_policy(v[0], spec.region, spec.customer, v[1])))
        self.key = aws.kms.Key(
            f"{name}-key",
            description=f"Encrypts pilot data of customer {spec.customer}",
            enable_key_rotation=True,
            deletion_window_in_days=7,
            policy=key_policy,
            tags=base_tags(spec, "key"),
            opts=child)
        aws.kms.Alias(f"{name}-key-alias", name=naming.key_alias(spec.customer),
                      target_key_id=self.key.key_id, opts=child)

        self.buckets = {}
        self.log_groups = {}
        for store in spec.stores:
            if store.kind == "s3":
                self.buckets[store.name] = self._bucket(name, spec, store, args)
            elif store.kind == "log_group":
                self.log_groups[store.name] = self._log_group(name, spec, store)
            else:  # the spec validator only lets known kinds through
                raise ValueError(f"store {store.name}: unsupported kind {store.kind}")

        self.register_outputs({"key_arn": self.key.arn})

    def _store_tags(self, spec: PilotSpec, store: Store) -> dict[str, str]:
        return base_tags(spec, "store", **{
            tags.STORE: store.name,
            tags.CLASSIFICATION: store.classification,
            tags.RETENTION_DAYS: str(store.retention_days),
            tags.PILOT_END: spec.end.isoformat(),
            tags.BACKUP: "true" if store.backup else "false",
        })

    def _bucket(self, name: str, spec: PilotSpec, store: Store, args: StorageArgs) -> aws.s3.Bucket:
        res = f"{name}-{store.name}"
        bucket_name = pulumi.Output.from_input(args.account_id).apply(
            lambda account: naming.bucket(spec.customer, store.name, account))
        bucket = aws.s3.Bucket(res, bucket=bucket_name, force_destroy=True,
                               tags=self._store_tags(spec, store),
                               opts=pulumi.ResourceOptions(parent=self))
        secure_bucket(res, bucket, self.key,
                      retention_days=store_lifecycle_days(spec, store.retention_days, store.backup),
                      policy=bucket.arn.apply(lambda arn: documents.dumps(documents.store_bucket_policy(arn))),
                      parent=self)
        return bucket

    def _log_group(self, name: str, spec: PilotSpec, store: Store) -> aws.cloudwatch.LogGroup:
        return aws.cloudwatch.LogGroup(
            f"{name}-{store.name}",
            name=naming.log_group(spec.customer, store.name),
            retention_in_days=store.retention_days,
            kms_key_id=self.key.arn,
            tags=self._store_tags(spec, store),
            opts=pulumi.ResourceOptions(parent=self))


def secure_bucket(res: str, bucket: aws.s3.Bucket, key: aws.kms.Key, retention_days: int,
                  policy: pulumi.Input[str], parent: pulumi.Resource) -> aws.s3.BucketPolicy:
    """Attach versioning, SSE-KMS, a public access block, a policy and lifecycle rules to a bucket.

    Versioning is enabled before the lifecycle configuration, since noncurrent-version
    rules only mean something on a versioned bucket.
    """
    child = pulumi.ResourceOptions(parent=parent)
    versioning = aws.s3.BucketVersioning(f"{res}-versioning", bucket=bucket.id,
                                         versioning_configuration={"status": "Enabled"}, opts=child)
    aws.s3.BucketServerSideEncryptionConfiguration(
        f"{res}-encryption", bucket=bucket.id,
        rules=[{"apply_server_side_encryption_by_default": {"sse_algorithm": "aws:kms",
                                                            "kms_master_key_id": key.arn},
                "bucket_key_enabled": True}],
        opts=child)
    public_access = aws.s3.BucketPublicAccessBlock(
        f"{res}-public-access", bucket=bucket.id, block_public_acls=True, block_public_policy=True,
        ignore_public_acls=True, restrict_public_buckets=True, opts=child)
    aws.s3.BucketOwnershipControls(f"{res}-ownership", bucket=bucket.id,
                                   rule={"object_ownership": "BucketOwnerEnforced"}, opts=child)
    bucket_policy = aws.s3.BucketPolicy(f"{res}-policy", bucket=bucket.id, policy=policy,
                                        opts=pulumi.ResourceOptions(parent=parent, depends_on=[public_access]))
    aws.s3.BucketLifecycleConfiguration(f"{res}-lifecycle", bucket=bucket.id,
                                        rules=lifecycle_rules(retention_days),
                                        opts=pulumi.ResourceOptions(parent=parent, depends_on=[versioning]))
    return bucket_policy
