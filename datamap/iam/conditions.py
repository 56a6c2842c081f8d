"""Condition operators, evaluated in three-valued logic.

Rules, as the IAM User Guide ("Condition operators", "Single-valued vs.
multivalued context keys") states them:

- Operators in one Condition block, and keys under one operator, are ANDed. Several
  values for one key are ORed; for a negated operator (``StringNotEquals``,
  ``NotIpAddress``, ``ArnNotLike``, ...) the key must match none of them.
- A key absent from the request makes a positive operator false and a negated one
  true. ``...IfExists`` makes any operator true on an absent key. ``Null`` tests
  absence itself.
- ``ForAnyValue`` is true when some request value matches; it is false for an absent
  or empty key. ``ForAllValues`` is true when every request value matches; it is
  true for an absent or empty key.
- A multivalued key under a plain operator is treated like ``ForAnyValue`` for
  positive operators and as "matches none" for negated ones; AWS advises against
  this combination and does not document it further.
- Policy variables are substituted in String and Arn operator values only.

A key that is absent and unknowable makes the operator unknown, named as
``"aws:SourceIp (NotIpAddress)"`` so a person can see what the decision waits on.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import ipaddress
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from datamap.iam.context import RequestContext, Tri, has_variables, resolve, unmark
from datamap.iam.matching import arn_like, string_like
from datamap.iam.errors import PolicyError


@dataclass(frozen=True)
class Clause:
    """One key under one operator, e.g. ``{"StringEquals": {"aws:username": [...]}}``."""

    operator: str            # as written, e.g. "ForAllValues:StringLikeIfExists"
    base: str                # canonical base operator name, e.g. "StringLike"
    qualifier: str           # "", "ForAnyValue" or "ForAllValues"
    if_exists: bool
    key: str
    values: tuple[str, ...]
    has_variables: bool = field(init=False, repr=False, compare=False)   # some value contains ${...}

    def __post_init__(self) -> None:
        object.__setattr__(self, "has_variables", any(has_variables(value) for value in self.values))

    @property
    def label(self) -> str:
        return f"{self.key} ({self.operator})"


@dataclass(frozen=True)
class ConditionResult:
    value: Tri
    unknown: tuple[str, ...] = ()   # labels of clauses that are unknown
    missing_variable: str = ""      # a variable with no value: the statement does not match


def _number(text: str) -> float | None:
    try:
        return float(text)
    except ValueError:
        return None


def _date(text: str) -> dt.datetime | None:
    if text.lstrip("-").isdigit():
        return dt.datetime.fromtimestamp(int(text), tz=dt.timezone.utc)
    try:
        parsed = dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=dt.timezone.utc)


def _compare(parse: Callable[[str], object], test: Callable[[object, object], bool]) -> Callable[[str, str], bool]:
    def match(request: str, policy: str) -> bool:
        left, right = parse(request), parse(policy)
        return left is not None and right is not None and test(left, right)
    return match


def _ip(request: str, policy: str) -> bool:
    try:
        return ipaddress.ip_address(request) in ipaddress.ip_network(policy, strict=False)
    except ValueError:
        return False


def _binary(request: str, policy: str) -> bool:
    try:
        return base64.b64decode(request, validate=True) == base64.b64decode(policy, validate=True)
    except (binascii.Error, ValueError):
        return request == policy


_EQ, _LT, _LE = (lambda a, b: a == b), (lambda a, b: a < b), (lambda a, b: a <= b)
_GT, _GE = (lambda a, b: a > b), (lambda a, b: a >= b)

# base operator -> (positive match, negated, takes variables)
_OPERATORS: dict[str, tuple[Callable[[str, str], bool], bool, bool]] = {
    "StringEquals": (lambda r, p: r == unmark(p), False, True),
    "StringNotEquals": (lambda r, p: r == unmark(p), True, True),
    "StringEqualsIgnoreCase": (lambda r, p: r.casefold() == unmark(p).casefold(), False, True),
    "StringNotEqualsIgnoreCase": (lambda r, p: r.casefold() == unmark(p).casefold(), True, True),
    "StringLike": (lambda r, p: string_like(p, r), False, True),
    "StringNotLike": (lambda r, p: string_like(p, r), True, True),
    "NumericEquals": (_compare(_number, _EQ), False, False),
    "NumericNotEquals": (_compare(_number, _EQ), True, False),
    "NumericLessThan": (_compare(_number, _LT), False, False),
    "NumericLessThanEquals": (_compare(_number, _LE), False, False),
    "NumericGreaterThan": (_compare(_number, _GT), False, False),
    "NumericGreaterThanEquals": (_compare(_number, _GE), False, False),
    "DateEquals": (_compare(_date, _EQ), False, False),
    "DateNotEquals": (_compare(_date, _EQ), True, False),
    "DateLessThan": (_compare(_date, _LT), False, False),
    "DateLessThanEquals": (_compare(_date, _LE), False, False),
    "DateGreaterThan": (_compare(_date, _GT), False, False),
    "DateGreaterThanEquals": (_compare(_date, _GE), False, False),
    "Bool": (lambda r, p: r.lower() == p.lower(), False, False),
    "BinaryEquals": (_binary, False, False),
    "IpAddress": (_ip, False, False),
    "NotIpAddress": (_ip, True, False),
    "ArnEquals": (lambda r, p: arn_like(p, r), False, True),
    "ArnLike": (lambda r, p: arn_like(p, r), False, True),
    "ArnNotEquals": (lambda r, p: arn_like(p, r), True, True),
    "ArnNotLike": (lambda r, p: arn_like(p, r), True, True),
}
_BY_LOWER = {name.lower(): name for name in (*_OPERATORS, "Null")}
QUALIFIERS = ("ForAnyValue", "ForAllValues")
_NO_CONDITIONS = ConditionResult(Tri.TRUE)


def _policy_text(value: object) -> str:
    """Return a condition value as IAM compares it: JSON booleans become "true" or "false"."""
    if value is True:
        return "true"
    if value is False:
        return "false"
    return str(value)


def parse_conditions(raw: object, where: str) -> tuple[Clause, ...]:
    """Parse a Condition element; raise PolicyError naming the operator AWS would reject."""
    if raw in (None, {}):
        return ()
    if not isinstance(raw, Mapping):
        raise PolicyError(f"{where}: Condition: invalid value {raw!r}; expected an object of operators")
    clauses = []
    for operator, keys in raw.items():
        qualifier, rest = "", str(operator)
        if ":" in rest:
            qualifier, rest = rest.split(":", 1)
            if qualifier not in QUALIFIERS:
                raise PolicyError(f"{where}: Condition: invalid operator {operator!r}; "
                                 f"a set qualifier is one of {', '.join(QUALIFIERS)}")
        if_exists = rest.endswith("IfExists") and rest != "IfExists"
        base = _BY_LOWER.get((rest[:-len("IfExists")] if if_exists else rest).lower())
        if base is None or (base == "Null" and (if_exists or qualifier)):
            raise PolicyError(f"{where}: Condition: unknown operator {operator!r}")
        if not isinstance(keys, Mapping) or not keys:
            raise PolicyError(f"{where}: Condition.{operator}: invalid value {keys!r}; expected an object of keys")
        for key, values in keys.items():
            listed = values if isinstance(values, list) else [values]
            if not listed or any(isinstance(v, (dict, list)) or v is None for v in listed):
                raise PolicyError(f"{where}: Condition.{operator}.{key}: invalid value {values!r}; "
                                 "expected a string, number, boolean or a list of them")
            texts = tuple(_policy_text(v) for v in listed)
            clauses.append(Clause(operator=str(operator), base=base, qualifier=qualifier,
                                  if_exists=if_exists, key=str(key), values=texts))
    return tuple(clauses)


def evaluate_conditions(clauses: tuple[Clause, ...], context: RequestContext, variables: bool) -> ConditionResult:
    """Evaluate every clause of a statement and AND the results."""
    if not clauses:
        return _NO_CONDITIONS
    result = Tri.TRUE
    unknown: list[str] = []
    for clause in clauses:
        outcome = _evaluate(clause, context, variables)
        if isinstance(outcome, str):
            return ConditionResult(Tri.FALSE, missing_variable=outcome)
        if outcome is Tri.FALSE:
            return ConditionResult(Tri.FALSE)
        if outcome is Tri.UNKNOWN:
            unknown.append(clause.label)
        result = result & outcome
    return ConditionResult(result, tuple(unknown))


def _evaluate(clause: Clause, context: RequestContext, variables: bool) -> Tri | str:
    """Return the clause's truth value, or the key of a policy variable that has no value."""
    found = context.lookup(clause.key)
    if clause.base == "Null":
        if not found.present:
            return Tri.UNKNOWN if found.unknowable else Tri.of(clause.values[0].lower() == "true")
        empty = isinstance(found.value, tuple) and not found.value
        return Tri.of((clause.values[0].lower() == "true") == empty)

    match, negated, takes_variables = _OPERATORS[clause.base]
    values = clause.values
    unresolved = False
    if variables and takes_variables and clause.has_variables:
        resolved_values = []
        for value in values:
            resolved = resolve(value, context)
            if resolved.missing:
                return resolved.missing
            if resolved.text is None:
                unresolved = True
            else:
                resolved_values.append(resolved.text)
        values = resolved_values

    request = found.value
    absent = not found.present or (isinstance(request, tuple) and not request)
    if absent:
        if found.unknowable:
            return Tri.UNKNOWN
        if clause.if_exists or clause.qualifier == "ForAllValues":
            return Tri.TRUE
        if clause.qualifier == "ForAnyValue":
            return Tri.FALSE
        return Tri.of(negated)

    def one(item: str) -> Tri:
        hit = any(match(item, policy) for policy in values)
        if hit:
            return Tri.FALSE if negated else Tri.TRUE
        if unresolved:
            return Tri.UNKNOWN
        return Tri.TRUE if negated else Tri.FALSE

    items = request if isinstance(request, tuple) else (request,)
    if clause.qualifier == "ForAllValues":
        outcome = Tri.TRUE
        for item in items:
            outcome = outcome & one(item)
        return outcome
    if clause.qualifier == "ForAnyValue" or not negated:
        outcome = Tri.FALSE
        for item in items:
            outcome = outcome | one(item)
        return outcome
    # A plain negated operator on a multivalued key: true when no value matches.
    outcome = Tri.TRUE
    for item in items:
        outcome = outcome & one(item)
    return outcome
