"""The shared retention reference cases, each answered by the function its question names.

The cases live in ``shared/cases/retention_cases.jsonl`` beside the repository
clone. An explicit pattern table maps each question to one function. A question that
no pattern matches, or that two patterns match, fails the test, so no function is
guessed at run time.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from datamap.retention import (
    EVERY_OBJECT, ObjectScope, Retention, Verdict, backup_job_allowed, backup_plan_retention, bucket_retention,
    cold_storage_minimum_met, continuous_backup_retention, covers_every_object, deletes_noncurrent_versions,
    log_group_retention, object_retention, replica_retention, replicates_to, trail_bucket_retention,
)

CASES_FILE = Path(__file__).resolve().parents[2].parent / "shared" / "cases" / "retention_cases.jsonl"

Answer = Retention | Verdict


def _load_cases() -> list[dict[str, Any]]:
    if not CASES_FILE.exists():
        return []
    lines = CASES_FILE.read_text(encoding="utf-8").splitlines()
    return [json.loads(line) for line in lines if line.strip()]


CASES = _load_cases()


def _bucket(resource: dict, name: str) -> dict:
    return next(b for b in resource["Buckets"] if b["Name"] == name)


def _source_and_replica(resource: dict, replica: str) -> tuple[dict, dict]:
    source = next(b for b in resource["Buckets"] if b["Name"] != replica)
    return source, _bucket(resource, replica)


def _tags(text: str) -> dict[str, str]:
    return dict(pair.split("=", 1) for pair in text.split(" and "))


def _created_after_rule_date(resource: dict) -> Verdict:
    """Whether the rule still expires an object created one day after the rule's Date."""
    (rule,) = resource["LifecycleConfiguration"]["Rules"]
    date = dt.datetime.fromisoformat(rule["Expiration"]["Date"]).date()
    current = bucket_retention(resource, EVERY_OBJECT, created=date + dt.timedelta(days=1)).current
    return Verdict(current.is_days and f"lifecycle rule {rule['ID']}" in current.decided_by, current.reason)


def _keeps_at_least(retention: Retention, days: int) -> Verdict:
    return Verdict(retention.at_least(days), retention.reason)


def _vault(resource: dict, name: str) -> dict:
    return next(v for v in resource["BackupVaults"] if v["BackupVaultName"] == name)


# (question pattern, answer function of the case's resource and the pattern's match)
QUESTIONS: list[tuple[re.Pattern[str], Callable[[dict, re.Match[str]], Answer]]] = [
    (re.compile(r"^Maximum number of days after creation that any current object version can remain in the "
                r"bucket \("),
     lambda r, m: bucket_retention(r).current),
    (re.compile(r"^Is every object in the bucket, whatever its key, tags and size, matched by an enabled rule that "
                r"expires current versions\? \(true/false\)$"),
     lambda r, m: covers_every_object(r)),
    (re.compile(r"^Maximum number of days the object with key '(?P<key>[^']+)' (?:\(no tags\)|and no tags) is kept;"),
     lambda r, m: object_retention(r, m["key"], tags={}).data),
    (re.compile(r"^Are objects created after the rule's Date still expired by this rule\? \(true/false\)$"),
     lambda r, m: _created_after_rule_date(r)),
    (re.compile(r"^Maximum number of days an object tagged (?P<tags>\S+=\S+(?: and \S+=\S+)*) is kept\.$"),
     lambda r, m: bucket_retention(r, ObjectScope(tags=_tags(m["tags"]))).data),
    (re.compile(r"^For an object (?:uploaded without explicit lock settings and )?(?:that is )?never overwritten"
                r"(?: or deleted by a user)?, how many days after creation until its data is permanently deleted "
                r"\(every version that is not a delete marker\)\?"),
     lambda r, m: bucket_retention(r).data),
    (re.compile(r"^Maximum number of days a noncurrent version created while versioning was enabled is kept;"),
     lambda r, m: bucket_retention(r).noncurrent),
    (re.compile(r"^Does this configuration ever permanently delete a noncurrent object version\? \(true/false\)$"),
     lambda r, m: deletes_noncurrent_versions(r)),
    (re.compile(r"^Maximum number of days replicated object data is kept in (?P<replica>[\w.-]+);"),
     lambda r, m: replica_retention(*_source_and_replica(r, m["replica"])).data),
    (re.compile(r"^Maximum number of days the current version of a replicated object is kept in "
                r"(?P<replica>[\w.-]+);"),
     lambda r, m: replica_retention(*_source_and_replica(r, m["replica"])).current),
    (re.compile(r"^Are newly written objects in (?P<source>[\w.-]+) copied to (?P<replica>[\w.-]+)\? "
                r"\(true/false\)$"),
     lambda r, m: replicates_to(r, m["replica"])),
    (re.compile(r"^Maximum number of days a recovery point created by this plan is kept \(in any vault\);"),
     lambda r, m: backup_plan_retention(r)),
    (re.compile(r"^Does every rule's lifecycle satisfy the 90-day minimum in cold storage\? \(true/false\)$"),
     lambda r, m: cold_storage_minimum_met(r)),
    (re.compile(r"^Maximum number of days of point-in-time restore history this plan keeps \(in any vault\);"),
     lambda r, m: continuous_backup_retention(r)),
    (re.compile(r"^Will backup jobs created by rule '(?P<rule>[^']+)' succeed in (?P<vault>[\w.-]+)\? "
                r"\(true/false\)$"),
     lambda r, m: backup_job_allowed(r, m["rule"], _vault(r, m["vault"]))),
    (re.compile(r"^Does this log group keep events for at least (?P<days>\d+) days\? \(true/false\)$"),
     lambda r, m: _keeps_at_least(log_group_retention(r["logGroups"][0]), int(m["days"]))),
    (re.compile(r"^Maximum number of days the trail's log files are kept in (?P<bucket>[\w.-]+);"),
     lambda r, m: trail_bucket_retention(r["trailList"][0], _bucket(r, m["bucket"])).data),
]


def _answer(case: dict) -> Answer:
    matches = [(pattern.match(case["question"]), answer) for pattern, answer in QUESTIONS]
    matches = [(m, answer) for m, answer in matches if m]
    assert len(matches) == 1, f"{case['id']}: {len(matches)} answer functions match the question"
    match, answer = matches[0]
    return answer(case["resource"], match)


def _as_expected_type(answer: Answer) -> Any:
    """Convert a result to the form of a case's ``expected``: a number, "forever" or a bool."""
    if isinstance(answer, Verdict):
        return answer.value
    if answer.is_forever:
        return "forever"
    return answer.days if answer.is_days else "unknown"


def test_reference_file_present():
    assert CASES_FILE.exists(), f"reference cases not found at {CASES_FILE}"
    assert len(CASES) >= 27


@pytest.mark.parametrize("case", CASES, ids=[c["id"] for c in CASES])
def test_reference_case(case):
    answer = _answer(case)
    expected = case["expected"]

    assert _as_expected_type(answer) == expected, f"{case['id']}: {case['note']}"
    assert answer.reason, f"{case['id']}: the answer carries no reason"
