"""IAM: declared roles and users with their inline and attached policies, and the managed policies they use.

A role's or user's policies come from the separate resources that name it
(``RolePolicy``, ``RolePolicyAttachment``, ``UserPolicy``, ``UserPolicyAttachment``,
``PolicyAttachment``) and from the role's own ``inlinePolicies`` and ``managedPolicyArns``
(which Pulumi state fills with every policy the role has). Declared customer managed
policies carry their document. A managed policy that the stack only references by ARN,
such as an AWS managed policy, gets a record whose ``Document`` is unknown. AWS (or
another stack) decides its content at deploy time, and a copy from an earlier date could
hide a permission added since.

IAM groups are not translated: when the stack declares any, every user's ``Groups`` and
``GroupPolicies`` are unknown.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from datamap.inventory import Resource
from datamap.sources.declared.s3 import parse_document
from datamap.sources.declared.values import Declared, NotConverted, Record, Scope, Stack, declared_tags, text

ROLE = "aws:iam/role:Role"
ROLE_POLICY = "aws:iam/rolePolicy:RolePolicy"
ROLE_ATTACHMENT = "aws:iam/rolePolicyAttachment:RolePolicyAttachment"
USER = "aws:iam/user:User"
USER_POLICY = "aws:iam/userPolicy:UserPolicy"
USER_ATTACHMENT = "aws:iam/userPolicyAttachment:UserPolicyAttachment"
POLICY = "aws:iam/policy:Policy"
POLICY_ATTACHMENT = "aws:iam/policyAttachment:PolicyAttachment"
LOGIN_PROFILE = "aws:iam/userLoginProfile:UserLoginProfile"
ACCESS_KEY = "aws:iam/accessKey:AccessKey"
GROUP_TYPES = ("aws:iam/group:Group", "aws:iam/groupPolicy:GroupPolicy",
               "aws:iam/groupPolicyAttachment:GroupPolicyAttachment",
               "aws:iam/userGroupMembership:UserGroupMembership", "aws:iam/groupMembership:GroupMembership")
# These only remove policies the program does not declare, so the declared ones are the whole set.
EXCLUSIVE_TYPES = ("aws:iam/rolePoliciesExclusive:RolePoliciesExclusive",
                   "aws:iam/rolePolicyAttachmentsExclusive:RolePolicyAttachmentsExclusive",
                   "aws:iam/userPoliciesExclusive:UserPoliciesExclusive",
                   "aws:iam/userPolicyAttachmentsExclusive:UserPolicyAttachmentsExclusive")

# Types this module reads (group types only to mark users unknown), so the caller does not report them.
TYPES = (ROLE, ROLE_POLICY, ROLE_ATTACHMENT, USER, USER_POLICY, USER_ATTACHMENT, POLICY, POLICY_ATTACHMENT,
         LOGIN_PROFILE, ACCESS_KEY, *GROUP_TYPES, *EXCLUSIVE_TYPES)


def role_to_resource(stack: Stack, role: Declared, scope: Scope) -> Resource:
    return _principal(stack, role, scope, "role")


def user_to_resource(stack: Stack, user: Declared, scope: Scope) -> Resource:
    return _principal(stack, user, scope, "user")


def _principal(stack: Stack, declared: Declared, scope: Scope, noun: str) -> Resource:
    record = Record(declared)
    name_key = "RoleName" if noun == "role" else "UserName"
    name = declared.get("name")
    if not isinstance(name, str) or not name:
        record.unknown(name_key, f"the {noun} name is not known before deploy")
        name = f"unknown-{noun}-name-of-{declared.name}"
    else:
        record.attributes[name_key] = name
    path = declared.get("path", "/")
    if not isinstance(path, str):
        record.unknown("Path", f"the path of {declared.name} is not known before deploy")
        path = "/"
    else:
        record.attributes["Path"] = path
    arn = f"arn:{scope.partition}:iam::{scope.account_id}:{noun}{path}{name}"
    ids = (name, arn, declared.physical_id)

    if noun == "role":
        record.put("InlinePolicies", lambda: _inline(declared.get("inlinePolicies") or (),
                                                      stack.attached(ROLE_POLICY, "role", declared, ids)))
        record.put("AttachedPolicies", lambda: _attached(declared.get("managedPolicyArns") or (),
                                                          stack.attached(ROLE_ATTACHMENT, "role", declared, ids),
                                                          _named_in(stack, "roles", name)))
        record.put("AssumeRolePolicyDocument", lambda: parse_document(declared.get("assumeRolePolicy")))
    else:
        record.put("InlinePolicies", lambda: _inline((), stack.attached(USER_POLICY, "user", declared, ids)))
        record.put("AttachedPolicies", lambda: _attached((), stack.attached(USER_ATTACHMENT, "user", declared, ids),
                                                          _named_in(stack, "users", name)))
        groups = [resource.name for token in GROUP_TYPES for resource in stack.of_type(token)]
        if groups:
            reason = f"the stack declares IAM groups ({', '.join(groups)}), which the converter does not translate"
            record.unknown("Groups", reason)
            record.unknown("GroupPolicies", reason)
        else:
            record.attributes["Groups"] = []
            record.attributes["GroupPolicies"] = {}
        record.attributes["LoginProfile"] = bool(stack.attached(LOGIN_PROFILE, "user", declared, ids))
        record.attributes["AccessKeys"] = len(stack.attached(ACCESS_KEY, "user", declared, ids))
    record.put("PermissionsBoundary", lambda: text(declared.get("permissionsBoundary")))

    tags, tag_error = declared_tags(declared)
    if tag_error:
        record.unknown("tags", tag_error)
    return Resource(kind=f"iam_{noun}", arn=arn, name=name, tags=tags, attributes=record.attributes,
                    errors=record.errors, declared_at=declared.declared_at)


def _inline(own: Iterable[Any], separate: list[Declared]) -> dict[str, Any]:
    """Merge a role's ``inlinePolicies`` entries with its RolePolicy resources, which win when names collide."""
    documents: dict[str, Any] = {}
    for entry in own:
        # Skip entries without a name: state may list an empty one for a role without inline policies.
        if text(entry.get("name")):
            documents[entry["name"]] = parse_document(entry.get("policy"))
    for resource in separate:
        name = text(resource.get("name"))
        if name is None:
            raise NotConverted(f"the name of {resource.name} is not declared (name prefixes are not translated)")
        documents[name] = parse_document(resource.get("policy"))
    return documents


def _attached(own: Iterable[Any], attachments: list[Declared], shared: list[Declared]) -> list[str]:
    arns = {str(arn) for arn in own if text(arn)}
    arns.update(resource.get("policyArn") for resource in [*attachments, *shared])
    return sorted(arns)


def _named_in(stack: Stack, key: str, name: str) -> list[Declared]:
    """Return the PolicyAttachment resources whose ``roles`` or ``users`` list contains ``name``."""
    return [resource for resource in stack.of_type(POLICY_ATTACHMENT) if name in (resource.get(key) or ())]


def policy_arn(policy: Declared, scope: Scope) -> str:
    """Return a declared customer managed policy's ARN: its output when known, else built from path and name."""
    arn = policy.values.get("arn")
    if isinstance(arn, str) and arn:
        return arn
    name, path = policy.get("name"), policy.get("path", "/")
    if not isinstance(name, str) or not isinstance(path, str):
        name, path = f"unknown-policy-name-of-{policy.name}", "/"
    return f"arn:{scope.partition}:iam::{scope.account_id}:policy{path}{name}"


def policy_to_resource(policy: Declared, scope: Scope) -> Resource:
    record = Record(policy)
    arn = policy_arn(policy, scope)
    name = arn.rsplit("/", 1)[-1]
    record.attributes["PolicyName"] = name
    record.put("Document", lambda: parse_document(policy.get("policy")))
    tags, tag_error = declared_tags(policy)
    if tag_error:
        record.unknown("tags", tag_error)
    return Resource(kind="iam_policy", arn=arn, name=name, tags=tags, attributes=record.attributes,
                    errors=record.errors, declared_at=policy.declared_at)


def referenced_policy(arn: str) -> Resource:
    """Return the record of a managed policy the stack attaches by ARN but does not declare."""
    name = arn.rsplit("/", 1)[-1]
    owner = "an AWS managed policy, whose current version AWS decides" if ":iam::aws:policy/" in arn else \
        "a managed policy declared outside this stack"
    return Resource(kind="iam_policy", arn=arn, name=name, attributes={"PolicyName": name},
                    errors={"Document": f"not known before deploy: {owner}"})
