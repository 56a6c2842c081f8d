"""Small hand-made tenants for rule tests: a pilot spec, inventory records and access matrix cells.

``tenant()`` returns a compliant tenant shaped like what the Pulumi program deploys
for the ``acme`` spec below: versioned store buckets with an 83 + 7 day lifecycle,
a log group with 30-day retention and a 30-day backup plan. Tests change one thing
and check that the rule notices.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping
from typing import Any

from datamap.inventory import Inventory, Resource
from datamap.matrix import AccessCell, AccessMatrix, StatementRef
from infra import naming, tags
from infra.capabilities import Capability
from infra.spec import PilotSpec, parse_spec
from policies.context import CheckContext

ACCOUNT = "111122223333"
CUSTOMER = "acme"
REGION = "eu-west-1"
TODAY = dt.date(2027, 2, 1)
VERSIONED = {"Status": "Enabled", "MFADelete": "Disabled"}
DEFAULT = object()  # marks "use the builder's default" where None is a meaningful value


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
        "owners": {"permissions": "Hugo", "auditLogs": "Mara", "support": "Tom", "data": "Grace"},
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


def lifecycle(current: int | None = 83, noncurrent: int | None = 7, filter_: Mapping | None = None,
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


def bucket(store: str = "records", *, resource_tags: Mapping[str, str] | None = None, lifecycle_config: Any = DEFAULT,
           versioning: Any = DEFAULT, lock: Any = None, errors: Mapping[str, str] | None = None,
           name: str | None = None) -> Resource:
    name = name or naming.bucket(CUSTOMER, store, ACCOUNT)
    attributes = {"Name": name, "Region": REGION,
                  "Versioning": VERSIONED if versioning is DEFAULT else versioning,
                  "LifecycleConfiguration": lifecycle() if lifecycle_config is DEFAULT else lifecycle_config,
                  "ObjectLockConfiguration": lock, "ReplicationConfiguration": None}
    for key in errors or {}:
        attributes.pop(key, None)
    return Resource(kind="s3_bucket", arn=naming.bucket_arn(name), name=name, region=REGION,
                    tags=store_tags(store) if resource_tags is None else resource_tags,
                    attributes=attributes, errors=errors or {})


def log_group(store: str = "app-logs", retention: int | None = 30, *, resource_tags: Mapping[str, str] | None = None,
              name: str | None = None, errors: Mapping[str, str] | None = None) -> Resource:
    name = name or naming.log_group(CUSTOMER, store)
    attributes: dict[str, Any] = {"logGroupName": name}
    if retention is not None:
        attributes["retentionInDays"] = retention
    return Resource(kind="log_group", arn=naming.log_group_arn(REGION, ACCOUNT, name), name=name, region=REGION,
                    tags=store_tags(store) if resource_tags is None else resource_tags,
                    attributes=attributes, errors=errors or {})


def backup_rule(delete_after: int | None = 30, name: str = "daily", copies: Iterable[Mapping] = (),
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
                                  "AssumeRolePolicyDocument": trust}
    if not errors or "InlinePolicies" not in errors:
        attributes["InlinePolicies"] = dict(inline or {})
    role_tags = {tags.CUSTOMER: CUSTOMER} if full_name else {tags.CUSTOMER: CUSTOMER, tags.ROLE: name}
    return Resource(kind="iam_role", arn=naming.role_arn(ACCOUNT, CUSTOMER, full), name=full,
                    tags=role_tags, attributes=attributes, errors=errors or {})


def user(person: str, inline: Mapping[str, Any] | None = None,
         group_policies: Mapping[str, Any] | None = None) -> Resource:
    full = naming.user(CUSTOMER, person)
    attributes = {"UserName": full, "Path": naming.iam_path(CUSTOMER), "InlinePolicies": dict(inline or {}),
                  "AttachedPolicies": [], "GroupPolicies": dict(group_policies or {})}
    return Resource(kind="iam_user", arn=naming.user_arn(ACCOUNT, CUSTOMER, full), name=full,
                    tags={tags.CUSTOMER: CUSTOMER, tags.PERSON: person}, attributes=attributes)


def managed_policy(name: str, policy_document: Any, arn: str | None = None) -> Resource:
    return Resource(kind="iam_policy", arn=arn or f"arn:aws:iam::{ACCOUNT}:policy/{name}", name=name,
                    attributes={"PolicyName": name, "Document": policy_document})


def tenant(*extra: Resource, replace: Mapping[str, Resource] | None = None) -> tuple[Resource, ...]:
    """Return the compliant tenant's resources; ``replace`` swaps one by key (records, reports, app-logs, plan)."""
    parts = {"records": bucket("records"),
             "reports": bucket("reports", lifecycle_config=lifecycle(23, 7)),
             "app-logs": log_group("app-logs", 30),
             "plan": backup_plan()}
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
