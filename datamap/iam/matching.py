"""Wildcard matching of actions, resources and ARNs, as IAM matches them.

- Actions: ``*`` and ``?`` anywhere, case-insensitive (``s3:delete*`` matches
  ``s3:DeleteObject``).
- Resource ARNs: case-sensitive. A wildcard stays inside its colon-separated ARN
  segment, except a ``*`` that is the last character of a segment, which may expand
  across colons (IAM User Guide, "IAM JSON policy elements: Resource"). Inside a
  segment ``*`` crosses ``/``, so ``arn:aws:s3:::bucket/*`` covers every key.
- ``StringLike``: ``*`` and ``?`` anywhere, case-sensitive.
- ``ArnLike`` and ``ArnEquals``: each of the six colon-separated ARN components is
  matched on its own, and each may hold ``*`` and ``?``.

Patterns may contain the literal markers of ``datamap.iam.context`` (from ``${*}``
or substituted values); a marker matches only the literal character.
"""

from __future__ import annotations

import re
from functools import lru_cache

from datamap.iam.context import LITERAL_QUESTION, LITERAL_STAR

_LITERALS = {LITERAL_STAR: re.escape("*"), LITERAL_QUESTION: re.escape("?")}


@lru_cache(maxsize=65536)
def _action_regex(pattern: str) -> re.Pattern[str]:
    pieces = []
    for char in pattern.lower():
        if char == "*":
            pieces.append(".*")
        elif char == "?":
            pieces.append(".")
        else:
            pieces.append(re.escape(char))
    return re.compile("".join(pieces), re.DOTALL)


@lru_cache(maxsize=65536)
def actions_regex(patterns: tuple[str, ...]) -> re.Pattern[str]:
    """Compile Action values into one regex that fullmatches a lowercased action name matching any of them."""
    return re.compile("|".join(f"(?:{_action_regex(pattern).pattern})" for pattern in patterns), re.DOTALL)


def action_matches(pattern: str, action: str) -> bool:
    """Return True when an Action value matches an action name (case-insensitive)."""
    if pattern == "*":
        return True
    return _action_regex(pattern).fullmatch(action.lower()) is not None


@lru_cache(maxsize=65536)
def resource_regex(pattern: str) -> re.Pattern[str]:
    """Compile a Resource value; see the module docstring for the segment rule."""
    pieces = []
    for index, char in enumerate(pattern):
        if char == "*":
            at_segment_end = index + 1 == len(pattern) or pattern[index + 1] == ":"
            pieces.append(".*" if at_segment_end else "[^:]*")
        elif char == "?":
            pieces.append("[^:]")
        elif char in _LITERALS:
            pieces.append(_LITERALS[char])
        else:
            pieces.append(re.escape(char))
    return re.compile("".join(pieces), re.DOTALL)


def resource_matches(pattern: str, arn: str) -> bool:
    """Return True when a Resource value matches a resource ARN (case-sensitive)."""
    if pattern == "*":
        return True
    return resource_regex(pattern).fullmatch(arn) is not None


@lru_cache(maxsize=65536)
def _like_regex(pattern: str, ignore_case: bool) -> re.Pattern[str]:
    pieces = []
    for char in pattern:
        if char == "*":
            pieces.append(".*")
        elif char == "?":
            pieces.append(".")
        elif char in _LITERALS:
            pieces.append(_LITERALS[char])
        else:
            pieces.append(re.escape(char))
    return re.compile("".join(pieces), re.DOTALL | (re.IGNORECASE if ignore_case else 0))


def string_like(pattern: str, value: str) -> bool:
    """Return True when a StringLike value matches (``*`` and ``?`` anywhere, case-sensitive)."""
    return _like_regex(pattern, False).fullmatch(value) is not None


@lru_cache(maxsize=65536)
def arn_like(pattern: str, value: str) -> bool:
    """Return True when an ArnLike / ArnEquals value matches an ARN, component by component."""
    pattern_parts = pattern.split(":", 5)
    value_parts = value.split(":", 5)
    if len(pattern_parts) != 6 or len(value_parts) != 6:
        return False
    return all(string_like(p, v) for p, v in zip(pattern_parts, value_parts))


def arn_account(arn: str) -> str:
    """Return the account field of an ARN, or "" when it has none (S3 buckets) or is not an ARN."""
    parts = arn.split(":", 5)
    return parts[4] if len(parts) == 6 and parts[0] == "arn" else ""


def arn_service(arn: str) -> str:
    parts = arn.split(":", 5)
    return parts[2] if len(parts) == 6 and parts[0] == "arn" else ""


def literal_prefix(pattern: str) -> str:
    """Return the part of a pattern before its first wildcard or variable."""
    cut = len(pattern)
    for marker in ("*", "?", "${", LITERAL_STAR, LITERAL_QUESTION):
        found = pattern.find(marker)
        if found != -1:
            cut = min(cut, found)
    return pattern[:cut]
