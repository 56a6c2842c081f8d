"""S3 data-event coverage of one bucket by a tenant's trails, following CloudTrail's event selectors.

Semantics, from the CloudTrail API Reference (``DataResource``, ``AdvancedFieldSelector``):

- Basic selectors (``EventSelectors``): a ``DataResources`` entry of type
  ``AWS::S3::Object`` records objects by ARN prefix. ``arn:aws:s3`` means every
  bucket, ``arn:aws:s3:::NAME/`` every object of one bucket, and a longer value only
  keys under that prefix. Any other form counts as unknown here. ``ReadWriteType``
  ReadOnly or WriteOnly records only that half.
- Advanced selectors (``AdvancedEventSelectors``): the field selectors of one
  selector must all match. ``readOnly`` absent means reads and writes, ``true``
  only reads and ``false`` only writes. A filter on any other field (eventName,
  userIdentity.arn, ...) records only some events, so it does not cover the bucket.
- A trail records nothing unless it is logging, and a single-region trail records
  only events in its own region.

Each result is three-valued: True, False, or None when a setting was not read or a
value has a form CloudTrail does not document.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from datamap.iam.context import Tri
from datamap.inventory import Resource, thaw

S3_OBJECT = "AWS::S3::Object"
_CORE_FIELDS = ("eventCategory", "resources.type", "readOnly", "resources.ARN")
_SELECTOR_KEYS = ("EventSelectors", "AdvancedEventSelectors")


@dataclass
class Direction:
    """Whether reads (or writes) of every object are recorded, and by which selectors."""

    tri: Tri = Tri.FALSE
    by: list[str] = field(default_factory=list)

    @property
    def covered(self) -> bool | None:
        return {Tri.TRUE: True, Tri.FALSE: False, Tri.UNKNOWN: None}[self.tri]

    def describe(self) -> str:
        return {True: "recorded", False: "not recorded", None: "unknown"}[self.covered]

    def add(self, value: Tri, label: str) -> None:
        if value is Tri.TRUE:
            self.by.append(label)
        self.tri = self.tri | value


@dataclass
class Coverage:
    """Data-event coverage of one bucket by all trails, with the reasons a trail or selector falls short."""

    reads: Direction = field(default_factory=Direction)
    writes: Direction = field(default_factory=Direction)
    gaps: list[str] = field(default_factory=list)

    def deciding(self) -> list[str]:
        both = [label for label in self.reads.by if label in self.writes.by]
        return both or [f"reads: {', '.join(self.reads.by)}", f"writes: {', '.join(self.writes.by)}"]


def coverage(trails: Sequence[Resource], bucket: Resource) -> Coverage:
    """Return whether the trails record read and write data events on every object of ``bucket``."""
    result = Coverage()
    partition = bucket.arn.split(":")[1] if bucket.arn.startswith("arn:") else "aws"
    for trail in trails:
        usable = _usable(trail, bucket, result.gaps)
        if usable is Tri.FALSE:
            continue
        if any(key in trail.errors for key in _SELECTOR_KEYS):
            # Unread selectors may record anything, so this trail leaves both halves undecided.
            result.reads.add(Tri.UNKNOWN, f"trail {trail.name}")
            result.writes.add(Tri.UNKNOWN, f"trail {trail.name}")
            continue
        for label, reads, writes, note in _selectors(trail, bucket.arn, partition):
            if note:
                result.gaps.append(f"trail {trail.name} {label} {note}")
            result.reads.add(usable & reads, f"trail {trail.name} {label}")
            result.writes.add(usable & writes, f"trail {trail.name} {label}")
    if not trails:
        result.gaps.append("the tenant has no trail")
    return result


def _usable(trail: Resource, bucket: Resource, gaps: list[str]) -> Tri:
    """Return whether the trail can record events of the bucket at all, by logging and region; note unread selectors."""
    value = Tri.TRUE
    if not trail.known("IsLogging"):
        gaps.append(f"whether trail {trail.name} is logging was not read")
        value = Tri.UNKNOWN
    elif trail.get("IsLogging") is not True:
        gaps.append(f"trail {trail.name} is not logging")
        return Tri.FALSE
    bucket_region = bucket.region or bucket.get("Region") or ""
    multi_region = trail.get("IsMultiRegionTrail") if trail.known("IsMultiRegionTrail") else None
    same_region = bucket_region == trail.region if bucket_region and trail.region else None
    if multi_region is not True and same_region is not True:
        if multi_region is False and same_region is False:
            gaps.append(f"trail {trail.name} records only region {trail.region}, and bucket {bucket.name} is in "
                        f"{bucket_region}")
            return Tri.FALSE
        gaps.append(f"whether trail {trail.name} records events in the region of bucket {bucket.name} is unknown")
        value = value & Tri.UNKNOWN
    unread = [key for key in _SELECTOR_KEYS if key in trail.errors]
    if unread:
        gaps.append(f"the event selectors of trail {trail.name} could not be read ({trail.errors[unread[0]]})")
    return value


def _selectors(trail: Resource, bucket_arn: str, partition: str) -> Iterator[tuple[str, Tri, Tri, str]]:
    """Yield (selector label, reads covered, writes covered, note on what it misses) for each selector."""
    for index, selector in enumerate(thaw(trail.get("EventSelectors")) or ()):
        kind = selector.get("ReadWriteType") or "All"
        value, notes = Tri.FALSE, []
        for resource in selector.get("DataResources") or ():
            if resource.get("Type") == S3_OBJECT:
                for item in resource.get("Values") or ():
                    found, note = _basic_value(str(item), bucket_arn, partition)
                    value = value | found
                    if note:
                        notes.append(note)
        if value is not Tri.FALSE and kind != "All":
            notes.append(f"records only {kind} data events")
        reads = value if kind in ("All", "ReadOnly") else Tri.FALSE
        writes = value if kind in ("All", "WriteOnly") else Tri.FALSE
        yield f"event selector #{index} ({kind})", reads, writes, "; ".join(notes)
    for index, selector in enumerate(thaw(trail.get("AdvancedEventSelectors")) or ()):
        label = f"advanced event selector {selector.get('Name') or '#' + str(index)}"
        yield (label, *_advanced(selector, bucket_arn))


def _basic_value(value: str, bucket_arn: str, partition: str) -> tuple[Tri, str]:
    objects = bucket_arn + "/"
    if value in (f"arn:{partition}:s3", objects):
        return Tri.TRUE, ""
    if value.startswith(objects):
        return Tri.FALSE, f"records only keys starting with '{value[len(objects):]}'"
    if objects.startswith(value):
        return Tri.UNKNOWN, f"names {value}, a form the CloudTrail documentation does not describe"
    return Tri.FALSE, ""


def _advanced(selector: Mapping[str, Any], bucket_arn: str) -> tuple[Tri, Tri, str]:
    fields: dict[str, Mapping[str, Any]] = {}
    for entry in selector.get("FieldSelectors") or ():
        if entry.get("Field") in fields:
            return Tri.UNKNOWN, Tri.UNKNOWN, f"names field {entry.get('Field')} twice"
        fields[str(entry.get("Field"))] = entry
    if "Data" not in _values(fields.get("eventCategory"), "Equals"):
        return Tri.FALSE, Tri.FALSE, ""  # a management-event selector
    if S3_OBJECT not in _values(fields.get("resources.type"), "Equals"):
        return Tri.FALSE, Tri.FALSE, ""
    notes: list[str] = []
    objects = _arn_filter(fields.get("resources.ARN"), bucket_arn, notes)
    if objects is Tri.FALSE:
        return Tri.FALSE, Tri.FALSE, "; ".join(notes)
    for name, entry in fields.items():
        if name in _CORE_FIELDS:
            continue
        if name == "eventSource" and set(_operators(entry)) == {"Equals"} and \
                "s3.amazonaws.com" in _values(entry, "Equals"):
            continue
        notes.append(f"filters on {name}, so it records only some events")
        return Tri.FALSE, Tri.FALSE, "; ".join(notes)
    reads, writes = _read_only(fields.get("readOnly"), notes)
    return objects & reads, objects & writes, "; ".join(notes)


def _operators(entry: Mapping[str, Any]) -> dict[str, list[str]]:
    return {op: [str(v) for v in (values or ())] for op, values in entry.items() if op != "Field"}


def _values(entry: Mapping[str, Any] | None, operator: str) -> list[str]:
    return _operators(entry).get(operator, []) if entry else []


def _read_only(entry: Mapping[str, Any] | None, notes: list[str]) -> tuple[Tri, Tri]:
    if entry is None:
        return Tri.TRUE, Tri.TRUE
    operators = _operators(entry)
    if set(operators) - {"Equals", "NotEquals"}:
        notes.append("uses an operator on readOnly other than Equals and NotEquals")
        return Tri.UNKNOWN, Tri.UNKNOWN
    equals = {v.lower() for v in operators.get("Equals", ["true", "false"])}
    excluded = {v.lower() for v in operators.get("NotEquals", [])}
    reads = Tri.of("true" in equals and "true" not in excluded)
    writes = Tri.of("false" in equals and "false" not in excluded)
    if reads is Tri.FALSE:
        notes.append("records only write events (readOnly false)")
    if writes is Tri.FALSE:
        notes.append("records only read events (readOnly true)")
    return reads, writes


def _arn_filter(entry: Mapping[str, Any] | None, bucket_arn: str, notes: list[str]) -> Tri:
    """Return whether a resources.ARN field selector admits every object ARN of the bucket."""
    if entry is None:
        return Tri.TRUE
    objects = bucket_arn + "/"
    result = Tri.TRUE
    for operator, values in _operators(entry).items():
        if operator == "StartsWith":
            admits = Tri.of(any(objects.startswith(v) for v in values))
            if admits is Tri.FALSE and any(v.startswith(objects) for v in values):
                notes.append("records only some keys (resources.ARN StartsWith a key prefix)")
        elif operator in ("Equals", "EndsWith"):
            admits = Tri.FALSE
            if any(v.startswith(objects) or operator == "EndsWith" for v in values):
                notes.append(f"records only some keys (resources.ARN {operator})")
        elif operator == "NotStartsWith":
            admits = Tri.of(not any(objects.startswith(v) or v.startswith(objects) for v in values))
        elif operator == "NotEquals":
            admits = Tri.of(not any(v.startswith(objects) for v in values))
        elif operator == "NotEndsWith":
            admits = Tri.of(not values)
        else:
            notes.append(f"uses operator {operator} on resources.ARN, which this check does not model")
            admits = Tri.UNKNOWN
        if admits is Tri.FALSE and operator.startswith("Not"):
            notes.append(f"leaves some keys out (resources.ARN {operator})")
        result = result & admits
    return result
