"""IAM users and roles of an inventory, with their parsed policies and request context.

Every policy the tool cannot read becomes an unknown stand-in
(``datamap.iam.policy.unknown_policy``), so the cells it could change become
unknown rather than allow or deny:

- a managed policy ARN with no ``iam_policy`` resource in the inventory;
- an attribute whose read failed (recorded in ``Resource.errors``);
- a policy document AWS would reject;
- a group of the user whose policies the scanner did not record (``GroupPolicies``).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from datamap.iam.errors import PolicyError
from datamap.iam.policy import Policy, Statement, parse_policy, unknown_policy
from datamap.iam.principals import Caller, parse_caller
from datamap.inventory import Inventory, Resource
from infra import tags

log = logging.getLogger(__name__)


@dataclass(frozen=True, eq=False)
class Principal:
    """An IAM user or role ready for evaluation."""

    resource: Resource
    caller: Caller
    kind: str                              # "user" or "role"
    person: str                            # pilot:person tag of a user, else ""
    role: str                              # pilot:role tag of a role, else ""
    identity: tuple[Statement, ...]
    boundary: tuple[Statement, ...] | None
    trust: tuple[Statement, ...] | None    # a role's trust policy
    context: Mapping[str, Any]             # request-context keys known for this principal
    absent: tuple[str, ...]                # keys known to be absent

    @property
    def name(self) -> str:
        return self.resource.name


class PolicyStore:
    """Managed policies of the inventory by ARN, parsed once and shared by every principal."""

    def __init__(self, inventory: Inventory):
        self._documents = {r.arn: r for r in inventory.of_kind("iam_policy")}
        self._parsed: dict[tuple[str, str], Policy] = {}

    def managed(self, arn: str, kind: str) -> Policy:
        key = (arn, kind)
        if key not in self._parsed:
            resource = self._documents.get(arn)
            if resource is None:
                log.warning("managed policy %s is not in the inventory; cells it could change are unknown", arn)
                self._parsed[key] = unknown_policy(arn, kind, f"managed policy {arn} is not in the inventory")
            elif not resource.known("Document"):
                reason = resource.errors.get("Document", "not read")
                self._parsed[key] = unknown_policy(arn, kind, f"managed policy {arn} could not be read: {reason}")
            else:
                self._parsed[key] = parse_or_unknown(resource.get("Document"), arn, kind)
        return self._parsed[key]


def parse_or_unknown(document: Any, name: str, kind: str) -> Policy:
    """Parse a document from an inventory; an invalid one becomes an unknown stand-in."""
    try:
        return parse_policy(_plain(document), name, kind)
    except PolicyError as exc:
        log.warning("%s is invalid (%s); cells it could change are unknown", name, exc)
        return unknown_policy(name, kind, f"invalid policy: {exc}")


def _plain(value: Any) -> Any:
    if isinstance(value, Mapping):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, tuple):
        return [_plain(v) for v in value]
    return value


def load_principals(inventory: Inventory, store: PolicyStore, principal_tags: bool = True) -> list[Principal]:
    """Return every IAM user and role of the inventory with its policies and context."""
    principals = []
    for resource in inventory.of_kind("iam_user") + inventory.of_kind("iam_role"):
        kind = "user" if resource.kind == "iam_user" else "role"
        label = f"{kind} {resource.name}"
        policies = _inline(resource, label)
        if resource.known("AttachedPolicies"):
            policies += [store.managed(arn, "identity") for arn in resource.get("AttachedPolicies") or ()]
        else:
            policies.append(_unread(resource, "AttachedPolicies", label + " attached policies", "identity"))
        if kind == "user":
            policies += _groups(resource, label, store)

        boundary = None
        if not resource.known("PermissionsBoundary"):
            boundary = _unread(resource, "PermissionsBoundary", label + " permissions boundary", "boundary")
        elif resource.get("PermissionsBoundary"):
            boundary = store.managed(resource.get("PermissionsBoundary"), "boundary")

        trust = None
        if kind == "role":
            if resource.known("AssumeRolePolicyDocument"):
                trust = parse_or_unknown(resource.get("AssumeRolePolicyDocument"), label + " trust policy", "resource")
            else:
                trust = _unread(resource, "AssumeRolePolicyDocument", label + " trust policy", "resource")

        caller = parse_caller(resource.arn)
        context: dict[str, Any] = {"aws:PrincipalArn": resource.arn, "aws:PrincipalAccount": caller.account,
                                   "aws:PrincipalType": "User" if kind == "user" else "AssumedRole"}
        absent = ["aws:PrincipalTag/*"] if principal_tags else []
        if kind == "user":
            context["aws:username"] = resource.name
        else:
            absent.append("aws:username")
        if principal_tags:
            context.update({f"aws:PrincipalTag/{key}": value for key, value in resource.tags.items()})
        principals.append(Principal(
            resource=resource, caller=caller, kind=kind,
            person=resource.tags.get(tags.PERSON, "") if kind == "user" else "",
            role=resource.tags.get(tags.ROLE, "") if kind == "role" else "",
            identity=tuple(st for policy in policies for st in policy.statements),
            boundary=None if boundary is None else boundary.statements,
            trust=None if trust is None else trust.statements,
            context=context, absent=tuple(absent)))
    return principals


def _inline(resource: Resource, label: str) -> list[Policy]:
    if not resource.known("InlinePolicies"):
        return [_unread(resource, "InlinePolicies", label + " inline policies", "identity")]
    return [parse_or_unknown(document, f"{label} inline policy {name}", "identity")
            for name, document in (resource.get("InlinePolicies") or {}).items()]


def _groups(resource: Resource, label: str, store: PolicyStore) -> list[Policy]:
    """Return the policies of the user's groups, from the GroupPolicies attribute the scanner records."""
    if not resource.known("Groups"):
        return [_unread(resource, "Groups", label + " groups", "identity")]
    groups = resource.get("Groups") or ()
    if not groups:
        return []
    if not resource.known("GroupPolicies"):
        return [_unread(resource, "GroupPolicies", label + " group policies", "identity")]
    recorded = resource.get("GroupPolicies") or {}
    policies: list[Policy] = []
    for group in groups:
        if group not in recorded:
            policies.append(unknown_policy(f"group {group}", "identity",
                                           f"the policies of group {group} are not in the inventory"))
            continue
        entry = recorded[group]
        policies += [parse_or_unknown(document, f"group {group} inline policy {name}", "identity")
                     for name, document in (entry.get("InlinePolicies") or {}).items()]
        policies += [store.managed(arn, "identity") for arn in entry.get("AttachedPolicies") or ()]
    return policies


def _unread(resource: Resource, attribute: str, name: str, kind: str) -> Policy:
    reason = resource.errors.get(attribute, "not in the inventory")
    log.warning("%s could not be read (%s); cells it could change are unknown", name, reason)
    return unknown_policy(name, kind, f"{name} could not be read: {reason}")
