"""IAM: the tenant's roles and users under any path, and the managed policies they use.

A role or user belongs to the tenant by its ``pilot:customer`` tag, which only
GetRole and GetUser return, so the scanner reads every principal of the account once.
Managed policies become ``iam_policy`` records when a tenant principal or one of its
groups has them attached or as a permissions boundary (AWS managed ones too), and when
a customer managed policy carries the tenant tag.

Users also get ``GroupPolicies``: ``{group: {"InlinePolicies": {name: document},
"AttachedPolicies": [arn]}}``. A user's groups grant permissions like the user's own
policies, and the inventory has no kind for groups.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from datamap.inventory import Resource
from datamap.sources.live.calls import Reader, ScanContext
from datamap.sources.live.common import (Collected, Failure, Field, Read, belongs, build_fields, key_value_tags,
                                         membership_error, parse_policy)


@dataclass(frozen=True)
class PrincipalReads:
    """Raw reads of one tenant role or user."""

    kind: str                 # "iam_role" or "iam_user"
    detail: Mapping[str, Any]  # the Role or User of get_role / get_user
    inline: Read              # {"Policies": {name: get_*_policy body}}
    attached: Read            # {"AttachedPolicies": [...]} of list_attached_*_policies
    groups: Read = None       # users only: {"Groups": [...]} of list_groups_for_user
    login_profile: Read = None  # users only: None when the user has no console password
    access_keys: Read = None  # users only: {"AccessKeyMetadata": [...]}


@dataclass(frozen=True)
class GroupReads:
    inline: Read
    attached: Read


@dataclass(frozen=True)
class PolicyReads:
    arn: str
    policy: Read   # get_policy body
    version: Read  # get_policy_version body of the default version


@dataclass
class IamReads:
    principals: list[PrincipalReads] = field(default_factory=list)
    groups: dict[str, GroupReads] = field(default_factory=dict)
    policies: list[PolicyReads] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    seen: int = 0


def fetch(ctx: ScanContext) -> IamReads:
    reader = ctx.reader
    out = IamReads()
    for kind in ("iam_role", "iam_user"):
        _fetch_principals(ctx, kind, out)

    group_names = set()
    for principal in out.principals:
        if isinstance(principal.groups, Mapping):
            group_names.update(group["GroupName"] for group in principal.groups["Groups"])
    for group in sorted(group_names):
        target = f"group {group}"
        out.groups[group] = GroupReads(
            inline=_inline_policies(reader, "group", group, target),
            attached=reader.items("iam", "list_attached_group_policies", target, "AttachedPolicies",
                                  GroupName=group))

    _fetch_policies(ctx, out)
    return out


def _fetch_principals(ctx: ScanContext, kind: str, out: IamReads) -> None:
    reader = ctx.reader
    noun = "role" if kind == "iam_role" else "user"
    key, name_key = ("Roles", "RoleName") if kind == "iam_role" else ("Users", "UserName")
    pages, failure = reader.pages("iam", f"list_{noun}s", "the account")
    if failure:
        out.errors.append(str(failure))
    listed = [entry for page in pages for entry in page.get(key, [])]
    out.seen += len(listed)

    for entry in listed:
        name = entry[name_key]
        target = f"{noun} {name}"
        detail = reader.read("iam", f"get_{noun}", target, **{name_key: name})
        if isinstance(detail, Failure):
            out.errors.append(membership_error(detail, target, ctx.customer))
            continue
        body = detail[noun.capitalize()]
        if not belongs(key_value_tags(body.get("Tags", [])), ctx.customer):
            continue

        inline = _inline_policies(reader, noun, name, target)
        attached = reader.items("iam", f"list_attached_{noun}_policies", target, "AttachedPolicies",
                                **{name_key: name})
        if kind == "iam_role":
            out.principals.append(PrincipalReads(kind, body, inline, attached))
            continue
        out.principals.append(PrincipalReads(
            kind, body, inline, attached,
            groups=reader.items("iam", "list_groups_for_user", target, "Groups", UserName=name),
            login_profile=reader.read("iam", "get_login_profile", target, not_configured=("NoSuchEntity",),
                                      UserName=name),
            access_keys=reader.items("iam", "list_access_keys", target, "AccessKeyMetadata", UserName=name)))


def _inline_policies(reader: Reader, noun: str, name: str, target: str) -> Read:
    """Read every inline policy of a role, user or group. One failed read makes them all unknown."""
    name_key = f"{noun.capitalize()}Name"
    names = reader.items("iam", f"list_{noun}_policies", target, "PolicyNames", **{name_key: name})
    if isinstance(names, Failure):
        return names
    bodies = {}
    for policy_name in names["PolicyNames"]:
        body = reader.read("iam", f"get_{noun}_policy", target, PolicyName=policy_name, **{name_key: name})
        if isinstance(body, Failure):
            return body
        bodies[policy_name] = body
    return {"Policies": bodies}


def _fetch_policies(ctx: ScanContext, out: IamReads) -> None:
    """Read the managed policies the tenant uses, and customer managed policies tagged for it."""
    reader = ctx.reader
    wanted: set[str] = set()
    for principal in out.principals:
        wanted.update(_attached_arns(principal.attached))
        boundary = principal.detail.get("PermissionsBoundary", {}).get("PermissionsBoundaryArn")
        if boundary:
            wanted.add(boundary)
    for group in out.groups.values():
        wanted.update(_attached_arns(group.attached))

    described: dict[str, Read] = {}
    pages, failure = reader.pages("iam", "list_policies", "the account", Scope="Local")
    if failure:
        out.errors.append(str(failure))
    local = [policy for page in pages for policy in page.get("Policies", [])]
    out.seen += len(local)
    for policy in local:
        arn = policy["Arn"]
        described[arn] = reader.read("iam", "get_policy", f"policy {arn}", PolicyArn=arn)
        if isinstance(described[arn], Failure):
            if arn not in wanted:
                out.errors.append(membership_error(described[arn], f"policy {arn}", ctx.customer))
            continue
        if belongs(key_value_tags(described[arn]["Policy"].get("Tags", [])), ctx.customer):
            wanted.add(arn)

    for arn in sorted(wanted):
        if arn not in described:
            described[arn] = reader.read("iam", "get_policy", f"policy {arn}", PolicyArn=arn)
        policy = described[arn]
        if isinstance(policy, Failure):
            version: Read = policy
        else:
            version = reader.read("iam", "get_policy_version", f"policy {arn}", PolicyArn=arn,
                                  VersionId=policy["Policy"]["DefaultVersionId"])
        out.policies.append(PolicyReads(arn, policy, version))


def _attached_arns(attached: Read) -> list[str]:
    if not isinstance(attached, Mapping):
        return []
    return [policy["PolicyArn"] for policy in attached["AttachedPolicies"]]


def _inline_documents(body: Mapping[str, Any]) -> dict[str, Any]:
    return {name: parse_policy(policy["PolicyDocument"]) for name, policy in body["Policies"].items()}


def _attached_list(body: Mapping[str, Any]) -> list[str]:
    return [policy["PolicyArn"] for policy in body["AttachedPolicies"]]


def principal_to_resource(reads: PrincipalReads, groups: Mapping[str, GroupReads]) -> Resource:
    detail = reads.detail
    name_key = "RoleName" if reads.kind == "iam_role" else "UserName"
    fields: dict[str, Field] = {
        "InlinePolicies": (reads.inline, _inline_documents),
        "AttachedPolicies": (reads.attached, _attached_list),
    }
    if reads.kind == "iam_role":
        fields["AssumeRolePolicyDocument"] = (detail, lambda role: parse_policy(role["AssumeRolePolicyDocument"]))
    else:
        fields["Groups"] = (reads.groups, lambda body: [group["GroupName"] for group in body["Groups"]])
        fields["GroupPolicies"] = (_group_policy_reads(reads.groups, groups), _group_policies)
        # GetLoginProfile returns NoSuchEntity (read None) when the user has no console password.
        login = {} if reads.login_profile is None else reads.login_profile
        fields["LoginProfile"] = (login, lambda body: "LoginProfile" in body)
        fields["AccessKeys"] = (reads.access_keys, lambda body: len(body["AccessKeyMetadata"]))
    attributes, errors = build_fields(fields)

    boundary = detail.get("PermissionsBoundary", {}).get("PermissionsBoundaryArn")
    attributes = {name_key: detail[name_key], "Path": detail["Path"], **attributes, "PermissionsBoundary": boundary}
    return Resource(kind=reads.kind, arn=detail["Arn"], name=detail[name_key],
                    tags=key_value_tags(detail.get("Tags", [])), attributes=attributes, errors=errors)


def _group_policy_reads(user_groups: Read, groups: Mapping[str, GroupReads]) -> Read:
    """Combine the reads of a user's groups into one read that fails if any part failed."""
    if not isinstance(user_groups, Mapping):
        return user_groups
    combined = {}
    for group in user_groups["Groups"]:
        reads = groups[group["GroupName"]]
        for part in (reads.inline, reads.attached):
            if isinstance(part, Failure):
                return part
        combined[group["GroupName"]] = reads
    return combined


def _group_policies(combined: Mapping[str, GroupReads]) -> dict[str, Any]:
    return {group: {"InlinePolicies": _inline_documents(reads.inline),
                    "AttachedPolicies": _attached_list(reads.attached)}
            for group, reads in combined.items()}


def policy_to_resource(reads: PolicyReads) -> Resource:
    # The ARN ends with the policy name, so the name is known even when GetPolicy failed.
    name = reads.arn.rsplit("/", 1)[-1]
    tags = {}
    if isinstance(reads.policy, Mapping):
        name = reads.policy["Policy"]["PolicyName"]
        tags = key_value_tags(reads.policy["Policy"].get("Tags", []))
    attributes, errors = build_fields({
        "Document": (reads.version, lambda body: parse_policy(body["PolicyVersion"]["Document"])),
    })
    return Resource(kind="iam_policy", arn=reads.arn, name=name, tags=tags,
                    attributes={"PolicyName": name, **attributes}, errors=errors)


def collect(ctx: ScanContext) -> Collected:
    reads = fetch(ctx)
    resources = [principal_to_resource(principal, reads.groups) for principal in reads.principals]
    resources += [policy_to_resource(policy) for policy in reads.policies]
    return Collected(resources=resources, errors=reads.errors, seen=reads.seen)
