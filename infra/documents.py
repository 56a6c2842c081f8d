"""IAM, bucket and key policy documents of a tenant, as pure functions of names and ARNs.

Kept apart from the components so the documents can be tested without Pulumi and so
the components read as a list of resources.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from infra import naming
from infra.capabilities import Capability, granted_actions

VERSION = "2012-10-17"


@dataclass(frozen=True)
class StoreRef:
    """The store facts a role policy is built from."""

    name: str
    kind: str
    arn: str                 # bucket ARN or log group ARN
    holds_exports: bool = False


def dumps(document: Mapping) -> str:
    return json.dumps(document, indent=2, sort_keys=False)


def role_trust_policy(user_arns: Sequence[str]) -> dict:
    """Trust only the named people, and only when they signed in with MFA."""
    return {
        "Version": VERSION,
        "Statement": [{
            "Sid": "AssignedPeopleWithMfa",
            "Effect": "Allow",
            "Principal": {"AWS": sorted(user_arns)},
            "Action": "sts:AssumeRole",
            "Condition": {"Bool": {"aws:MultiFactorAuthPresent": "true"}},
        }],
    }


def service_trust_policy(service: str) -> dict:
    return {
        "Version": VERSION,
        "Statement": [{"Sid": "ServiceAssumes", "Effect": "Allow", "Principal": {"Service": service},
                       "Action": "sts:AssumeRole"}],
    }


def assume_own_role_policy(role_arn: str) -> dict:
    """Return the policy that lets a person assume exactly one role, their own."""
    return {
        "Version": VERSION,
        "Statement": [{"Sid": "AssumeOwnRole", "Effect": "Allow", "Action": "sts:AssumeRole",
                       "Resource": role_arn}],
    }


def _arns_for(store: StoreRef, form: str) -> list[str]:
    if form == "bucket":
        return [store.arn]
    if form == "object":
        return [f"{store.arn}/*"]
    if form == "log_group":
        return [store.arn]
    if form == "log_stream":
        return [f"{store.arn}:log-stream:*"]
    raise ValueError(f"unknown ARN form {form!r} for store {store.name}")


def _sid(*parts: str) -> str:
    return "".join(part.title().replace("-", "").replace("_", "") for part in parts)


def role_access_policy(capabilities: Iterable[Capability], stores: Sequence[StoreRef], key_arn: str,
                       user_path_arn: str) -> dict:
    """Least-privilege policy for one role, built only from ``infra.capabilities.GRANTS``.

    ``user_path_arn`` is the ARN prefix of the tenant's people (``...:user/pilot/<customer>/``);
    admin gets user management below it and nowhere else.
    """
    capabilities = frozenset(capabilities)
    statements: list[dict] = []
    reads_data = writes_data = False
    for store in sorted(stores, key=lambda s: s.name):
        grants = granted_actions(store.kind, capabilities, store.holds_exports)
        for form, actions in grants.items():
            statements.append({"Sid": _sid(store.name, form), "Effect": "Allow", "Action": list(actions),
                               "Resource": _arns_for(store, form)})
            reads_data |= any(":Get" in a or ":List" in a or ":Filter" in a for a in actions)
            writes_data |= any(":Put" in a for a in actions)
    key_caps = set()
    if reads_data:
        key_caps.add(Capability.VIEW)
    if writes_data:
        key_caps.add(Capability.CHANGE)
    for form, actions in granted_actions("kms_key", key_caps).items():
        statements.append({"Sid": "UseTenantKey", "Effect": "Allow", "Action": list(actions),
                           "Resource": [key_arn]})
    for form, actions in granted_actions("iam_principal", capabilities).items():
        resources = [f"{user_path_arn}*"]
        if "iam:CreateVirtualMFADevice" in actions:
            resources.append(user_path_arn.replace(":user/", ":mfa/") + "*")
        statements.append({"Sid": "ManageTenantPeople", "Effect": "Allow", "Action": list(actions),
                           "Resource": resources})
    if not statements:
        raise ValueError("a role with no grantable capability would get an empty policy")
    return {"Version": VERSION, "Statement": statements}


def _deny_plain_http(bucket_arn: str) -> dict:
    return {
        "Sid": "DenyPlainHttp",
        "Effect": "Deny",
        "Principal": "*",
        "Action": "s3:*",
        "Resource": [bucket_arn, f"{bucket_arn}/*"],
        "Condition": {"Bool": {"aws:SecureTransport": "false"}},
    }


def store_bucket_policy(bucket_arn: str) -> dict:
    """Store buckets: TLS only. Access itself comes from the roles' identity policies."""
    return {"Version": VERSION, "Statement": [_deny_plain_http(bucket_arn)]}


def audit_bucket_policy(bucket_arn: str, trail_arn: str, account_id: str, customer: str,
                        partition: str = "aws") -> dict:
    """Audit bucket: CloudTrail may write; no tenant person or role may delete or weaken it."""
    tenant_principals = [
        f"arn:{partition}:iam::{account_id}:role{naming.iam_path(customer)}*",
        f"arn:{partition}:iam::{account_id}:user{naming.iam_path(customer)}*",
    ]
    return {
        "Version": VERSION,
        "Statement": [
            _deny_plain_http(bucket_arn),
            {
                "Sid": "CloudTrailReadsAcl",
                "Effect": "Allow",
                "Principal": {"Service": "cloudtrail.amazonaws.com"},
                "Action": "s3:GetBucketAcl",
                "Resource": bucket_arn,
                "Condition": {"StringEquals": {"aws:SourceArn": trail_arn}},
            },
            {
                "Sid": "CloudTrailWritesLogs",
                "Effect": "Allow",
                "Principal": {"Service": "cloudtrail.amazonaws.com"},
                "Action": "s3:PutObject",
                "Resource": f"{bucket_arn}/AWSLogs/{account_id}/*",
                "Condition": {"StringEquals": {"s3:x-amz-acl": "bucket-owner-full-control",
                                               "aws:SourceArn": trail_arn}},
            },
            {
                "Sid": "TenantCannotDeleteAudit",
                "Effect": "Deny",
                "Principal": "*",
                "Action": ["s3:DeleteObject", "s3:DeleteObjectVersion", "s3:DeleteBucket",
                           "s3:PutLifecycleConfiguration", "s3:PutBucketPolicy", "s3:DeleteBucketPolicy",
                           "s3:PutBucketVersioning", "s3:PutObjectRetention", "s3:BypassGovernanceRetention"],
                "Resource": [bucket_arn, f"{bucket_arn}/*"],
                "Condition": {"ArnLike": {"aws:PrincipalArn": tenant_principals}},
            },
        ],
    }


def key_policy(account_id: str, region: str, customer: str, partition: str = "aws") -> dict:
    """Tenant key: IAM policies of the account decide (the roles' grants), plus the services that encrypt."""
    root = f"arn:{partition}:iam::{account_id}:root"
    return {
        "Version": VERSION,
        "Statement": [
            {
                "Sid": "AccountIamPoliciesDecide",
                "Effect": "Allow",
                "Principal": {"AWS": root},
                "Action": "kms:*",
                "Resource": "*",
            },
            {
                "Sid": "CloudTrailEncryptsLogs",
                "Effect": "Allow",
                "Principal": {"Service": "cloudtrail.amazonaws.com"},
                "Action": ["kms:GenerateDataKey*", "kms:DescribeKey"],
                "Resource": "*",
                "Condition": {"StringLike": {
                    "kms:EncryptionContext:aws:cloudtrail:arn": f"arn:{partition}:cloudtrail:*:{account_id}:trail/*"}},
            },
            {
                "Sid": "CloudWatchLogsEncryptsTenantGroups",
                "Effect": "Allow",
                "Principal": {"Service": f"logs.{region}.amazonaws.com"},
                "Action": ["kms:Encrypt", "kms:Decrypt", "kms:ReEncrypt*", "kms:GenerateDataKey*",
                           "kms:DescribeKey"],
                "Resource": "*",
                "Condition": {"ArnLike": {"kms:EncryptionContext:aws:logs:arn":
                                          f"arn:{partition}:logs:{region}:{account_id}:log-group:/pilot/{customer}/*"}},
            },
        ],
    }


def trail_delivery_policy(log_group_arn: str) -> dict:
    """Return the policy CloudTrail needs to write into the audit log group, and nothing more."""
    return {
        "Version": VERSION,
        "Statement": [{"Sid": "DeliverTrailEvents", "Effect": "Allow",
                       "Action": ["logs:CreateLogStream", "logs:PutLogEvents"],
                       "Resource": [f"{log_group_arn}:log-stream:*"]}],
    }
