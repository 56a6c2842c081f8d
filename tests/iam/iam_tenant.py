"""Builders of small inventories for the access-matrix tests (account 111122223333, tenant acme)."""

from __future__ import annotations

from typing import Any

from datamap.iam.cases import aws_managed_policy
from datamap.inventory import Inventory, Resource

ACCOUNT = "111122223333"
REGION = "eu-west-1"
PATH = "/pilot/acme/"
KEY_ARN = f"arn:aws:kms:{REGION}:{ACCOUNT}:key/1234abcd-12ab-34cd-56ef-1234567890ab"


def policy(*statements: dict[str, Any]) -> dict[str, Any]:
    return {"Version": "2012-10-17", "Statement": list(statements)}


def allow(action: Any, resource: Any = "*", **extra: Any) -> dict[str, Any]:
    return {"Effect": "Allow", "Action": action, "Resource": resource, **extra}


def deny(action: Any, resource: Any = "*", **extra: Any) -> dict[str, Any]:
    return {"Effect": "Deny", "Action": action, "Resource": resource, **extra}


def user_arn(name: str) -> str:
    return f"arn:aws:iam::{ACCOUNT}:user{PATH}{name}"


def role_arn(name: str) -> str:
    return f"arn:aws:iam::{ACCOUNT}:role{PATH}{name}"


def bucket_name(store: str) -> str:
    return f"acme-{store}-{ACCOUNT}"


def user(name: str, person: str = "", inline: dict | None = None, attached: tuple[str, ...] = (),
         boundary: str | None = None, groups: dict | None = None, errors: dict | None = None) -> Resource:
    tags = {"pilot:customer": "acme", **({"pilot:person": person} if person else {})}
    return Resource(kind="iam_user", arn=user_arn(name), name=name, tags=tags, errors=errors or {},
                    attributes={"UserName": name, "Path": PATH, "InlinePolicies": inline or {},
                                "AttachedPolicies": list(attached), "PermissionsBoundary": boundary,
                                "Groups": list(groups or {}), "GroupPolicies": groups or {}})


def role(name: str, role_tag: str, trust: dict, inline: dict | None = None, attached: tuple[str, ...] = (),
         boundary: str | None = None) -> Resource:
    return Resource(kind="iam_role", arn=role_arn(name), name=name,
                    tags={"pilot:customer": "acme", "pilot:role": role_tag},
                    attributes={"RoleName": name, "Path": PATH, "AssumeRolePolicyDocument": trust,
                                "InlinePolicies": inline or {}, "AttachedPolicies": list(attached),
                                "PermissionsBoundary": boundary})


def bucket(store: str, bucket_policy: dict | None = None, errors: dict | None = None) -> Resource:
    name = bucket_name(store)
    attributes: dict[str, Any] = {"Name": name}
    if not errors:
        attributes["Policy"] = bucket_policy
    return Resource(kind="s3_bucket", arn=f"arn:aws:s3:::{name}", name=name, region=REGION,
                    tags={"pilot:customer": "acme", "pilot:store": store}, attributes=attributes, errors=errors or {})


def log_group(store: str) -> Resource:
    name = f"/pilot/acme/{store}"
    return Resource(kind="log_group", arn=f"arn:aws:logs:{REGION}:{ACCOUNT}:log-group:{name}:*", name=name,
                    region=REGION, tags={"pilot:customer": "acme", "pilot:store": store},
                    attributes={"logGroupName": name, "retentionInDays": 30})


def key(key_policy: dict) -> Resource:
    return Resource(kind="kms_key", arn=KEY_ARN, name="1234abcd-12ab-34cd-56ef-1234567890ab", region=REGION,
                    tags={"pilot:customer": "acme"},
                    attributes={"KeyId": "1234abcd-12ab-34cd-56ef-1234567890ab", "Policy": key_policy})


def managed(arn: str, document: dict | None = None) -> Resource:
    name = arn.rsplit("/", 1)[-1]
    return Resource(kind="iam_policy", arn=arn, name=name,
                    attributes={"PolicyName": name, "Document": document or aws_managed_policy(arn)})


def trust_account(mfa: bool = False) -> dict[str, Any]:
    statement: dict[str, Any] = {"Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{ACCOUNT}:root"},
                                 "Action": "sts:AssumeRole"}
    if mfa:
        statement["Condition"] = {"Bool": {"aws:MultiFactorAuthPresent": "true"}}
    return policy(statement)


def may_assume(*role_names: str) -> dict[str, Any]:
    return policy(allow("sts:AssumeRole", [role_arn(n) for n in role_names]))


def inventory(*resources: Resource) -> Inventory:
    return Inventory(customer="acme", account_id=ACCOUNT, source="plan", region=REGION, resources=resources)
