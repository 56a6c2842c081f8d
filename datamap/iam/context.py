"""The request context, three-valued truth, and policy variables.

Condition key names compare case-insensitively, as IAM compares them; values keep
their case. A key can be present, absent, or unknowable: absent means the request
does not carry it (IAM's absent-key rules apply), unknowable means the tool cannot
tell what the request would carry, so any condition that reads it is unknown.

Policy variables (``${aws:username}``, ``${aws:PrincipalTag/team, 'default'}``,
``${*}``, ``${?}``, ``${$}``) are substituted only in policies of Version
2012-10-17. AWS documents that a variable it cannot resolve may make the whole
statement invalid. This module reports such a variable as missing, and the
evaluator then treats the statement as not matching. A multivalued key cannot be a
variable, so it counts as missing too.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from enum import Enum
from typing import Any

# Stand-ins for a literal "*" or "?" inside a pattern: ${*} and ${?} produce them,
# and substituted values are escaped to them, so they never act as wildcards.
LITERAL_STAR = "\ue001"
LITERAL_QUESTION = "\ue002"
_VARIABLE = re.compile(r"\$\{([^}]*)\}")
_VARIABLE_BODY = re.compile(r"\s*([^,\s]+)\s*(?:,\s*'((?:[^']|'')*)'\s*)?")


class Tri(Enum):
    """Kleene truth value: a match is true, false, or unknown."""

    FALSE = 0
    UNKNOWN = 1
    TRUE = 2

    @staticmethod
    def of(value: bool) -> Tri:
        return Tri.TRUE if value else Tri.FALSE

    # These read ``_value_`` because the ``value`` property is slow in hot loops.
    def __and__(self, other: Tri) -> Tri:
        return self if self._value_ <= other._value_ else other

    def __or__(self, other: Tri) -> Tri:
        return self if self._value_ >= other._value_ else other

    def __invert__(self) -> Tri:
        return _INVERSE[self]


_INVERSE = {Tri.TRUE: Tri.FALSE, Tri.FALSE: Tri.TRUE, Tri.UNKNOWN: Tri.UNKNOWN}


ContextValue = str | tuple[str, ...]


@dataclass(frozen=True)
class Lookup:
    """The result of reading one key: present with a value, absent, or unknowable."""

    present: bool
    value: ContextValue | None = None
    unknowable: bool = False


def normalize_value(value: Any) -> ContextValue:
    """Return a context value as IAM compares it: strings, or a tuple for a multivalued key."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (str, int, float)):
        return str(value)
    if isinstance(value, Sequence):
        return tuple(normalize_value(item) for item in value if not isinstance(item, (list, tuple)))
    raise TypeError(f"invalid context value {value!r}; expected a string or a list of strings")


class RequestContext:
    """Request-context keys with their values, plus the keys the caller declares unknowable.

    ``unknowable`` contains key names, prefixes ending in ``*`` (``aws:RequestTag/*``),
    or ``*`` alone, which makes every key not given unknowable. ``absent`` takes the same forms
    and names keys known to be absent, which wins over ``unknowable`` (a role session
    never carries aws:username, even when every other key is unknowable).
    """

    def __init__(self, values: Mapping[str, Any] | None = None, unknowable: Iterable[str] = (),
                 absent: Iterable[str] = ()):
        self._values: dict[str, ContextValue] = {k.lower(): normalize_value(v) for k, v in (values or {}).items()}
        self._unknowable = _KeySet(unknowable)
        self._absent = _KeySet(absent)
        self._resolved: dict[str, Resolved] = {}
        self._lookups: dict[str, Lookup] = {}

    def lookup(self, key: str) -> Lookup:
        found = self._lookups.get(key)
        if found is None:
            found = self._lookups[key] = self._lookup(key)
        return found

    def _lookup(self, key: str) -> Lookup:
        lowered = key.lower()
        if lowered in self._values:
            return Lookup(present=True, value=self._values[lowered])
        unknowable = lowered in self._unknowable and lowered not in self._absent
        return Lookup(present=False, unknowable=unknowable)

    def resolve(self, text: str) -> Resolved:
        """Return ``resolve(text, self)``, remembered for this context."""
        found = self._resolved.get(text)
        if found is None:
            found = self._resolved[text] = resolve(text, self)
        return found

    def get(self, key: str) -> ContextValue | None:
        return self._values.get(key.lower())

    def items(self) -> Iterable[tuple[str, ContextValue]]:
        return self._values.items()


class _KeySet:
    """Key names, prefixes ending in ``*``, or ``*`` alone, compared case-insensitively."""

    def __init__(self, names: Iterable[str]):
        lowered = {name.lower() for name in names}
        self._everything = "*" in lowered
        self._prefixes = tuple(name[:-1] for name in lowered if name.endswith("*") and name != "*")
        self._names = frozenset(name for name in lowered if not name.endswith("*"))

    def __contains__(self, key: str) -> bool:
        return self._everything or key in self._names or any(key.startswith(p) for p in self._prefixes)


@dataclass(frozen=True)
class Resolved:
    """A text after variable substitution; ``text`` is None when a variable failed."""

    text: str | None
    missing: str = ""      # the variable's key when it has no value and no default
    unknowable: str = ""   # the variable's key when its value cannot be known


def escape_literal(value: str) -> str:
    """Mark ``*`` and ``?`` in a substituted value as literal characters."""
    return value.replace("*", LITERAL_STAR).replace("?", LITERAL_QUESTION)


def unmark(text: str) -> str:
    """Turn literal markers back into plain characters, for exact comparisons."""
    return text.replace(LITERAL_STAR, "*").replace(LITERAL_QUESTION, "?")


def has_variables(text: str) -> bool:
    return "${" in text


def resolve(text: str, context: RequestContext) -> Resolved:
    """Substitute every ``${...}`` in ``text`` from ``context``.

    >>> resolve("home/${aws:username}/*", RequestContext({"aws:username": "alice"})).text
    'home/alice/*'
    >>> resolve("home/${aws:username}/*", RequestContext()).missing
    'aws:username'
    """
    if "${" not in text:
        return Resolved(text)
    parts: list[str] = []
    position = 0
    for match in _VARIABLE.finditer(text):
        parts.append(text[position:match.start()])
        position = match.end()
        body = match.group(1)
        if body.strip() == "*":
            parts.append(LITERAL_STAR)
            continue
        if body.strip() == "?":
            parts.append(LITERAL_QUESTION)
            continue
        if body.strip() == "$":
            parts.append("$")
            continue
        parsed = _VARIABLE_BODY.fullmatch(body)
        if parsed is None:
            return Resolved(None, missing=body)
        key, default = parsed.group(1), parsed.group(2)
        found = context.lookup(key)
        if found.present and isinstance(found.value, str):
            parts.append(escape_literal(found.value))
        elif found.unknowable:
            return Resolved(None, unknowable=key)
        elif default is not None:
            parts.append(escape_literal(default.replace("''", "'")))
        else:
            return Resolved(None, missing=key)
    parts.append(text[position:])
    return Resolved("".join(parts))
