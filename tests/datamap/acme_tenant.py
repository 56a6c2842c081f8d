"""A hand-built pilot-sized tenant for the graph, diagram and data map tests.

The tenant mirrors what the Pulumi program deploys for a customer "acme": 8 people,
3 roles, stores records (S3), reports (S3, contains exports) and app-logs (log group),
one KMS key, a backup vault and plan, a trail with its audit bucket and log group,
plus an access-log bucket and a same-region replica of records. Attribute shapes
follow datamap/inventory.py (boto3 field names).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any

from datamap.inventory import Inventory, Resource
from datamap.matrix import AccessCell, AccessMatrix, StatementRef
from infra import tags
from infra.capabilities import Capability
from infra.spec import PilotSpec, parse_spec

ACCOUNT = "111122223333"
REGION = "eu-west-1"
KEY_ID = "0d6f1c2a-5b7e-4c1d-9a3f-2e8b7c6d5a41"
KEY_ARN = f"arn:aws:kms:{REGION}:{ACCOUNT}:key/{KEY_ID}"
PEOPLE = {
    "ana.silva": ("Ana Silva", "recorder"), "ben.okafor": ("Ben Okafor", "recorder"),
    "chloe.martin": ("Chloe Martin", "recorder"), "dev.patel": ("Dev Patel", "recorder"),
    "eva.novak": ("Eva Novak", "recorder"), "farid.haddad": ("Farid Haddad", "recorder"),
    "grace.lee": ("Grace Lee", "reporting"), "hugo.berg": ("Hugo Berg", "it-admin"),
}


def user_arn(person: str) -> str:
    return f"arn:aws:iam::{ACCOUNT}:user/pilot/acme/acme-{person}"


def role_arn(role: str) -> str:
    return f"arn:aws:iam::{ACCOUNT}:role/pilot/acme/acme-{role}"


def bucket_arn(name: str) -> str:
    return f"arn:aws:s3:::acme-{name}-{ACCOUNT}"


def log_group_arn(name: str) -> str:
    return f"arn:aws:logs:{REGION}:{ACCOUNT}:log-group:/pilot/acme/{name}"


VAULT_ARN = f"arn:aws:backup:{REGION}:{ACCOUNT}:backup-vault:pilot-acme"
PLAN_ARN = f"arn:aws:backup:{REGION}:{ACCOUNT}:backup-plan:6a1e0f3c-plan"
TRAIL_ARN = f"arn:aws:cloudtrail:{REGION}:{ACCOUNT}:trail/pilot-acme"
STORE_ARNS = {"records": bucket_arn("records"), "reports": bucket_arn("reports"), "app-logs": log_group_arn("app-logs")}


def spec_config() -> dict[str, Any]:
    """Return the acme pilot spec as decoded ``pilot:*`` config values."""
    return {
        "customer": "acme", "region": REGION,
        "dates": {"start": "2027-01-11", "end": "2027-04-09", "retentionDaysAfterEnd": 30},
        "roles": [
            {"name": "recorder", "capabilities": ["view", "change"], "description": "Enters shipment records"},
            {"name": "reporting", "capabilities": ["view", "export"], "description": "Exports weekly reports"},
            {"name": "it-admin", "capabilities": ["admin"], "description": "Manages user accounts"},
        ],
        "people": [{"id": pid, "name": name, "role": role} for pid, (name, role) in PEOPLE.items()],
        "stores": [
            {"name": "records", "kind": "s3", "classification": "confidential", "retentionDays": 90,
             "backup": True, "description": "Shipment records entered by the operations team"},
            {"name": "reports", "kind": "s3", "classification": "confidential", "retentionDays": 30,
             "backup": False, "holdsExports": True, "description": "Weekly report exports"},
            {"name": "app-logs", "kind": "log_group", "classification": "internal", "retentionDays": 30,
             "backup": False, "description": "Application logs of the pilot service"},
        ],
        "audit": {"retentionDays": 365},
        "owners": {"permissions": "Hugo Berg <hugo.berg@acme.example>",
                   "auditLogs": "Mara Quinn <security@vendor.example>",
                   "support": "Tom Reyes <support@vendor.example>",
                   "data": "Grace Lee <grace.lee@acme.example>"},
        "support": {"channel": "support@vendor.example", "firstReplyHours": 4, "updateHours": 24},
    }


def _tags(purpose: str, **extra: str) -> dict[str, str]:
    return {tags.CUSTOMER: "acme", tags.PURPOSE: purpose, **extra}


def _kms_encryption() -> dict[str, Any]:
    return {"Rules": [{"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "aws:kms", "KMSMasterKeyID": KEY_ARN},
                       "BucketKeyEnabled": True}]}


def _lifecycle(current: int, noncurrent: int | None) -> dict[str, Any]:
    rule: dict[str, Any] = {"ID": f"expire-after-{current}", "Status": "Enabled", "Filter": {},
                            "Expiration": {"Days": current}}
    if noncurrent is not None:
        rule["NoncurrentVersionExpiration"] = {"NoncurrentDays": noncurrent}
    return {"Rules": [rule]}


def _bucket(name: str, resource_tags: dict[str, str], lifecycle: dict | None, encryption: dict | None,
            **extra: Any) -> Resource:
    attributes = {"Name": f"acme-{name}-{ACCOUNT}", "Region": REGION, "Versioning": {"Status": "Enabled"},
                  "LifecycleConfiguration": lifecycle, "Encryption": encryption, "Policy": None,
                  "PublicAccessBlock": None, "ReplicationConfiguration": None, "Logging": None,
                  "ObjectLockConfiguration": None}
    attributes.update(extra)
    return Resource("s3_bucket", bucket_arn(name), f"acme-{name}-{ACCOUNT}", REGION, resource_tags, attributes)


def _store_tags(store: str, classification: str, backup: bool) -> dict[str, str]:
    return _tags("store", **{tags.STORE: store, tags.CLASSIFICATION: classification,
                             tags.BACKUP: "true" if backup else "false"})


def resources() -> list[Resource]:
    """Return every resource record of the acme tenant."""
    found = []
    for pid, (_, role) in PEOPLE.items():
        assume = {"Statement": [{"Effect": "Allow", "Action": "sts:AssumeRole", "Resource": role_arn(role)}]}
        found.append(Resource("iam_user", user_arn(pid), f"acme-{pid}", "", _tags("access", **{
            tags.PERSON: pid, tags.ROLE: role}), {"UserName": f"acme-{pid}", "Path": "/pilot/acme/",
                                                  "InlinePolicies": {"assume-own-role": assume}}))
    for role in ("recorder", "reporting", "it-admin"):
        members = sorted(user_arn(p) for p, (_, r) in PEOPLE.items() if r == role)
        trust = {"Statement": [{"Effect": "Allow", "Principal": {"AWS": members}, "Action": "sts:AssumeRole",
                                "Condition": {"Bool": {"aws:MultiFactorAuthPresent": "true"}}}]}
        found.append(Resource("iam_role", role_arn(role), f"acme-{role}", "", _tags("access", **{tags.ROLE: role}),
                              {"RoleName": f"acme-{role}", "AssumeRolePolicyDocument": trust}))
    found.append(Resource("iam_role", f"arn:aws:iam::{ACCOUNT}:role/pilot/acme/service/acme-backup-service",
                          "acme-backup-service", "", _tags("backup"), {"RoleName": "acme-backup-service"}))
    found.append(Resource("kms_key", KEY_ARN, KEY_ID, REGION, _tags("key"),
                          {"KeyId": KEY_ID, "Description": "Encrypts pilot data of customer acme",
                           "KeyRotationEnabled": True, "KeyState": "Enabled"}))
    replication = {"Role": "arn:aws:iam::111122223333:role/replication", "Rules": [
        {"ID": "copy-all", "Status": "Enabled", "Priority": 1, "Filter": {},
         "Destination": {"Bucket": bucket_arn("records-replica")}}]}
    logging = {"TargetBucket": f"acme-access-logs-{ACCOUNT}", "TargetPrefix": "records/"}
    found += [
        _bucket("records", _store_tags("records", "confidential", True), _lifecycle(83, 7), _kms_encryption(),
                ReplicationConfiguration=replication, Logging=logging),
        _bucket("reports", _store_tags("reports", "confidential", False), _lifecycle(23, 7), _kms_encryption()),
        _bucket("audit", _tags("audit"), _lifecycle(358, 7), _kms_encryption()),
        _bucket("access-logs", _tags("access-logs"), _lifecycle(30, None),
                {"Rules": [{"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"}}]},
                Versioning={}),
        _bucket("records-replica", _tags("replica"), _lifecycle(83, 7), _kms_encryption()),
        Resource("log_group", STORE_ARNS["app-logs"], "/pilot/acme/app-logs", REGION,
                 _store_tags("app-logs", "internal", False),
                 {"logGroupName": "/pilot/acme/app-logs", "retentionInDays": 30, "kmsKeyId": KEY_ARN}),
        Resource("log_group", log_group_arn("audit-trail"), "/pilot/acme/audit-trail", REGION, _tags("audit"),
                 {"logGroupName": "/pilot/acme/audit-trail", "retentionInDays": 365, "kmsKeyId": KEY_ARN}),
        Resource("backup_vault", VAULT_ARN, "pilot-acme", REGION, _tags("backup"),
                 {"BackupVaultName": "pilot-acme", "EncryptionKeyArn": KEY_ARN, "Locked": False}),
        Resource("backup_plan", PLAN_ARN, "pilot-acme", REGION, _tags("backup"), {
            "BackupPlanId": "6a1e0f3c-plan", "BackupPlanName": "pilot-acme",
            "Rules": [{"RuleName": "daily", "TargetBackupVaultName": "pilot-acme",
                       "ScheduleExpression": "cron(0 3 * * ? *)", "Lifecycle": {"DeleteAfterDays": 30}}],
            "Selections": [{"SelectionName": "pilot-acme-tagged", "IamRoleArn": "arn:aws:iam::1:role/x",
                            "ListOfTags": [{"ConditionType": "STRINGEQUALS", "ConditionKey": tags.BACKUP,
                                            "ConditionValue": "true"}],
                            "Conditions": {"StringEquals": [{"ConditionKey": f"aws:ResourceTag/{tags.CUSTOMER}",
                                                             "ConditionValue": "acme"}]}}]}),
        Resource("cloudtrail_trail", TRAIL_ARN, "pilot-acme", REGION, _tags("audit"), {
            "Name": "pilot-acme", "S3BucketName": f"acme-audit-{ACCOUNT}", "LogFileValidationEnabled": True,
            "IsLogging": True, "IsMultiRegionTrail": True, "KmsKeyId": KEY_ARN,
            "CloudWatchLogsLogGroupArn": log_group_arn("audit-trail") + ":*", "AdvancedEventSelectors": [],
            "EventSelectors": [{"ReadWriteType": "All", "IncludeManagementEvents": True, "DataResources": [
                {"Type": "AWS::S3::Object",
                 "Values": [bucket_arn("records") + "/", bucket_arn("reports") + "/"]}]}]}),
        # An AWS managed policy the scanner read for evaluation: not the tenant's, so not a node.
        Resource("iam_policy", "arn:aws:iam::aws:policy/AWSBackupServiceRolePolicyForBackup",
                 "AWSBackupServiceRolePolicyForBackup", "", {}, {"PolicyName": "AWSBackupServiceRolePolicyForBackup"}),
    ]
    return found


def statement(role: str, sid: str, text: str = "") -> StatementRef:
    return StatementRef(f"role acme-{role} inline policy pilot-access", sid, "Allow", text)


def cell(person: str, store: str, capability: str, sid: str, status: str = "allow",
         conditions: tuple[str, ...] = ()) -> AccessCell:
    """Return the cell of one person's capability on a store, reached through their role."""
    role = PEOPLE[person][1]
    return AccessCell(principal_arn=user_arn(person), person=person, role=role,
                      resource_arn=STORE_ARNS.get(store, store), resource_name=store,
                      capability=Capability(capability), status=status, actions=(f"{capability}-actions",),
                      statements=(statement(role, sid),), unknown_conditions=conditions,
                      via=f"assumes role acme-{role}")


def cells() -> list[AccessCell]:
    """Return the access matrix cells: per person, as the evaluator reports them."""
    found = []
    for person, (_, role) in PEOPLE.items():
        if role == "recorder":
            found += [cell(person, "records", "view", "ViewRecords"),
                      cell(person, "records", "change", "ChangeRecords"),
                      cell(person, "app-logs", "view", "ViewAppLogs")]
    found += [
        cell("grace.lee", "records", "view", "ViewRecords"),
        cell("grace.lee", "reports", "export", "ExportReports"),
        cell("grace.lee", "app-logs", "view", "ViewAppLogs", status="unknown",
             conditions=("aws:SourceIp (IpAddress)",)),
        cell("hugo.berg", "records", "admin", "AdminRecords"),
        cell("hugo.berg", "records", "delete", "DeleteRecords"),
        cell("hugo.berg", "reports", "admin", "AdminReports"),
        cell("hugo.berg", "app-logs", "admin", "AdminAppLogs"),
    ]
    found += [cell("hugo.berg", user_arn(p), "admin", "ManagePeople") for p in PEOPLE]
    return found


@dataclasses.dataclass(frozen=True)
class Tenant:
    spec: PilotSpec
    inventory: Inventory
    matrix: AccessMatrix

    def with_resource(self, arn: str, attributes: Mapping[str, Any] | None = None,
                      errors: Mapping[str, str] | None = None, resource_tags: Mapping[str, str] | None = None,
                      ) -> Tenant:
        """Return a copy whose resource ``arn`` has some attributes, errors or tags replaced."""
        changed = []
        for resource in self.inventory.resources:
            if resource.arn == arn:
                new_attributes = {k: v for k, v in resource.attributes.items() if k not in (errors or {})}
                new_attributes.update(attributes or {})
                resource = dataclasses.replace(resource, attributes=new_attributes, errors=dict(errors or {}),
                                               tags=dict(resource_tags if resource_tags is not None else resource.tags))
            changed.append(resource)
        return dataclasses.replace(self, inventory=dataclasses.replace(self.inventory, resources=tuple(changed)))

    def with_cells(self, new_cells: list[AccessCell]) -> Tenant:
        return dataclasses.replace(self, matrix=dataclasses.replace(self.matrix, cells=tuple(new_cells)))


def make_tenant() -> Tenant:
    spec = parse_spec(spec_config(), "test-acme")
    inventory = Inventory(customer="acme", account_id=ACCOUNT, source="live", resources=tuple(resources()),
                          region=REGION, taken_at="2027-02-01T10:00:00Z")
    matrix = AccessMatrix(customer="acme", cells=tuple(cells()),
                          assumptions=("requests use TLS", "people signed in with MFA"))
    return Tenant(spec, inventory, matrix)
