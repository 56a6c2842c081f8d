"""Object scopes and S3 filters: which objects a question is about, and which a rule matches.

S3 matches a lifecycle or replication filter against three properties of an object:

- its key, by literal prefix, so ``*`` matches only keys that begin with an asterisk;
- its tags: every tag in the filter must be on the object with exactly that value,
  and extra tags on the object do not matter;
- for lifecycle rules, its size: ``ObjectSizeGreaterThan`` and
  ``ObjectSizeLessThan`` are strict bounds in bytes.

An ``ObjectScope`` describes the objects a question covers: every object, one object
with a given key and tags, or the objects under a prefix. Against a scope, a filter
matches all of the objects, some of them, or none. The maximum retention over a
scope comes from the objects that avoid every rule they can avoid. For any finite set
of longer prefixes there is a key under the scope's prefix that starts with none of
them, and an object may carry only the tags the scope requires. So only rules that
match all of the scope's keys and tags bound the maximum. The remaining freedom is
the object size, which is handled by trying each size where some filter changes.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from enum import Enum
from types import MappingProxyType
from typing import Any

# S3's maximum object size: 5 TiB.
MAX_OBJECT_SIZE = 5 * 1024 ** 4


class FilterError(ValueError):
    """A filter that S3 would not return, so what it matches cannot be known."""


class Match(Enum):
    ALL = "all"
    SOME = "some"
    NONE = "none"


@dataclass(frozen=True)
class ObjectScope:
    """A set of objects: keys under ``prefix`` (or exactly that key), carrying ``tags``, of ``size``.

    ``exact_tags`` means the objects carry these tags and no others; otherwise they
    may carry more. ``size`` None means any size from 0 bytes to 5 TiB.
    """

    prefix: str = ""
    exact_key: bool = False
    tags: Mapping[str, str] = field(default_factory=dict)
    exact_tags: bool = False
    size: int | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "tags", MappingProxyType(dict(self.tags)))
        if self.exact_key and not self.prefix:
            raise ValueError("an exact key must not be empty")
        if self.size is not None and not 0 <= self.size <= MAX_OBJECT_SIZE:
            raise ValueError(f"object size {self.size} is outside 0..{MAX_OBJECT_SIZE} bytes")

    @classmethod
    def one_object(cls, key: str, tags: Mapping[str, str] | None = None, size: int | None = None) -> ObjectScope:
        """Return the scope of one object with exactly ``tags`` (none when omitted)."""
        return cls(prefix=key, exact_key=True, tags=dict(tags or {}), exact_tags=True, size=size)

    def describe(self) -> str:
        if self.exact_key:
            text = f"object '{self.prefix}'"
        elif self.prefix:
            text = f"objects with keys starting with '{self.prefix}'"
        else:
            text = "every object"
        if self.tags:
            tag_text = ", ".join(f"{k}={v}" for k, v in sorted(self.tags.items()))
            text += f" tagged {tag_text}"
        elif self.exact_tags:
            text += " with no tags"
        if self.size is not None:
            text += f" of {self.size} bytes"
        return text


EVERY_OBJECT = ObjectScope()


@dataclass(frozen=True)
class ObjectFilter:
    """The objects a rule applies to: all conditions must hold (an empty filter matches every object)."""

    prefix: str = ""
    tags: tuple[tuple[str, str], ...] = ()
    size_greater_than: int | None = None
    size_less_than: int | None = None

    @property
    def has_size_bounds(self) -> bool:
        return self.size_greater_than is not None or self.size_less_than is not None

    def describe(self) -> str:
        parts = []
        if self.prefix:
            parts.append(f"keys starting with '{self.prefix}'")
        if self.tags:
            parts.append("objects tagged " + ", ".join(f"{k}={v}" for k, v in self.tags))
        if self.size_greater_than is not None:
            parts.append(f"objects larger than {self.size_greater_than} bytes")
        if self.size_less_than is not None:
            parts.append(f"objects smaller than {self.size_less_than} bytes")
        return " and ".join(parts) if parts else "every object"

    def match_keys_and_tags(self, scope: ObjectScope) -> Match:
        """Return whether the filter's prefix and tags match all, some or none of the scope."""
        key = self._match_key(scope)
        tags = self._match_tags(scope)
        if Match.NONE in (key, tags):
            return Match.NONE
        if key is Match.ALL and tags is Match.ALL:
            return Match.ALL
        return Match.SOME

    def admits_size(self, size: int) -> bool:
        if self.size_greater_than is not None and not size > self.size_greater_than:
            return False
        if self.size_less_than is not None and not size < self.size_less_than:
            return False
        return True

    def _match_key(self, scope: ObjectScope) -> Match:
        if scope.exact_key:
            return Match.ALL if scope.prefix.startswith(self.prefix) else Match.NONE
        if scope.prefix.startswith(self.prefix):
            return Match.ALL
        if self.prefix.startswith(scope.prefix):
            return Match.SOME
        return Match.NONE

    def _match_tags(self, scope: ObjectScope) -> Match:
        result = Match.ALL
        for key, value in self.tags:
            if key in scope.tags:
                if scope.tags[key] != value:
                    return Match.NONE
            elif scope.exact_tags:
                return Match.NONE
            else:
                result = Match.SOME
        return result


def size_candidates(filters: Iterable[ObjectFilter], scope: ObjectScope) -> tuple[int, ...]:
    """Return object sizes that together meet every combination of size bounds the filters draw.

    Membership in a filter changes only at its bounds, so checking 0, 5 TiB and each
    bound and its neighbour visits every region of sizes.
    """
    if scope.size is not None:
        return (scope.size,)
    points = {0, MAX_OBJECT_SIZE}
    for f in filters:
        for bound in (f.size_greater_than, f.size_less_than):
            if bound is not None:
                points.update((bound - 1, bound, bound + 1))
    return tuple(sorted(p for p in points if 0 <= p <= MAX_OBJECT_SIZE))


def parse_filter(rule: Mapping[str, Any], where: str) -> ObjectFilter:
    """Read the objects a lifecycle or replication rule applies to.

    Reads ``Filter`` (``Prefix``, ``Tag``, ``ObjectSizeGreaterThan``,
    ``ObjectSizeLessThan`` or ``And``) or the legacy rule-level ``Prefix``. A rule with
    neither applies to every object, the same as an empty ``Filter``. Keys whose value
    is None count as absent. Raises FilterError, naming ``where``, for anything S3
    would reject, because what such a filter matches cannot be known.
    """
    raw_filter = rule.get("Filter")
    legacy_prefix = rule.get("Prefix")
    if raw_filter is not None and legacy_prefix is not None:
        raise FilterError(f"{where} has both Filter and a rule-level Prefix")
    if raw_filter is None:
        if legacy_prefix is None:
            return ObjectFilter()
        return ObjectFilter(prefix=_text(legacy_prefix, f"{where} Prefix"))
    if not isinstance(raw_filter, Mapping):
        raise FilterError(f"{where} Filter is not a mapping")

    present = {k: v for k, v in raw_filter.items() if v is not None}
    unknown = sorted(set(present) - {"Prefix", "Tag", "ObjectSizeGreaterThan", "ObjectSizeLessThan", "And"})
    if unknown:
        raise FilterError(f"{where} Filter has unrecognised element {unknown[0]}")
    if len(present) > 1:
        raise FilterError(f"{where} Filter combines {', '.join(sorted(present))} outside an And element")
    if not present:
        return ObjectFilter()

    name, value = next(iter(present.items()))
    if name == "Prefix":
        return ObjectFilter(prefix=_text(value, f"{where} Filter.Prefix"))
    if name == "Tag":
        return ObjectFilter(tags=(_tag(value, f"{where} Filter.Tag"),))
    if name == "ObjectSizeGreaterThan":
        return ObjectFilter(size_greater_than=_size(value, f"{where} Filter.ObjectSizeGreaterThan"))
    if name == "ObjectSizeLessThan":
        return ObjectFilter(size_less_than=_size(value, f"{where} Filter.ObjectSizeLessThan"))
    return _parse_and(value, f"{where} Filter.And")


def _parse_and(value: Any, where: str) -> ObjectFilter:
    if not isinstance(value, Mapping):
        raise FilterError(f"{where} is not a mapping")
    present = {k: v for k, v in value.items() if v is not None}
    unknown = sorted(set(present) - {"Prefix", "Tags", "ObjectSizeGreaterThan", "ObjectSizeLessThan"})
    if unknown:
        raise FilterError(f"{where} has unrecognised element {unknown[0]}")
    raw_tags = present.get("Tags", ())
    if isinstance(raw_tags, (str, bytes)) or not isinstance(raw_tags, Iterable):
        raise FilterError(f"{where}.Tags is not a list")
    tags = tuple(_tag(t, f"{where}.Tags[{i}]") for i, t in enumerate(raw_tags))
    if len({k for k, _ in tags}) != len(tags):
        raise FilterError(f"{where}.Tags repeats a tag key")
    greater = _size(present["ObjectSizeGreaterThan"], f"{where}.ObjectSizeGreaterThan") \
        if "ObjectSizeGreaterThan" in present else None
    less = _size(present["ObjectSizeLessThan"], f"{where}.ObjectSizeLessThan") \
        if "ObjectSizeLessThan" in present else None
    return ObjectFilter(prefix=_text(present.get("Prefix", ""), f"{where}.Prefix"), tags=tags,
                        size_greater_than=greater, size_less_than=less)


def _text(value: Any, where: str) -> str:
    if not isinstance(value, str):
        raise FilterError(f"{where} is not a string")
    return value


def _tag(value: Any, where: str) -> tuple[str, str]:
    if not isinstance(value, Mapping) or not isinstance(value.get("Key"), str):
        raise FilterError(f"{where} has no Key")
    # A tag filter with a Key and no Value matches objects whose tag has an empty value.
    tag_value = value.get("Value")
    if tag_value is None:
        tag_value = ""
    return value["Key"], _text(tag_value, f"{where}.Value")


def _size(value: Any, where: str) -> int:
    number = whole_number(value)
    if number is None or number < 0:
        raise FilterError(f"{where} is not a whole number of bytes")
    return number


def whole_number(value: Any) -> int | None:
    """Return ``value`` as an int when it is a whole number (Pulumi mocks send floats), else None."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    if value != int(value):
        return None
    return int(value)
