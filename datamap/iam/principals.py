"""Who makes a request, and how a Principal or NotPrincipal element matches them.

A caller has several identities that a policy can name. An IAM user is named by
its user ARN or its account. A role session is named by its session ARN, its role
ARN or its account. How a resource-policy grant matched decides how far it reaches in the
same account (IAM User Guide, "Policy evaluation logic"):

- ``direct``: the user ARN, the session ARN, or ``"*"``. Not limited by an
  implicit deny in identity policies or the permissions boundary.
- ``role``: the role ARN. Limited by the role's permissions boundary.
- ``account``: the account (``arn:aws:iam::ID:root`` or the bare id). In the same
  account this only delegates to the account's IAM policies and grants nothing by
  itself; across accounts it is the resource side's consent.

Principal ARNs never hold wildcards (only ``"*"`` alone), so values compare
exactly.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from datamap.iam.context import RequestContext
from datamap.iam.errors import PolicyError
from datamap.iam.policy import PrincipalElement

DIRECT, ROLE, ACCOUNT = "direct", "role", "account"
_RANK = {DIRECT: 3, ROLE: 2, ACCOUNT: 1}
_ACCOUNT_ID = re.compile(r"^\d{12}$")
_SERVICE = re.compile(r"^[a-z0-9.-]+\.amazonaws\.com(\.cn)?$")


@dataclass(frozen=True)
class Caller:
    """The principal making a request."""

    arn: str            # user ARN, session ARN, role ARN, account root, a service name, or "" when anonymous
    kind: str           # "user", "assumed-role", "role", "root", "federated-user", "service" or "anonymous"
    account: str        # "" for a service principal and an anonymous caller
    partition: str = "aws"
    role_arn: str = ""  # the role behind a session (or the role itself)

    @property
    def root_arn(self) -> str:
        return f"arn:{self.partition}:iam::{self.account}:root" if self.account else ""

    @property
    def identities(self) -> frozenset[str]:
        """Return every value a Principal element may use to name this caller."""
        names = {self.arn}
        if self.role_arn:
            names.add(self.role_arn)
        if self.account:
            names.add(self.root_arn)
        return frozenset(names)


def parse_caller(principal_arn: str, context: RequestContext | None = None) -> Caller:
    """Parse a principal ARN; for a session, take the role ARN from aws:PrincipalArn if given.

    A session ARN carries the role name but not the role's path, so without
    aws:PrincipalArn the role ARN is built without a path. A bare role ARN stands for
    any session of that role: a grant to one of its session ARNs counts as direct.
    """
    if _SERVICE.match(principal_arn):
        return Caller(arn=principal_arn, kind="service", account="")
    parts = principal_arn.split(":", 5)
    if len(parts) != 6 or parts[0] != "arn" or not _ACCOUNT_ID.match(parts[4]):
        raise PolicyError(f"principal: invalid value {principal_arn!r}; expected an IAM user, role, "
                          "assumed-role session or account root ARN, or a service principal name")
    partition, service, account, resource = parts[1], parts[2], parts[4], parts[5]
    if service == "iam" and resource == "root":
        return Caller(arn=principal_arn, kind="root", account=account, partition=partition)
    if service == "iam" and resource.startswith("user/"):
        return Caller(arn=principal_arn, kind="user", account=account, partition=partition)
    if service == "iam" and resource.startswith("role/"):
        return Caller(arn=principal_arn, kind="role", account=account, partition=partition, role_arn=principal_arn)
    if service == "sts" and resource.startswith("assumed-role/") and resource.count("/") >= 2:
        role_name = resource.split("/")[1]
        role_arn = f"arn:{partition}:iam::{account}:role/{role_name}"
        given = context.get("aws:PrincipalArn") if context is not None else None
        if isinstance(given, str) and given.split(":", 5)[-1].startswith("role/") \
                and given.rsplit("/", 1)[-1] == role_name:
            role_arn = given
        return Caller(arn=principal_arn, kind="assumed-role", account=account, partition=partition,
                      role_arn=role_arn)
    if service == "sts" and resource.startswith("federated-user/"):
        return Caller(arn=principal_arn, kind="federated-user", account=account, partition=partition)
    raise PolicyError(f"principal: unsupported principal ARN {principal_arn!r}")


def anonymous_caller() -> Caller:
    """Return the caller of an unsigned request, which only a Principal of "*" (or {"AWS": "*"}) names."""
    return Caller(arn="", kind="anonymous", account="")


def normalize_principal(value: str, partition: str) -> str:
    """Return a Principal value with a bare account id written as the account root ARN."""
    if _ACCOUNT_ID.match(value):
        return f"arn:{partition}:iam::{value}:root"
    return value


def _listed(element: PrincipalElement, caller: Caller) -> set[str]:
    """Return the caller identities that the element names."""
    if caller.kind == "anonymous":
        return set()
    if caller.kind == "service":
        return {caller.arn} if caller.arn in element.values.get("Service", ()) else set()
    named = {normalize_principal(value, caller.partition) for value in element.values.get("AWS", ())}
    named |= set(element.values.get("Federated", ()))
    listed = named & caller.identities
    if caller.kind == "role":
        # A bare role stands for any of its sessions, and whoever assumes the role
        # chooses the session name, so naming any session of the role names it.
        sessions = f"arn:{caller.partition}:sts::{caller.account}:assumed-role/{caller.arn.rsplit('/', 1)[-1]}/"
        listed |= {caller.arn + "#session" for value in named if value.startswith(sessions)}
    return listed


def principal_match(element: PrincipalElement, caller: Caller) -> str | None:
    """Return how a Principal element names the caller: DIRECT, ROLE, ACCOUNT, or None."""
    if element.wildcard:
        return DIRECT
    listed = _listed(element, caller)
    best = None
    for identity in listed:
        if identity.endswith("#session"):
            category = DIRECT
        elif identity == caller.root_arn:
            category = ACCOUNT
        elif identity == caller.role_arn:
            category = ROLE
        else:
            category = DIRECT
        if best is None or _RANK[category] > _RANK[best]:
            best = category
    return best


def not_principal_applies(element: PrincipalElement, caller: Caller) -> bool:
    """Return True when a NotPrincipal statement applies: some identity of the caller is not listed.

    AWS documents that a Deny with NotPrincipal must list the account (and, for a
    session, the role) besides the principal itself to exempt it. Checking every
    identity of the caller gives that behaviour.
    """
    if element.wildcard:
        return False
    return bool(caller.identities - _listed(element, caller))
