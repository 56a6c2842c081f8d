"""Matching of AWS Backup selections against tenant resources, judged from the inventory.

AWS Backup (BackupSelection API reference) picks a resource when it matches
``Resources`` (ARN patterns) or ``ListOfTags`` (tag equalities, any one of them
suffices). Every ``Conditions`` entry must also hold, and ``NotResources`` excludes.
A selection with neither Resources nor ListOfTags picks every supported resource that
meets the conditions.

NOTE: AWS does not state in one place how Resources and ListOfTags combine, so a
resource that matches either counts as picked. Counting more resources can only
lower the retention limit, which makes a pass stricter, never looser.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from fnmatch import fnmatchcase
from typing import Any

from datamap.inventory import Resource

_TAG_KEY_PREFIX = "aws:ResourceTag/"


def selects(selection: Mapping[str, Any], resource: Resource) -> bool:
    """Return whether the selection may pick the resource (True when a condition cannot be judged)."""
    if any(fnmatchcase(resource.arn, str(pattern)) for pattern in selection.get("NotResources") or ()):
        return False
    if not _meets_conditions(selection.get("Conditions") or {}, resource):
        return False
    patterns = selection.get("Resources") or ()
    tag_entries = selection.get("ListOfTags") or ()
    if not patterns and not tag_entries:
        return True
    if any(fnmatchcase(resource.arn, str(pattern)) for pattern in patterns):
        return True
    return any(_tag_value(resource, entry.get("ConditionKey")) == entry.get("ConditionValue")
               for entry in tag_entries if str(entry.get("ConditionType", "STRINGEQUALS")).upper() == "STRINGEQUALS")


def _meets_conditions(conditions: Mapping[str, Any], resource: Resource) -> bool:
    for operator, entries in conditions.items():
        for entry in _entries(entries):
            key = str(entry.get("ConditionKey", ""))
            if not key.startswith(_TAG_KEY_PREFIX):
                continue  # a key other than a resource tag cannot be judged here, so it excludes nothing
            value = _tag_value(resource, key)
            expected = str(entry.get("ConditionValue", ""))
            if operator == "StringEquals" and value != expected:
                return False
            if operator == "StringNotEquals" and value == expected:
                return False
            if operator == "StringLike" and not fnmatchcase(value or "", expected):
                return False
            if operator == "StringNotLike" and value is not None and fnmatchcase(value, expected):
                return False
    return True


def _entries(entries: Any) -> Iterable[Mapping[str, Any]]:
    if isinstance(entries, Mapping):
        return (entries,)
    return tuple(e for e in entries or () if isinstance(e, Mapping))


def _tag_value(resource: Resource, key: Any) -> str | None:
    key = str(key or "")
    if key.startswith(_TAG_KEY_PREFIX):
        key = key[len(_TAG_KEY_PREFIX):]
    return resource.tags.get(key)
