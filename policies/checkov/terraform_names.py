"""The mapping from pulumi-aws 7 names to the Terraform AWS provider's names, declared as data.

pulumi-aws is generated from the Terraform AWS provider, so most names convert
mechanically: a type token ``aws:<module>/<camelName>:<Class>`` becomes
``aws_<module>_<snake_name>``, and camelCase properties become snake_case. The
exceptions live here: types whose Terraform name differs, and list blocks that
Pulumi names in the plural while Terraform uses the singular block name.
"""

from __future__ import annotations

import re

# Pulumi type token -> Terraform resource type. A type missing here is not
# converted, and the plan reports it as unconverted instead of guessing a name.
TERRAFORM_TYPES: dict[str, str] = {
    "aws:s3/bucket:Bucket": "aws_s3_bucket",
    "aws:s3/bucketVersioning:BucketVersioning": "aws_s3_bucket_versioning",
    "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration":
        "aws_s3_bucket_server_side_encryption_configuration",
    "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock": "aws_s3_bucket_public_access_block",
    "aws:s3/bucketPolicy:BucketPolicy": "aws_s3_bucket_policy",
    "aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration": "aws_s3_bucket_lifecycle_configuration",
    "aws:s3/bucketOwnershipControls:BucketOwnershipControls": "aws_s3_bucket_ownership_controls",
    "aws:kms/key:Key": "aws_kms_key",
    "aws:kms/alias:Alias": "aws_kms_alias",
    "aws:iam/role:Role": "aws_iam_role",
    "aws:iam/rolePolicy:RolePolicy": "aws_iam_role_policy",
    "aws:iam/rolePolicyAttachment:RolePolicyAttachment": "aws_iam_role_policy_attachment",
    "aws:iam/user:User": "aws_iam_user",
    "aws:iam/userPolicy:UserPolicy": "aws_iam_user_policy",
    "aws:cloudwatch/logGroup:LogGroup": "aws_cloudwatch_log_group",
    "aws:backup/vault:Vault": "aws_backup_vault",
    "aws:backup/plan:Plan": "aws_backup_plan",
    "aws:backup/selection:Selection": "aws_backup_selection",
    "aws:cloudtrail/trail:Trail": "aws_cloudtrail",
}

# Terraform resource type -> {Pulumi property name: Terraform name}, at any nesting
# depth, for the names that snake_case conversion gets wrong. Renames are per type
# because a plural name is not always a list block: the replication configuration
# of aws_s3_bucket keeps ``rules`` in Terraform too.
BLOCK_RENAMES: dict[str, dict[str, str]] = {
    "aws_s3_bucket": {
        "lifecycleRules": "lifecycle_rule",
        "corsRules": "cors_rule",
        "grants": "grant",
        "transitions": "transition",
        "noncurrentVersionTransitions": "noncurrent_version_transition",
    },
    "aws_s3_bucket_server_side_encryption_configuration": {"rules": "rule"},
    "aws_s3_bucket_lifecycle_configuration": {
        "rules": "rule",
        "transitions": "transition",
        "noncurrentVersionTransitions": "noncurrent_version_transition",
    },
    "aws_iam_role": {"inlinePolicies": "inline_policy"},
    "aws_backup_plan": {
        "rules": "rule",
        "copyActions": "copy_action",
        "advancedBackupSettings": "advanced_backup_setting",
    },
    "aws_backup_selection": {"selectionTags": "selection_tag", "conditions": "condition"},
    "aws_cloudtrail": {
        "eventSelectors": "event_selector",
        "dataResources": "data_resource",
        "advancedEventSelectors": "advanced_event_selector",
        "fieldSelectors": "field_selector",
        "insightSelectors": "insight_selector",
    },
}

# Properties whose object value is a Terraform map (free-form keys), not a block.
# Their keys are kept verbatim: "pilot:retention-days" must stay a tag key.
MAP_PROPERTIES = frozenset({"tags", "tagsAll", "recoveryPointTags"})

_CAMEL_BOUNDARY = re.compile(r"(?<=[a-z0-9])(?=[A-Z])")
_NOT_IDENTIFIER = re.compile(r"[^A-Za-z0-9_]")


def snake_case(name: str) -> str:
    """Convert a camelCase property name to Terraform's snake_case.

    >>> snake_case("kmsMasterKeyId"), snake_case("s3BucketName")
    ('kms_master_key_id', 's3_bucket_name')
    """
    return _CAMEL_BOUNDARY.sub("_", name).lower()


def terraform_attribute(terraform_type: str, pulumi_name: str) -> str:
    """Return the Terraform attribute or block name of a Pulumi property of ``terraform_type``."""
    renamed = BLOCK_RENAMES.get(terraform_type, {}).get(pulumi_name)
    return renamed if renamed is not None else snake_case(pulumi_name)


def terraform_name(pulumi_name: str) -> str:
    """Turn a Pulumi resource name into a Terraform resource name.

    Terraform names are identifiers and checkov splits addresses at dots, so every
    character other than a letter, digit or underscore becomes an underscore.

    >>> terraform_name("pilot-acme-access-user-ana.silva")
    'pilot_acme_access_user_ana_silva'
    """
    name = _NOT_IDENTIFIER.sub("_", pulumi_name)
    if not name or not (name[0].isalpha() or name[0] == "_"):
        name = "r_" + name
    return name
