"""Reference cases: one request per JSON line with the decision AWS makes and why.

Fields (all required unless marked optional):

- ``id``; ``source`` and ``note`` (optional, for people);
- ``identity_policies``: list of policy documents of the user, or of the role behind
  a session;
- ``managed_policies`` (optional): ARNs of AWS managed policies to add to the identity
  policies, read from the copy of AWS's managed policies that ships with moto;
- ``resource_policy`` and ``permissions_boundary``: a document or null;
- ``principal_arn``, ``action``, ``resource_arn``;
- ``context``: request-context keys, lists for multivalued keys; a key that is absent
  is absent from the request; ``unknowable`` (optional): keys whose value the
  request cannot be known to carry;
- ``expected``: ``allow``, ``deny`` or ``unknown``; ``expected_reason``: ``allow``,
  ``explicit_deny``, ``implicit_deny`` or ``unknown``.

A bad line raises InputError naming the file, the line and the field.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

from datamap.iam.errors import PolicyError
from datamap.iam.evaluation import Decision, Reason, Request, Result, evaluate
from datamap.iam.policy import Policy, parse_policy
from datamap.iam.principals import parse_caller
from infra.errors import InputError

REQUIRED = ("id", "identity_policies", "resource_policy", "permissions_boundary", "principal_arn", "action",
            "resource_arn", "context", "expected", "expected_reason")


@dataclass(frozen=True)
class Case:
    """One parsed reference case."""

    id: str
    line: int
    request: Request
    identity: tuple[Policy, ...]
    resource_policy: Policy | None
    boundary: Policy | None
    expected: Decision
    expected_reason: Reason
    note: str = ""

    def run(self) -> Result:
        return evaluate(self.request, self.identity, self.resource_policy, self.boundary)


@lru_cache(maxsize=1)
def _moto_managed_policies() -> dict[str, Mapping[str, Any]]:
    from moto.iam.aws_managed_policies import aws_managed_policies_data

    data = json.loads(aws_managed_policies_data)
    return {f"arn:aws:iam::aws:policy{entry.get('Path', '/')}{name}": entry["Document"]
            for name, entry in data.items()}


def aws_managed_policy(arn: str) -> Mapping[str, Any]:
    """Return the document of an AWS managed policy from moto's copy; raise KeyError if absent.

    moto's copy is a snapshot taken when that moto version was built, so a policy that
    AWS changed since then differs from the version an account has today.
    """
    return _moto_managed_policies()[arn]


def read_cases(path: str | Path,
               managed: Callable[[str], Mapping[str, Any]] = aws_managed_policy) -> list[Case]:
    """Read a case file; raise InputError naming the file, line and field of the first bad value."""
    path = Path(path)
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except FileNotFoundError:
        raise InputError(f"{path}: case file not found") from None
    cases = []
    for number, text in enumerate(lines, start=1):
        if not text.strip():
            continue
        try:
            raw = json.loads(text)
        except json.JSONDecodeError as exc:
            raise InputError(f"{path}: line {number}: invalid JSON ({exc.msg})") from None
        cases.append(_parse_case(raw, f"{path}: line {number}", number, managed))
    return cases


def _parse_case(raw: Any, where: str, number: int, managed: Callable[[str], Mapping[str, Any]]) -> Case:
    if not isinstance(raw, Mapping):
        raise InputError(f"{where}: invalid case: expected a JSON object")
    for name in REQUIRED:
        if name not in raw:
            raise InputError(f"{where}: {name}: missing required field")
    for name in ("id", "principal_arn", "action", "resource_arn"):
        if not isinstance(raw[name], str) or not raw[name]:
            raise InputError(f"{where}: {name}: invalid value {raw[name]!r}; expected a non-empty string")
    expected = _choice(raw, "expected", Decision, where)
    reason = _choice(raw, "expected_reason", Reason, where)
    if not isinstance(raw["context"], Mapping):
        raise InputError(f"{where}: context: invalid value; expected an object of context keys")
    documents = raw["identity_policies"]
    if not isinstance(documents, list):
        raise InputError(f"{where}: identity_policies: invalid value; expected a list of policy documents")
    try:
        identity = [parse_policy(doc, f"identity_policies[{i}]") for i, doc in enumerate(documents)]
        for arn in _string_list(raw, "managed_policies", where):
            try:
                identity.append(parse_policy(managed(arn), arn))
            except KeyError:
                raise InputError(f"{where}: managed_policies: {arn} not found among AWS managed policies") from None
        resource = None if raw["resource_policy"] is None else parse_policy(
            raw["resource_policy"], "resource_policy", "resource")
        boundary = None if raw["permissions_boundary"] is None else parse_policy(
            raw["permissions_boundary"], "permissions_boundary", "boundary")
        request = Request(principal_arn=raw["principal_arn"], action=raw["action"],
                          resource_arn=raw["resource_arn"], context=dict(raw["context"]),
                          unknowable=frozenset(_string_list(raw, "unknowable", where)))
        parse_caller(request.principal_arn)
    except PolicyError as exc:
        raise InputError(f"{where}: {exc}") from None
    except TypeError as exc:
        raise InputError(f"{where}: context: {exc}") from None
    return Case(id=raw["id"], line=number, request=request, identity=tuple(identity), resource_policy=resource,
                boundary=boundary, expected=expected, expected_reason=reason, note=str(raw.get("note", "")))


def _choice(raw: Mapping[str, Any], name: str, kind: type, where: str) -> Any:
    try:
        return kind(raw[name])
    except ValueError:
        allowed = ", ".join(member.value for member in kind)
        raise InputError(f"{where}: {name}: invalid value {raw[name]!r}; expected one of {allowed}") from None


def _string_list(raw: Mapping[str, Any], name: str, where: str) -> list[str]:
    value = raw.get(name, [])
    if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
        raise InputError(f"{where}: {name}: invalid value {value!r}; expected a list of strings")
    return value


def matches(case: Case, result: Result) -> bool:
    return result.decision == case.expected and result.reason == case.expected_reason
