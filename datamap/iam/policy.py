"""Parsed IAM policy documents: statements with their elements normalised to tuples.

Parsing checks the structure AWS checks when it stores a policy and rejects the
rest with ``PolicyError``, naming the policy, the statement and the element, so a
bad input file is reported instead of being evaluated by guess. Identity policies
and permissions boundaries need Action/NotAction and Resource/NotResource, and they
must not name a principal. Resource policies (bucket, key, trust) need Principal or
NotPrincipal and may omit Resource, which then means the resource the policy is
attached to.

A statement can also stand for content the tool could not read (a managed policy
missing from the inventory, a bucket policy whose read failed): ``unknown_statement``
builds one whose match is always unknown, so every decision it could change
becomes unknown instead of allow or deny.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from datamap.iam.conditions import Clause, parse_conditions
from datamap.iam.errors import PolicyError
from datamap.iam.matching import actions_regex
from datamap.matrix import StatementRef

VERSION_2012 = "2012-10-17"
VERSION_2008 = "2008-10-17"
KINDS = ("identity", "resource", "boundary")
PRINCIPAL_TYPES = ("AWS", "Service", "Federated", "CanonicalUser")
_TEXT_LIMIT = 160


@dataclass(frozen=True)
class PrincipalElement:
    """A Principal or NotPrincipal element: ``"*"`` or values by principal type."""

    wildcard: bool
    values: Mapping[str, tuple[str, ...]] = field(default_factory=dict)


@dataclass(frozen=True, eq=False)
class Statement:
    """One statement; compared by identity so it can key caches and sets cheaply."""

    ref: StatementRef
    effect: str                          # "Allow" or "Deny"
    actions: tuple[str, ...]             # the Action or NotAction values
    not_action: bool
    resources: tuple[str, ...] | None    # None: no Resource element (a resource policy)
    not_resource: bool
    principal: PrincipalElement | None   # None in identity policies and boundaries
    not_principal: bool
    conditions: tuple[Clause, ...]
    variables: bool                      # True when the policy version substitutes ${...}
    unknown_reason: str = ""             # set when the statement stands for unreadable content
    # Derived from the fields above at construction, so evaluation does not redo the work per request.
    allows: bool = field(init=False, repr=False)
    action_regex: re.Pattern[str] = field(init=False, repr=False)   # see matching.actions_regex

    def __post_init__(self) -> None:
        object.__setattr__(self, "allows", self.effect == "Allow")
        object.__setattr__(self, "action_regex", actions_regex(self.actions))


@dataclass(frozen=True)
class Policy:
    """A parsed policy document with the name used in every StatementRef."""

    name: str
    kind: str
    version: str
    statements: tuple[Statement, ...]


def parse_policy(document: Any, name: str, kind: str = "identity") -> Policy:
    """Parse one policy document (a mapping or its JSON text) of the given kind.

    Raises PolicyError for a document AWS would reject.

    >>> p = parse_policy({"Version": "2012-10-17", "Statement": {"Effect": "Allow",
    ...     "Action": "s3:GetObject", "Resource": "*"}}, "example")
    >>> p.statements[0].actions, str(p.statements[0].ref)
    (('s3:GetObject',), 'example statement #0 (Allow)')
    """
    if kind not in KINDS:
        raise ValueError(f"unknown policy kind {kind!r}; expected one of {', '.join(KINDS)}")
    if isinstance(document, str):
        try:
            document = json.loads(document)
        except json.JSONDecodeError as exc:
            raise PolicyError(f"{name}: invalid JSON ({exc.msg} at line {exc.lineno})") from None
    if not isinstance(document, Mapping):
        raise PolicyError(f"{name}: invalid policy: expected a JSON object, found {type(document).__name__}")
    version = document.get("Version", VERSION_2008)
    if version not in (VERSION_2012, VERSION_2008):
        raise PolicyError(f"{name}: Version: invalid value {version!r}; expected {VERSION_2012} or {VERSION_2008}")
    raw_statements = document.get("Statement")
    if isinstance(raw_statements, Mapping):
        raw_statements = [raw_statements]
    if not isinstance(raw_statements, list) or not raw_statements:
        raise PolicyError(f"{name}: Statement: missing or empty; expected one statement or a list of them")
    statements = tuple(_parse_statement(raw, index, name, kind, version == VERSION_2012)
                       for index, raw in enumerate(raw_statements))
    return Policy(name=name, kind=kind, version=version, statements=statements)


def unknown_statement(policy_name: str, effect: str, reason: str, resource_policy: bool = False) -> Statement:
    """Return a statement on every action and resource whose match is unknown, for ``reason``."""
    ref = StatementRef(policy=policy_name, sid="(unread)", effect=effect, text=reason)
    return Statement(ref=ref, effect=effect, actions=("*",), not_action=False, resources=("*",),
                     not_resource=False, principal=PrincipalElement(wildcard=True) if resource_policy else None,
                     not_principal=False, conditions=(), variables=False, unknown_reason=reason)


def unknown_policy(policy_name: str, kind: str, reason: str) -> Policy:
    """Return a stand-in for an unreadable policy: an unknown Allow and an unknown Deny."""
    resource = kind == "resource"
    return Policy(name=policy_name, kind=kind, version=VERSION_2012, statements=(
        unknown_statement(policy_name, "Allow", reason, resource),
        unknown_statement(policy_name, "Deny", reason, resource)))


def _parse_statement(raw: Any, index: int, policy: str, kind: str, variables: bool) -> Statement:
    if not isinstance(raw, Mapping):
        raise PolicyError(f"{policy}: Statement[{index}]: invalid statement: expected a JSON object")
    sid = raw.get("Sid")
    where = f"{policy}: Statement[{index}]" + (f" ({sid})" if sid else "")
    effect = raw.get("Effect")
    if effect not in ("Allow", "Deny"):
        raise PolicyError(f"{where}: Effect: invalid value {effect!r}; expected Allow or Deny")

    actions, not_action = _pair(raw, "Action", "NotAction", where, required=True)
    for action in actions:
        if action != "*" and ":" not in action:
            raise PolicyError(f"{where}: Action: invalid value {action!r}; expected service:action or *")
    resources, not_resource = _pair(raw, "Resource", "NotResource", where, required=kind != "resource")

    principal, not_principal = None, False
    has_principal = "Principal" in raw or "NotPrincipal" in raw
    if kind == "resource":
        if not has_principal:
            raise PolicyError(f"{where}: Principal: missing; a resource policy statement names a Principal "
                              "or NotPrincipal")
        not_principal = "NotPrincipal" in raw
        principal = _parse_principal(raw["NotPrincipal" if not_principal else "Principal"], where)
    elif has_principal:
        raise PolicyError(f"{where}: Principal: not allowed in an identity policy or permissions boundary")

    conditions = parse_conditions(raw.get("Condition", {}), where)
    text = _render(actions, not_action, resources, not_resource)
    ref = StatementRef(policy=policy, sid=str(sid) if sid else f"#{index}", effect=effect, text=text)
    return Statement(ref=ref, effect=effect, actions=actions, not_action=not_action, resources=resources,
                     not_resource=not_resource, principal=principal, not_principal=not_principal,
                     conditions=conditions, variables=variables)


def _pair(raw: Mapping[str, Any], positive: str, negative: str, where: str,
          required: bool) -> tuple[tuple[str, ...] | None, bool]:
    if positive in raw and negative in raw:
        raise PolicyError(f"{where}: {negative}: not allowed together with {positive}")
    if positive not in raw and negative not in raw:
        if required:
            raise PolicyError(f"{where}: {positive}: missing; expected {positive} or {negative}")
        return None, False
    key = positive if positive in raw else negative
    return _strings(raw[key], f"{where}: {key}"), key == negative


def _strings(value: Any, where: str) -> tuple[str, ...]:
    values = [value] if isinstance(value, str) else value
    if not isinstance(values, Sequence) or isinstance(values, str) or not values:
        raise PolicyError(f"{where}: invalid value {value!r}; expected a string or a non-empty list of strings")
    for item in values:
        if not isinstance(item, str) or not item:
            raise PolicyError(f"{where}: invalid value {item!r}; expected a non-empty string")
    return tuple(values)


def _parse_principal(value: Any, where: str) -> PrincipalElement:
    if value == "*":
        return PrincipalElement(wildcard=True)
    if not isinstance(value, Mapping) or not value:
        raise PolicyError(f"{where}: Principal: invalid value {value!r}; expected \"*\" or an object such as "
                          '{"AWS": "arn:aws:iam::111122223333:root"}')
    values: dict[str, tuple[str, ...]] = {}
    for principal_type, raw in value.items():
        if principal_type not in PRINCIPAL_TYPES:
            raise PolicyError(f"{where}: Principal: invalid principal type {principal_type!r}; "
                              f"expected one of {', '.join(PRINCIPAL_TYPES)}")
        values[principal_type] = _strings(raw, f"{where}: Principal.{principal_type}")
    wildcard = values.get("AWS") == ("*",)
    return PrincipalElement(wildcard=wildcard, values=values)


def _render(actions: tuple[str, ...], not_action: bool, resources: tuple[str, ...] | None,
            not_resource: bool) -> str:
    text = ("NotAction " if not_action else "") + ", ".join(actions)
    if resources is not None:
        text += (" except on " if not_resource else " on ") + ", ".join(resources)
    if len(text) > _TEXT_LIMIT:
        text = text[:_TEXT_LIMIT - 3] + "..."
    return text
