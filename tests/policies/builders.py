"""Small hand-made tenants for rule tests: a pilot spec, inventory records and access matrix cells.

``tenant()`` returns a compliant tenant shaped like what the Pulumi program deploys
for the ``acme`` spec below. Its store buckets are versioned with a 76 + 7 day
lifecycle, SSE-KMS, a public access block and a TLS-only policy. It also has a log
group with 30-day retention and a 7-day backup plan.

``secured_tenant()`` adds the rest of the program's tenant: the KMS key, the trail
with its audit bucket and log group, the backup vault, and the people's users and
roles with the policies ``infra.documents`` writes. Tests change one thing and check
that the rule notices.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping
from typing import Any

from datamap.inventory import Inventory, Resource
from datamap.matrix import AccessCell, AccessMatrix, StatementRef
from infra import documents, naming, tags
from infra.capabilities import Capability
from infra.spec import PilotSpec, parse_spec
from policies.context import CheckContext

ACCOUNT = "111122223333"
CUSTOMER = "acme"
REGION = "eu-west-1"
TODAY = dt.date(2027, 2, 1)
VERSIONED = {"Status": "Enabled", "MFADelete": "Disabled"}
DEFAULT = object()  # marks "use the builder's default" where None is a meaningful value
KEY_ID = "1234abcd-12ab-34cd-56ef-1234567890ab"
KEY_ARN = f"arn:aws:kms:{REGION}:{ACCOUNT}:key/{KEY_ID}"
AUDIT_BUCKET = naming.audit_bucket(CUSTOMER, ACCOUNT)
TRAIL_ARN = f"arn:aws:cloudtrail:{REGION}:{ACCOUNT}:trail/{naming.trail(CUSTOMER)}"
PAB_ON = {"BlockPublicAcls": True, "IgnorePublicAcls": True, "BlockPublicPolicy": True, "RestrictPublicBuckets": True}


def spec_config(**overrides: Any) -> dict[str, Any]:
    config = {
        "customer": CUSTOMER,
        "region": REGION,
        "dates": {"start": "2027-01-11", "end": "2027-04-09", "retentionDaysAfterEnd": 30},
        "roles": [
            {"name": "recorder", "capabilities": ["view", "change"]},
            {"name": "reporting", "capabilities": ["view", "export"]},
            {"name": "it-admin", "capabilities": ["admin"]},
        ],
        "people": [
            {"id": "ana.silva", "name": "Ana Silva", "role": "recorder"},
            {"id": "grace.lee", "name": "Grace Lee", "role": "reporting"},
            {"id": "hugo.berg", "name": "Hugo Berg", "role": "it-admin"},
        ],
        "stores": [
            {"name": "records", "kind": "s3", "classification": "confidential", "retentionDays": 90,
             "backup": True},
            {"name": "reports", "kind": "s3", "classification": "confidential", "retentionDays": 30,
             "backup": False, "holdsExports": True},
            {"name": "app-logs", "kind": "log_group", "classification": "internal", "retentionDays": 30,
             "backup": False},
        ],
        "audit": {"retentionDays": 365},
        "owners": {"permissions": "Hugo Berg <hugo.berg@acme.example>", "auditLogs": "Mara Quinn <mara@vendor.example>",
                   "support": "Tom Reyes <tom@vendor.example>", "data": "Grace Lee <grace.lee@acme.example>"},
        "support": {"channel": "support@vendor.example", "firstReplyHours": 4, "updateHours": 24},
    }
    config.update(overrides)
    return config


def spec(**overrides: Any) -> PilotSpec:
    return parse_spec(spec_config(**overrides), "test-spec")


SPEC_STORES = {"records": (90, "confidential"), "reports": (30, "confidential"), "app-logs": (30, "internal")}


def store_tags(store: str, **changes: str | None) -> dict[str, str]:
    """Return the tags the program puts on a store; a change to None removes that tag."""
    days, classification = SPEC_STORES.get(store, (30, "internal"))
    values = {tags.CUSTOMER: CUSTOMER, tags.PURPOSE: "store", tags.STORE: store,
              tags.RETENTION_DAYS: str(days), tags.CLASSIFICATION: classification,
              tags.BACKUP: "true" if store == "records" else "false"}
    for key, value in changes.items():
        tag = getattr(tags, key.upper())
        if value is None:
            values.pop(tag, None)
        else:
            values[tag] = value
    return values


def lifecycle(current: int | None = 76, noncurrent: int | None = 7, filter_: Mapping | None = None,
              status: str = "Enabled") -> dict[str, Any]:
    """Return the program's lifecycle shape: one expiring rule and one delete-marker rule."""
    main: dict[str, Any] = {"ID": "expire", "Filter": dict(filter_ or {}), "Status": status,
                            "AbortIncompleteMultipartUpload": {"DaysAfterInitiation": 1}}
    if current is not None:
        main["Expiration"] = {"Days": current}
    if noncurrent is not None:
        main["NoncurrentVersionExpiration"] = {"NoncurrentDays": noncurrent}
    markers = {"ID": "remove-expired-delete-markers", "Filter": {}, "Status": "Enabled",
               "Expiration": {"ExpiredObjectDeleteMarker": True}}
    return {"Rules": [main, markers]}


def sse_kms(key: str | None = KEY_ARN, algorithm: str = "aws:kms") -> dict[str, Any]:
    """Return a bucket's default encryption as get_bucket_encryption returns it."""
    default: dict[str, Any] = {"SSEAlgorithm": algorithm}
    if key is not None:
        default["KMSMasterKeyID"] = key
    return {"Rules": [{"ApplyServerSideEncryptionByDefault": default, "BucketKeyEnabled": True}]}


def bucket(store: str = "records", *, resource_tags: Mapping[str, str] | None = None, lifecycle_config: Any = DEFAULT,
           versioning: Any = DEFAULT, lock: Any = None, errors: Mapping[str, str] | None = None,
           name: str | None = None, encryption: Any = DEFAULT, public_access: Any = DEFAULT,
           policy: Any = DEFAULT) -> Resource:
    name = name or naming.bucket(CUSTOMER, store, ACCOUNT)
    attributes = {"Name": name, "Region": REGION,
                  "Versioning": VERSIONED if versioning is DEFAULT else versioning,
                  "LifecycleConfiguration": lifecycle() if lifecycle_config is DEFAULT else lifecycle_config,
                  "ObjectLockConfiguration": lock, "ReplicationConfiguration": None, "Logging": None,
                  "Encryption": sse_kms() if encryption is DEFAULT else encryption,
                  "PublicAccessBlock": dict(PAB_ON) if public_access is DEFAULT else public_access,
                  "Policy": documents.store_bucket_policy(naming.bucket_arn(name)) if policy is DEFAULT else policy}
    for key in errors or {}:
        attributes.pop(key, None)
    return Resource(kind="s3_bucket", arn=naming.bucket_arn(name), name=name, region=REGION,
                    tags=store_tags(store) if resource_tags is None else resource_tags,
                    attributes=attributes, errors=errors or {})


def log_group(store: str = "app-logs", retention: int | None = 30, *, resource_tags: Mapping[str, str] | None = None,
              name: str | None = None, errors: Mapping[str, str] | None = None, kms_key: str | None = KEY_ARN
              ) -> Resource:
    name = name or naming.log_group(CUSTOMER, store)
    attributes: dict[str, Any] = {"logGroupName": name, "kmsKeyId": kms_key}
    if retention is not None:
        attributes["retentionInDays"] = retention
    return Resource(kind="log_group", arn=naming.log_group_arn(REGION, ACCOUNT, name), name=name, region=REGION,
                    tags=store_tags(store) if resource_tags is None else resource_tags,
                    attributes=attributes, errors=errors or {})


def backup_rule(delete_after: int | None = 7, name: str = "daily", copies: Iterable[Mapping] = (),
                continuous: bool = False) -> dict[str, Any]:
    out: dict[str, Any] = {"RuleName": name, "TargetBackupVaultName": f"pilot-{CUSTOMER}",
                           "EnableContinuousBackup": continuous}
    if delete_after is not None:
        out["Lifecycle"] = {"DeleteAfterDays": delete_after}
    if copies:
        out["CopyActions"] = list(copies)
    return out


def tag_selection(*pairs: tuple[str, str]) -> dict[str, Any]:
    return {"SelectionName": "tagged", "IamRoleArn": f"arn:aws:iam::{ACCOUNT}:role/backup",
            "ListOfTags": [{"ConditionType": "STRINGEQUALS", "ConditionKey": k, "ConditionValue": v}
                           for k, v in pairs]}


def backup_plan(*rules: Mapping[str, Any], selections: Any = DEFAULT,
                errors: Mapping[str, str] | None = None) -> Resource:
    attributes: dict[str, Any] = {"BackupPlanId": "plan-1", "BackupPlanName": f"pilot-{CUSTOMER}",
                                  "Rules": list(rules) or [backup_rule()]}
    if selections is DEFAULT:
        attributes["Selections"] = [tag_selection((tags.BACKUP, "true"))]
    elif selections is not None:
        attributes["Selections"] = selections
    for key in errors or {}:
        attributes.pop(key, None)
    return Resource(kind="backup_plan", arn=f"arn:aws:backup:{REGION}:{ACCOUNT}:backup-plan:plan-1",
                    name=f"pilot-{CUSTOMER}", region=REGION, tags={tags.CUSTOMER: CUSTOMER},
                    attributes=attributes, errors=errors or {})


def statement(sid: str, actions: Any, resources: Any, effect: str = "Allow", **extra: Any) -> dict[str, Any]:
    return {"Sid": sid, "Effect": effect, "Action": actions, "Resource": resources, **extra}


def document(*statements: Mapping[str, Any]) -> dict[str, Any]:
    return {"Version": "2012-10-17", "Statement": list(statements)}


def role(name: str, inline: Mapping[str, Any] | None = None, errors: Mapping[str, str] | None = None,
         trust: Mapping[str, Any] | None = None, full_name: str | None = None) -> Resource:
    full = full_name or naming.role(CUSTOMER, name)
    attributes: dict[str, Any] = {"RoleName": full, "Path": naming.iam_path(CUSTOMER), "AttachedPolicies": [],
                                  "AssumeRolePolicyDocument": trust, "PermissionsBoundary": None}
    if not errors or "InlinePolicies" not in errors:
        attributes["InlinePolicies"] = dict(inline or {})
    role_tags = {tags.CUSTOMER: CUSTOMER} if full_name else {tags.CUSTOMER: CUSTOMER, tags.ROLE: name}
    return Resource(kind="iam_role", arn=naming.role_arn(ACCOUNT, CUSTOMER, full), name=full,
                    tags=role_tags, attributes=attributes, errors=errors or {})


def user(person: str, inline: Mapping[str, Any] | None = None,
         group_policies: Mapping[str, Any] | None = None, *, name: str | None = None,
         resource_tags: Mapping[str, str] | None = None) -> Resource:
    """Return a person's IAM user; ``person`` "" gives a user without a pilot:person tag."""
    full = name or naming.user(CUSTOMER, person)
    attributes = {"UserName": full, "Path": naming.iam_path(CUSTOMER), "InlinePolicies": dict(inline or {}),
                  "AttachedPolicies": [], "GroupPolicies": dict(group_policies or {}),
                  "Groups": list(group_policies or {}), "PermissionsBoundary": None, "LoginProfile": True,
                  "AccessKeys": 0}
    user_tags = {tags.CUSTOMER: CUSTOMER, **({tags.PERSON: person} if person else {})}
    return Resource(kind="iam_user", arn=naming.user_arn(ACCOUNT, CUSTOMER, full), name=full,
                    tags=user_tags if resource_tags is None else resource_tags, attributes=attributes)


def managed_policy(name: str, policy_document: Any, arn: str | None = None) -> Resource:
    return Resource(kind="iam_policy", arn=arn or f"arn:aws:iam::{ACCOUNT}:policy/{name}", name=name,
                    attributes={"PolicyName": name, "Document": policy_document})


def tenant_parts() -> dict[str, Resource]:
    return {"records": bucket("records"),
            "reports": bucket("reports", lifecycle_config=lifecycle(23, 7)),
            "app-logs": log_group("app-logs", 30),
            "plan": backup_plan()}


def tenant(*extra: Resource, replace: Mapping[str, Resource] | None = None) -> tuple[Resource, ...]:
    """Return the compliant tenant's resources; ``replace`` swaps one by key (records, reports, app-logs, plan)."""
    parts = tenant_parts()
    parts.update(replace or {})
    return tuple(parts.values()) + extra


def tenant_key(**changes: Any) -> Resource:
    attributes = {"KeyId": KEY_ID, "Policy": documents.key_policy(ACCOUNT, REGION, CUSTOMER),
                  "KeyRotationEnabled": True, "KeyState": "Enabled", "Aliases": [naming.key_alias(CUSTOMER)]}
    attributes.update(changes)
    return Resource(kind="kms_key", arn=KEY_ARN, name=naming.key_alias(CUSTOMER), region=REGION,
                    tags={tags.CUSTOMER: CUSTOMER, tags.PURPOSE: "key"}, attributes=attributes)


def data_events(*values: str, kind: str = "All") -> dict[str, Any]:
    """Return a basic event selector recording S3 data events on ``values`` (default: both store buckets)."""
    values = values or tuple(f"{STORE_ARNS[s]}/" for s in ("records", "reports"))
    return {"ReadWriteType": kind, "IncludeManagementEvents": True, "ExcludeManagementEventSources": [],
            "DataResources": [{"Type": "AWS::S3::Object", "Values": list(values)}]}


def trail(errors: Mapping[str, str] | None = None, region: str = REGION, **changes: Any) -> Resource:
    """Return the program's trail; keyword arguments replace attributes, ``errors`` marks them unread."""
    name = naming.trail(CUSTOMER)
    attributes = {"Name": name, "S3BucketName": AUDIT_BUCKET, "LogFileValidationEnabled": True, "IsLogging": True,
                  "IsMultiRegionTrail": True, "KmsKeyId": KEY_ARN, "EventSelectors": [data_events()],
                  "AdvancedEventSelectors": [],
                  "CloudWatchLogsLogGroupArn": naming.log_group_arn(REGION, ACCOUNT, naming.audit_log_group(CUSTOMER))}
    attributes.update(changes)
    for key in errors or {}:
        attributes.pop(key, None)
    return Resource(kind="cloudtrail_trail", arn=TRAIL_ARN, name=name, region=region,
                    tags={tags.CUSTOMER: CUSTOMER, tags.PURPOSE: "audit"}, attributes=attributes,
                    errors=errors or {})


def audit_bucket(**changes: Any) -> Resource:
    """Return the program's audit bucket: 358 + 7 day lifecycle and the policy that protects it."""
    arn = naming.bucket_arn(AUDIT_BUCKET)
    options: dict[str, Any] = {"lifecycle_config": lifecycle(358, 7),
                               "policy": documents.audit_bucket_policy(arn, TRAIL_ARN, ACCOUNT, CUSTOMER)}
    options.update(changes)
    audit_tags = {tags.CUSTOMER: CUSTOMER, tags.PURPOSE: "audit", tags.RETENTION_DAYS: "365",
                  tags.CLASSIFICATION: "confidential"}
    return bucket("audit", name=AUDIT_BUCKET, resource_tags=audit_tags, **options)


def vault(key: str | None = KEY_ARN) -> Resource:
    return Resource(kind="backup_vault", arn=f"arn:aws:backup:{REGION}:{ACCOUNT}:backup-vault:pilot-{CUSTOMER}",
                    name=f"pilot-{CUSTOMER}", region=REGION, tags={tags.CUSTOMER: CUSTOMER, tags.PURPOSE: "backup"},
                    attributes={"BackupVaultName": f"pilot-{CUSTOMER}", "EncryptionKeyArn": key, "Locked": False,
                                "MinRetentionDays": None, "MaxRetentionDays": None})


def people_and_roles() -> dict[str, Resource]:
    """Return a user per spec person and a role per spec role, with the policies the program writes."""
    the_spec = spec()
    user_arns = {p.id: naming.user_arn(ACCOUNT, CUSTOMER, naming.user(CUSTOMER, p.id)) for p in the_spec.people}
    role_arns = {r.name: naming.role_arn(ACCOUNT, CUSTOMER, naming.role(CUSTOMER, r.name)) for r in the_spec.roles}
    stores = [documents.StoreRef(s.name, s.kind, STORE_ARNS[s.name], s.holds_exports) for s in the_spec.stores]
    user_path = f"arn:aws:iam::{ACCOUNT}:user{naming.iam_path(CUSTOMER)}"
    parts = {}
    for person in the_spec.people:
        parts[f"user {person.id}"] = user(person.id, {
            "assume-own-role": documents.assume_own_role_policy(role_arns[person.role])})
    for spec_role in the_spec.roles:
        trust = documents.role_trust_policy([user_arns[p.id] for p in the_spec.people_in(spec_role.name)])
        access = documents.role_access_policy(spec_role.capabilities, stores, KEY_ARN, user_path)
        parts[f"role {spec_role.name}"] = role(spec_role.name, {"pilot-access": access}, trust=trust)
    return parts


def secured_tenant(*extra: Resource, replace: Mapping[str, Resource] | None = None) -> tuple[Resource, ...]:
    """Return the whole compliant tenant; ``replace`` swaps a part by key, such as "trail" or "user ana.silva"."""
    parts = {**tenant_parts(), "key": tenant_key(), "trail": trail(), "audit": audit_bucket(),
             "audit-logs": log_group("audit", 365, name=naming.audit_log_group(CUSTOMER), resource_tags={
                 tags.CUSTOMER: CUSTOMER, tags.PURPOSE: "audit", tags.RETENTION_DAYS: "365"}),
             "vault": vault(), **people_and_roles()}
    parts.update(replace or {})
    return tuple(parts.values()) + extra


def inventory(*resources: Resource, errors: Iterable[str] = ()) -> Inventory:
    return Inventory(customer=CUSTOMER, account_id=ACCOUNT, source="plan", resources=tuple(resources),
                     region=REGION, errors=tuple(errors))


STORE_ARNS = {"records": naming.bucket_arn(naming.bucket(CUSTOMER, "records", ACCOUNT)),
              "reports": naming.bucket_arn(naming.bucket(CUSTOMER, "reports", ACCOUNT)),
              "app-logs": naming.log_group_arn(REGION, ACCOUNT, naming.log_group(CUSTOMER, "app-logs"))}


def cell(person: str, store: str, capability: str, status: str = "allow", role_name: str = "",
         principal: str | None = None, sid: str = "Grant", conditions: Iterable[str] = ()) -> AccessCell:
    principal = principal or (naming.user_arn(ACCOUNT, CUSTOMER, naming.user(CUSTOMER, person)) if person
                              else naming.role_arn(ACCOUNT, CUSTOMER, naming.role(CUSTOMER, role_name)))
    return AccessCell(principal_arn=principal, person=person, role=role_name,
                      resource_arn=STORE_ARNS.get(store, f"arn:aws:kms:{REGION}:{ACCOUNT}:key/{store}"),
                      resource_name=store, capability=Capability(capability), status=status,
                      actions=("s3:GetObject",), statements=(StatementRef("role policy access", sid, "Allow"),),
                      unknown_conditions=tuple(conditions))


def matrix(*cells: AccessCell, unclassified: Iterable[str] = ()) -> AccessMatrix:
    return AccessMatrix(customer=CUSTOMER, cells=tuple(cells), unclassified_actions=tuple(unclassified))


def compliant_cells() -> tuple[AccessCell, ...]:
    """Return cells where everybody has exactly their role's capabilities."""
    return (cell("ana.silva", "records", "view"), cell("ana.silva", "records", "change"),
            cell("grace.lee", "records", "view"), cell("grace.lee", "reports", "export"),
            cell("hugo.berg", "hugo-user-admin", "admin"),
            cell("", "records", "view", role_name="recorder"))


def context(resources: Iterable[Resource] | None = None, *, the_spec: Any = DEFAULT, the_matrix: Any = DEFAULT,
            errors: Iterable[str] = (), today: dt.date = TODAY) -> CheckContext:
    return CheckContext(inventory=inventory(*(tenant() if resources is None else resources), errors=errors),
                        spec=spec() if the_spec is DEFAULT else the_spec,
                        matrix=matrix(*compliant_cells()) if the_matrix is DEFAULT else the_matrix,
                        today=today)
