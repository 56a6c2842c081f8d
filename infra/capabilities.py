"""THE table: which AWS actions make up each capability, per kind of tenant resource.

Capabilities (what a role may do to customer data):

- view: read records in a store, and read the store's settings;
- change: create and update records;
- export: move data out of its store, or read or write a store that holds exports;
- delete: destroy data or versions;
- admin: manage people and settings (IAM on tenant principals, policies, encryption,
  lifecycle, key policies, the trail).

Every action listed here maps to exactly one capability. ``classify`` returns None for
an action the table does not list, so callers can report it by name instead of
dropping it. On a store that holds exports, reading or writing records is export
(the data has already left the store it was created in).

``GRANTS`` is the subset the Pulumi program hands to roles: least privilege for each
capability, every action listed with the ARN form it applies to.
"""

from __future__ import annotations

from enum import StrEnum


class Capability(StrEnum):
    VIEW = "view"
    CHANGE = "change"
    EXPORT = "export"
    DELETE = "delete"
    ADMIN = "admin"


CAPABILITIES: tuple[str, ...] = tuple(c.value for c in Capability)

# Kinds a pilot spec may declare as stores.
STORE_KINDS: tuple[str, ...] = ("s3", "log_group")

# Kinds of tenant resources that are not stores but whose actions still reach data.
SUPPORT_KINDS: tuple[str, ...] = ("kms_key", "iam_principal", "cloudtrail", "backup")

V, C, E, D, A = (Capability.VIEW, Capability.CHANGE, Capability.EXPORT, Capability.DELETE,
                 Capability.ADMIN)

_S3 = {
    V: (
        # records (objects)
        "s3:GetObject", "s3:GetObjectVersion", "s3:GetObjectAttributes", "s3:GetObjectVersionAttributes",
        "s3:GetObjectTagging", "s3:GetObjectVersionTagging", "s3:GetObjectAcl", "s3:GetObjectVersionAcl",
        "s3:GetObjectTorrent", "s3:GetObjectVersionTorrent", "s3:GetObjectLegalHold",
        "s3:GetObjectRetention", "s3:GetObjectAnnotation", "s3:GetObjectVersionAnnotation",
        # Replication reads are reads of the object's data like GetObjectVersion; the copy
        # itself needs ReplicateObject on the destination, which is export.
        "s3:GetObjectVersionForReplication", "s3:GetObjectVersionAnnotationForReplication",
        "s3:ListBucket", "s3:ListBucketVersions", "s3:ListBucketMultipartUploads",
        "s3:ListMultipartUploadParts", "s3:ListObjectAnnotations", "s3:ListObjectVersionAnnotations",
        # settings (reading them reveals no records, but they are not admin either)
        "s3:GetBucketLocation", "s3:GetBucketAcl", "s3:GetBucketCORS", "s3:GetBucketLogging",
        "s3:GetBucketNotification", "s3:GetBucketObjectLockConfiguration", "s3:GetBucketOwnershipControls",
        "s3:GetBucketPolicy", "s3:GetBucketPolicyStatus", "s3:GetBucketPublicAccessBlock",
        "s3:GetBucketRequestPayment", "s3:GetBucketTagging", "s3:GetBucketVersioning",
        "s3:GetBucketWebsite", "s3:GetEncryptionConfiguration", "s3:GetLifecycleConfiguration",
        "s3:GetReplicationConfiguration", "s3:GetAccelerateConfiguration", "s3:GetAnalyticsConfiguration",
        "s3:GetIntelligentTieringConfiguration", "s3:GetInventoryConfiguration",
        "s3:GetMetricsConfiguration", "s3:GetBucketMetadataTableConfiguration", "s3:GetBucketAbac",
        "s3:ListTagsForResource",
    ),
    C: (
        "s3:PutObject", "s3:PutObjectTagging", "s3:PutObjectVersionTagging", "s3:AbortMultipartUpload",
        "s3:RestoreObject", "s3:PutObjectAnnotation", "s3:PutObjectVersionAnnotation",
        "s3:UpdateObjectEncryption", "s3:DeleteObjectTagging", "s3:DeleteObjectVersionTagging",
        "s3:DeleteObjectAnnotation", "s3:DeleteObjectVersionAnnotation",
    ),
    E: (
        # copies made elsewhere, or sharing by ACL
        "s3:PutReplicationConfiguration", "s3:ReplicateObject", "s3:ReplicateDelete", "s3:ReplicateTags",
        "s3:ReplicateObjectAnnotation", "s3:InitiateReplication", "s3:PauseReplication",
        "s3:PutInventoryConfiguration", "s3:PutBucketLogging", "s3:PutBucketNotification",
        "s3:PutObjectAcl", "s3:PutObjectVersionAcl", "s3:PutBucketAcl", "s3:PutBucketWebsite",
        "s3:CreateJob", "s3:PutAnalyticsConfiguration", "s3:CreateBucketMetadataTableConfiguration",
        "s3:UpdateBucketMetadataAnnotationTableConfiguration",
        "s3:UpdateBucketMetadataInventoryTableConfiguration",
        "s3:UpdateBucketMetadataJournalTableConfiguration", "s3:AllowVendedLogDeliveryForResource",
    ),
    D: (
        "s3:DeleteObject", "s3:DeleteObjectVersion", "s3:DeleteBucket", "s3:BypassGovernanceRetention",
        "s3:DeleteBucketMetadataTableConfiguration",
    ),
    A: (
        "s3:CreateBucket", "s3:PutBucketPolicy", "s3:DeleteBucketPolicy", "s3:PutEncryptionConfiguration",
        "s3:PutLifecycleConfiguration", "s3:PutBucketVersioning", "s3:PutBucketPublicAccessBlock",
        "s3:PutBucketTagging", "s3:TagResource", "s3:UntagResource", "s3:PutBucketObjectLockConfiguration",
        "s3:PutObjectRetention", "s3:PutObjectLegalHold", "s3:PutBucketOwnershipControls",
        "s3:ObjectOwnerOverrideToBucketOwner", "s3:PutBucketCORS", "s3:PutBucketRequestPayment",
        "s3:PutAccelerateConfiguration", "s3:PutMetricsConfiguration",
        "s3:PutIntelligentTieringConfiguration", "s3:DeleteBucketWebsite", "s3:PutBucketAbac",
    ),
}

_LOG_GROUP = {
    V: (
        "logs:GetLogEvents", "logs:FilterLogEvents", "logs:DescribeLogStreams", "logs:GetLogRecord",
        "logs:StartQuery", "logs:StartLiveTail", "logs:GetLogGroupFields", "logs:ListTagsForResource",
        "logs:ListTagsLogGroup", "logs:DescribeSubscriptionFilters", "logs:GetDataProtectionPolicy",
        "logs:GetQueryResults", "logs:DescribeMetricFilters", "logs:GetTransformer",
    ),
    C: ("logs:CreateLogStream", "logs:PutLogEvents", "logs:ProcessWithPipeline"),
    E: (
        "logs:CreateExportTask", "logs:PutSubscriptionFilter", "logs:Unmask",
        "logs:StartLiveTailForLogGroup", "logs:IntegrateWithDataset", "logs:IntegrateWithS3Table",
    ),
    D: ("logs:DeleteLogGroup", "logs:DeleteLogStream", "logs:DeleteSubscriptionFilter"),
    A: (
        "logs:CreateLogGroup", "logs:PutRetentionPolicy", "logs:DeleteRetentionPolicy",
        "logs:AssociateKmsKey", "logs:DisassociateKmsKey", "logs:TagResource", "logs:UntagResource",
        "logs:TagLogGroup", "logs:UntagLogGroup", "logs:PutDataProtectionPolicy",
        "logs:DeleteDataProtectionPolicy", "logs:CreateLogAnomalyDetector", "logs:PutMetricFilter",
        "logs:DeleteMetricFilter", "logs:PutTransformer", "logs:DeleteTransformer", "logs:PutSyslogConfiguration",
        "logs:DeleteSyslogConfiguration", "logs:PutBearerTokenAuthentication", "logs:PutLogGroupDeletionProtection",
    ),
}

_KMS_KEY = {
    V: ("kms:Decrypt", "kms:DescribeKey", "kms:GetKeyPolicy", "kms:GetKeyRotationStatus",
        "kms:ListResourceTags", "kms:ListGrants", "kms:Decapsulate", "kms:DeriveSharedSecret", "kms:Verify",
        "kms:VerifyMac", "kms:GetPublicKey", "kms:GetKeyLastUsage", "kms:ListKeyPolicies", "kms:ListKeyRotations"),
    C: ("kms:Encrypt", "kms:GenerateDataKey", "kms:GenerateDataKeyWithoutPlaintext", "kms:ReEncryptFrom",
        "kms:ReEncryptTo", "kms:Encapsulate", "kms:GenerateDataKeyPair", "kms:GenerateDataKeyPairWithoutPlaintext",
        "kms:GenerateMac", "kms:Sign"),
    E: ("kms:CreateGrant", "kms:GetParametersForImport", "kms:ReplicateKey"),
    D: ("kms:ScheduleKeyDeletion", "kms:DisableKey", "kms:DeleteImportedKeyMaterial"),
    A: ("kms:PutKeyPolicy", "kms:EnableKey", "kms:EnableKeyRotation", "kms:DisableKeyRotation",
        "kms:CancelKeyDeletion", "kms:RevokeGrant", "kms:RetireGrant", "kms:TagResource",
        "kms:UntagResource", "kms:UpdateKeyDescription", "kms:CreateAlias", "kms:DeleteAlias", "kms:UpdateAlias",
        "kms:ImportKeyMaterial", "kms:RotateKeyOnDemand", "kms:UpdatePrimaryRegion",
        "kms:SynchronizeMultiRegionKey"),
}

_IAM_PRINCIPAL = {
    V: ("iam:GetUser", "iam:GetRole", "iam:GetRolePolicy", "iam:GetUserPolicy", "iam:ListRolePolicies",
        "iam:ListUserPolicies", "iam:ListAttachedRolePolicies", "iam:ListAttachedUserPolicies",
        "iam:GetLoginProfile", "iam:ListMFADevices", "iam:ListAccessKeys", "iam:ListUserTags",
        "iam:ListRoleTags", "iam:ListGroupsForUser", "iam:GetAccessKeyLastUsed", "iam:GetMFADevice",
        "iam:GetSSHPublicKey", "iam:ListSSHPublicKeys", "iam:ListServiceSpecificCredentials",
        "iam:ListSigningCertificates", "iam:ListInstanceProfilesForRole", "iam:GetServiceLinkedRoleDeletionStatus",
        "iam:GenerateServiceLastAccessedDetails", "iam:GetContextKeysForPrincipalPolicy",
        "iam:ListPoliciesGrantingServiceAccess", "iam:SimulatePrincipalPolicy"),
    C: (),
    E: (),
    D: (),
    A: ("iam:CreateUser", "iam:DeleteUser", "iam:UpdateUser", "iam:TagUser", "iam:UntagUser",
        "iam:CreateLoginProfile", "iam:UpdateLoginProfile", "iam:DeleteLoginProfile",
        "iam:CreateAccessKey", "iam:UpdateAccessKey", "iam:DeleteAccessKey",
        "iam:CreateVirtualMFADevice", "iam:EnableMFADevice", "iam:DeactivateMFADevice",
        "iam:ResyncMFADevice", "iam:DeleteVirtualMFADevice",
        "iam:PutUserPolicy", "iam:DeleteUserPolicy", "iam:AttachUserPolicy", "iam:DetachUserPolicy",
        "iam:PutUserPermissionsBoundary", "iam:DeleteUserPermissionsBoundary", "iam:AddUserToGroup",
        "iam:RemoveUserFromGroup", "iam:CreateRole", "iam:DeleteRole", "iam:UpdateRole",
        "iam:UpdateAssumeRolePolicy", "iam:PutRolePolicy", "iam:DeleteRolePolicy",
        "iam:AttachRolePolicy", "iam:DetachRolePolicy", "iam:PutRolePermissionsBoundary",
        "iam:DeleteRolePermissionsBoundary", "iam:TagRole", "iam:UntagRole", "iam:PassRole",
        "sts:AssumeRole", "iam:ChangePassword", "iam:CreateServiceSpecificCredential",
        "iam:ResetServiceSpecificCredential", "iam:UpdateServiceSpecificCredential",
        "iam:DeleteServiceSpecificCredential", "iam:UploadSSHPublicKey", "iam:UpdateSSHPublicKey",
        "iam:DeleteSSHPublicKey", "iam:UploadSigningCertificate", "iam:UpdateSigningCertificate",
        "iam:DeleteSigningCertificate", "iam:UpdateRoleDescription"),
}

_CLOUDTRAIL = {
    V: ("cloudtrail:GetTrail", "cloudtrail:GetTrailStatus", "cloudtrail:GetEventSelectors",
        "cloudtrail:DescribeTrails", "cloudtrail:LookupEvents", "cloudtrail:ListTags",
        "cloudtrail:GetInsightSelectors", "cloudtrail:GetEventConfiguration", "cloudtrail:ListInsightsData"),
    C: (),
    E: (),
    D: ("cloudtrail:DeleteTrail",),
    A: ("cloudtrail:StopLogging", "cloudtrail:StartLogging", "cloudtrail:UpdateTrail",
        "cloudtrail:PutEventSelectors", "cloudtrail:PutInsightSelectors", "cloudtrail:AddTags",
        "cloudtrail:RemoveTags", "cloudtrail:CreateTrail", "cloudtrail:PutEventConfiguration"),
}

_BACKUP = {
    V: ("backup:DescribeBackupVault", "backup:ListRecoveryPointsByBackupVault",
        "backup:DescribeRecoveryPoint", "backup:GetBackupPlan", "backup:GetBackupSelection",
        "backup:ListBackupSelections", "backup:ListTags", "backup:GetBackupVaultAccessPolicy"),
    C: ("backup:StartBackupJob",),
    E: ("backup:StartCopyJob", "backup:StartRestoreJob", "backup:PutBackupVaultAccessPolicy"),
    D: ("backup:DeleteRecoveryPoint", "backup:DeleteBackupVault", "backup:DeleteBackupPlan",
        "backup:DeleteBackupSelection", "backup:UpdateRecoveryPointLifecycle"),
    A: ("backup:CreateBackupPlan", "backup:UpdateBackupPlan", "backup:CreateBackupSelection",
        "backup:PutBackupVaultLockConfiguration", "backup:DeleteBackupVaultLockConfiguration",
        "backup:DeleteBackupVaultAccessPolicy", "backup:TagResource", "backup:UntagResource"),
}

TABLE: dict[str, dict[Capability, tuple[str, ...]]] = {
    "s3": _S3,
    "log_group": _LOG_GROUP,
    "kms_key": _KMS_KEY,
    "iam_principal": _IAM_PRINCIPAL,
    "cloudtrail": _CLOUDTRAIL,
    "backup": _BACKUP,
}


def _index() -> dict[str, dict[str, Capability]]:
    index: dict[str, dict[str, Capability]] = {}
    for kind, by_capability in TABLE.items():
        seen: dict[str, Capability] = {}
        for capability, actions in by_capability.items():
            for action in actions:
                key = action.lower()
                if key in seen:
                    raise ValueError(f"{action} is listed under both {seen[key]} and {capability} for {kind}")
                seen[key] = capability
        index[kind] = seen
    return index


_INDEX = _index()


def classify(action: str, kind: str, holds_exports: bool = False) -> Capability | None:
    """Return the capability an action grants on a resource of ``kind``, or None if unlisted.

    Action names compare case-insensitively, as IAM compares them. On a store that
    holds exports, view and change actions count as export.

    >>> classify("s3:GetObject", "s3"), classify("s3:getobject", "s3", holds_exports=True)
    (<Capability.VIEW: 'view'>, <Capability.EXPORT: 'export'>)
    """
    capability = _INDEX.get(kind, {}).get(action.lower())
    if capability in (Capability.VIEW, Capability.CHANGE) and holds_exports and kind in STORE_KINDS:
        return Capability.EXPORT
    return capability


def services_of(kind: str) -> frozenset[str]:
    """Return the IAM service prefixes whose actions can touch a resource of ``kind``."""
    return frozenset(action.split(":", 1)[0].lower() for actions in TABLE[kind].values() for action in actions)


# The grants the program hands to roles. Each entry: (actions, ARN form). ARN forms: "bucket" and
# "object" for S3, "log_group" and "log_stream" for log groups, "key" for the tenant key,
# "user" for tenant people.
GRANTS: dict[str, dict[Capability, tuple[tuple[tuple[str, ...], str], ...]]] = {
    "s3": {
        V: ((("s3:ListBucket", "s3:ListBucketVersions", "s3:GetBucketLocation"), "bucket"),
            (("s3:GetObject", "s3:GetObjectVersion", "s3:GetObjectTagging"), "object")),
        C: ((("s3:PutObject", "s3:PutObjectTagging", "s3:AbortMultipartUpload"), "object"),),
        E: (),  # export is granted as view and change on stores that hold exports
        D: ((("s3:DeleteObject", "s3:DeleteObjectVersion"), "object"),),
        A: (),  # store settings belong to the deployment; admin is granted as people management
    },
    "log_group": {
        V: ((("logs:DescribeLogStreams", "logs:FilterLogEvents", "logs:StartQuery"), "log_group"),
            (("logs:GetLogEvents",), "log_stream")),
        C: ((("logs:CreateLogStream",), "log_group"), (("logs:PutLogEvents",), "log_stream")),
        E: (),  # as for S3: export is granted only through stores that hold exports
        D: ((("logs:DeleteLogStream",), "log_group"),),
        A: (),
    },
    "kms_key": {
        V: ((("kms:Decrypt", "kms:DescribeKey"), "key"),),
        C: ((("kms:GenerateDataKey", "kms:Encrypt"), "key"),),
        E: (),
        D: (),
        A: (),
    },
    "iam_principal": {
        V: (), C: (), E: (), D: (),
        A: ((("iam:GetUser", "iam:GetLoginProfile", "iam:CreateLoginProfile", "iam:UpdateLoginProfile",
              "iam:DeleteLoginProfile", "iam:ListMFADevices", "iam:CreateVirtualMFADevice",
              "iam:EnableMFADevice", "iam:DeactivateMFADevice", "iam:ResyncMFADevice",
              "iam:TagUser", "iam:UntagUser"), "user"),),
    },
}


def granted_actions(kind: str, capabilities: frozenset[Capability] | set[Capability],
                    holds_exports: bool = False) -> dict[str, tuple[str, ...]]:
    """Return {ARN form: sorted actions} that the program grants for ``capabilities`` on ``kind``.

    A store that holds exports is reachable only through export: a role with export
    gets view and change on it, a role without export gets none of them.
    """
    wanted = set(capabilities)
    if holds_exports and kind in STORE_KINDS:
        wanted -= {V, C}
        if E in capabilities:
            wanted |= {V, C}
    forms: dict[str, set[str]] = {}
    for capability in sorted(wanted):
        for actions, form in GRANTS[kind][capability]:
            forms.setdefault(form, set()).update(actions)
    return {form: tuple(sorted(actions)) for form, actions in sorted(forms.items())}
