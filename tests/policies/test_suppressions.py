"""Suppressions: loading and validation, matching, expiry, and what they do to a report."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
import yaml

from infra.errors import InputError
from policies import suppressions
from policies.engine import Report
from policies.findings import Finding, ResourceRef, Severity, Status
from policies.rules.base import Rule
from policies.suppressions import Suppression, SuppressionError, apply_suppressions

ROOT = Path(__file__).resolve().parents[2]
TODAY = dt.date(2027, 2, 1)
BUCKET = ResourceRef("arn:aws:s3:::acme-records-111122223333", "acme-records-111122223333")
LOGS = ResourceRef("arn:aws:logs:eu-west-1:111122223333:log-group:/pilot/acme/app-logs", "/pilot/acme/app-logs")
USER = ResourceRef("arn:aws:iam::111122223333:user/pilot/acme/acme-ana.silva", "pilot-acme-access-user-ana.silva")


def rule(rule_id: str, severity: Severity = Severity.HIGH) -> Rule:
    return Rule(rule_id, f"title of {rule_id}", severity, "why", "how", lambda context, rule: [])


def finding(rule_id: str, status: Status, resource: ResourceRef = BUCKET,
            severity: Severity = Severity.HIGH) -> Finding:
    return Finding(rule_id, status, severity, resource, "observed", "expected", f"{rule_id} on {resource}.", "fix")


def report(*findings: Finding) -> Report:
    rules = {f.rule_id: rule(f.rule_id, f.severity) for f in findings}
    return Report("acme", "plan", TODAY, tuple(rules.values()), tuple(sorted(findings, key=Finding.sort_key)))


def entry(rule_id: str = "PILOT-RET-003", resource: str = BUCKET.arn, expires: dt.date = dt.date(2027, 7, 8),
          is_glob: bool = False) -> Suppression:
    return Suppression(rule_id, resource, "accepted for the test", expires, "Ana", is_glob, "test: suppressions[0]")


def write(tmp_path: Path, text: str, name: str = "suppressions.yaml") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


# Loading


def test_load_reads_every_key(tmp_path):
    path = write(tmp_path, """
suppressions:
  - rule: CKV_AWS_18
    resource: pilot-acme-audit-bucket
    reason: |
      Two lines
      of reason.
    expires: 2027-07-08
    owner: Mara Quinn
  - rule: CKV_AWS_40
    resource_glob: pilot-acme-access-user-*-assume
    reason: One reason.
    expires: "2027-01-31"
""")
    first, second = suppressions.load_file(path)

    assert first == Suppression("CKV_AWS_18", "pilot-acme-audit-bucket", "Two lines of reason.",
                                dt.date(2027, 7, 8), "Mara Quinn", False, f"{path}: suppressions[0]")
    assert second.is_glob is True
    assert second.resource == "pilot-acme-access-user-*-assume"
    assert second.expires == dt.date(2027, 1, 31)
    assert second.owner == ""


@pytest.mark.parametrize("text", ["", "# nothing yet\n", "suppressions:\n", "suppressions: []\n"])
def test_load_empty_file(tmp_path, text):
    assert suppressions.load_file(write(tmp_path, text)) == ()


def test_load_concatenates_files(tmp_path):
    one = write(tmp_path, "suppressions:\n- {rule: CKV_AWS_18, resource: a, reason: r, expires: 2027-01-01}\n")
    two = write(tmp_path, "suppressions:\n- {rule: CKV_AWS_21, resource: b, reason: r, expires: 2027-01-01}\n",
                "suppressions.acme.yaml")

    assert [e.rule_id for e in suppressions.load([one, two])] == ["CKV_AWS_18", "CKV_AWS_21"]


def test_default_paths_only_existing(tmp_path):
    assert suppressions.default_paths(tmp_path, "acme") == ()
    write(tmp_path, "", "suppressions.acme.yaml")
    write(tmp_path, "", "suppressions.globex.yaml")

    assert suppressions.default_paths(tmp_path, "acme") == (tmp_path / "suppressions.acme.yaml",)
    write(tmp_path, "")
    assert suppressions.default_paths(tmp_path, "acme") == (tmp_path / "suppressions.yaml",
                                                             tmp_path / "suppressions.acme.yaml")


VALID = {"rule": "CKV_AWS_18", "resource": "pilot-acme-audit-bucket", "reason": "why", "expires": "2027-07-08"}
ENTRY_ERRORS = [
    ({"reason": None}, ("suppressions[0].reason: invalid value <missing>; expected a non-empty sentence saying why "
                       "the finding is accepted")),
    ({"reason": "  "}, ("suppressions[0].reason: invalid value '  '; expected a non-empty sentence saying why the "
                       "finding is accepted")),
    ({"expires": None}, "suppressions[0].expires: invalid value <missing>; expected a date as YYYY-MM-DD"),
    ({"expires": "8 July 2027"}, ("suppressions[0].expires: invalid value '8 July 2027'; expected a date as "
                                 "YYYY-MM-DD")),
    ({"expires": "2027-02-30"}, ("suppressions[0].expires: invalid value '2027-02-30'; expected a date as "
                                "YYYY-MM-DD that exists in the calendar")),
    ({"rule": "ckv_aws_18"}, ("suppressions[0].rule: invalid value 'ckv_aws_18'; expected a rule id such as "
                             "PILOT-RET-003 or CKV_AWS_18")),
    ({"rule": None}, ("suppressions[0].rule: invalid value <missing>; expected a rule id such as PILOT-RET-003 or "
                     "CKV_AWS_18")),
    ({"resource": None}, ("suppressions[0].resource: invalid value <missing>; expected the exact ARN or name of the "
                         "resource, or a resource_glob pattern")),
    ({"resource": "pilot-acme-*"}, ("suppressions[0].resource: invalid value 'pilot-acme-*'; expected an exact ARN "
                                   "or name; write a pattern as resource_glob")),
    ({"resource_glob": "pilot-*"}, ("suppressions[0].resource_glob: invalid value 'pilot-*'; expected either "
                                   "resource or resource_glob, not both")),
    ({"resource": None, "resource_glob": "pilot-acme"}, ("suppressions[0].resource_glob: invalid value "
                                                        "'pilot-acme'; expected a pattern with *, ? or [...]; write "
                                                        "an exact name as resource")),
    ({"resource": None, "resource_glob": "*-assume"}, ("suppressions[0].resource_glob: invalid value '*-assume'; "
                                                      "expected a pattern that starts with fixed text, such as "
                                                      "pilot-acme-access-user-*")),
    ({"owner": ""}, "suppressions[0].owner: invalid value ''; expected a non-empty name, or no owner key"),
    ({"expiry": "2027-07-08"}, ("suppressions[0].expiry: unknown key with value '2027-07-08'; expected one of the "
                               "keys rule, resource, resource_glob, reason, expires, owner")),
]


@pytest.mark.parametrize("changes, message", ENTRY_ERRORS)
def test_entry_errors(tmp_path, changes, message):
    fields = {**VALID, **changes}
    fields = {key: value for key, value in fields.items() if value is not None}
    # The broken entry comes second, so the message must name index 1.
    path = write(tmp_path, yaml.safe_dump({"suppressions": [VALID, fields]}))

    with pytest.raises(SuppressionError) as raised:
        suppressions.load_file(path)

    assert str(raised.value) == f"{path}: {message.replace('suppressions[0]', 'suppressions[1]')}"
    assert raised.value.exit_code == 2


@pytest.mark.parametrize("text, message", [
    ("- rule: CKV_AWS_18\n", ("top level: invalid value [{'rule': 'CKV_AWS_18'}]; expected a mapping with the "
                             "single key suppressions")),
    ("suppression: []\n", ("top level: invalid value ['suppression']; expected a mapping with the single key "
                          "suppressions")),
    ("suppressions: {rule: CKV_AWS_18}\n", ("suppressions: invalid value {'rule': 'CKV_AWS_18'}; expected a list "
                                           "of entries")),
    ("suppressions:\n  - CKV_AWS_18\n", ("suppressions[0]: invalid value 'CKV_AWS_18'; expected a mapping with "
                                        "rule, resource, reason and expires")),
    ("suppressions:\n  - {rule: CKV_AWS_18, resource: a, reason: r, expires: 2027-07-08 10:00:00}\n",
     "suppressions[0].expires: invalid value 2027-07-08T10:00:00; expected a date as YYYY-MM-DD without a time"),
])
def test_document_errors(tmp_path, text, message):
    path = write(tmp_path, text)

    with pytest.raises(SuppressionError) as raised:
        suppressions.load_file(path)

    assert str(raised.value) == f"{path}: {message}"


def test_invalid_yaml_names_line(tmp_path):
    path = write(tmp_path, "suppressions:\n  - rule: [CKV_AWS_18\n")

    with pytest.raises(InputError, match=r"suppressions.yaml: line 3: invalid YAML \(expected ',' or ']'"):
        suppressions.load_file(path)


def test_missing_file(tmp_path):
    with pytest.raises(InputError, match="nothing.yaml: suppressions file not found"):
        suppressions.load_file(tmp_path / "nothing.yaml")


def test_repo_file_loads():
    entries = suppressions.load_file(ROOT / "suppressions.yaml")

    assert {e.rule_id for e in entries} == {"CKV_AWS_273", "CKV_AWS_40", "CKV_AWS_338", "CKV2_AWS_62",
                                            "CKV_AWS_144", "CKV_AWS_18", "CKV_AWS_252"}
    assert all(e.expires.year == 2027 for e in entries)
    assert all(e.resource.startswith("pilot-acme-") for e in entries)


# Matching and expiry


def test_matches_arn_or_name():
    assert entry(resource=BUCKET.arn).matches(finding("PILOT-RET-003", Status.FAIL))
    assert entry(resource=BUCKET.name).matches(finding("PILOT-RET-003", Status.FAIL))


def test_no_match_other_rule_or_resource():
    assert not entry(rule_id="PILOT-RET-002").matches(finding("PILOT-RET-003", Status.FAIL))
    assert not entry(resource="acme-records").matches(finding("PILOT-RET-003", Status.FAIL))
    assert not entry(resource=BUCKET.arn.upper()).matches(finding("PILOT-RET-003", Status.FAIL))


def test_glob_matches_only_when_marked():
    pattern = "pilot-acme-access-user-*"
    user_finding = finding("CKV_AWS_273", Status.FAIL, USER)

    assert entry("CKV_AWS_273", pattern, is_glob=True).matches(user_finding)
    assert not entry("CKV_AWS_273", pattern, is_glob=False).matches(user_finding)
    assert not entry("CKV_AWS_273", "pilot-globex-*", is_glob=True).matches(user_finding)


def test_expiry_day_still_applies():
    suppression = entry(expires=TODAY)

    assert suppression.is_expired(TODAY) is False
    assert suppression.is_expired(TODAY + dt.timedelta(days=1)) is True


# Applying to a report


def test_suppressed_fail_stops_counting():
    failed = finding("PILOT-RET-003", Status.FAIL)
    result = apply_suppressions(report(failed), [entry()], TODAY)

    assert result.failed is False
    assert result.findings == (failed,)
    assert result.findings[0].status is Status.FAIL
    assert result.suppressed() == (failed,)
    assert result.mark_of(failed).active is True
    assert "Suppressed until 2027-07-08" in result.mark_of(failed).note()
    assert result.counts()["fail"] == 1
    assert result.unsuppressed(Status.FAIL) == ()


def test_expired_suppression_counts_again():
    failed = finding("PILOT-RET-003", Status.FAIL)
    result = apply_suppressions(report(failed), [entry(expires=dt.date(2027, 1, 31))], TODAY)

    assert result.failed is True
    assert result.suppressed() == ()
    assert result.expired_suppressions() == (failed,)
    assert result.mark_of(failed).note().startswith("Suppression expired on 2027-01-31 (test: suppressions[0])")


def test_suppressed_unknown_stays_unknown():
    unknown = finding("PILOT-RET-006", Status.UNKNOWN, LOGS)
    result = apply_suppressions(report(unknown), [entry("PILOT-RET-006", LOGS.name)], TODAY)

    assert result.findings[0].status is Status.UNKNOWN
    assert result.with_status(Status.PASS) == ()
    assert result.suppressed() == (unknown,)
    assert result.unsuppressed(Status.UNKNOWN) == ()


def test_unexpired_entry_wins():
    failed = finding("PILOT-RET-003", Status.FAIL)
    old, current = entry(expires=dt.date(2026, 12, 31)), entry(expires=dt.date(2027, 3, 1))
    result = apply_suppressions(report(failed), [old, current], TODAY)

    assert result.mark_of(failed).suppression == current
    assert result.failed is False


def test_unused_entries_of_rules_that_ran():
    failed = finding("PILOT-RET-003", Status.FAIL)
    stale = entry(resource="arn:aws:s3:::gone")
    other_tool = entry(rule_id="CKV_AWS_18")
    result = apply_suppressions(report(failed), [entry(), stale, other_tool], TODAY)

    assert result.unused_suppressions == (stale,)


def test_fail_on_threshold():
    medium = finding("PILOT-RET-001", Status.FAIL, LOGS, Severity.MEDIUM)
    high = finding("PILOT-RET-003", Status.FAIL)
    result = apply_suppressions(report(medium, high), [entry()], TODAY)

    assert result.failures_at(Severity.LOW) == (medium,)
    assert result.failures_at(Severity.MEDIUM) == (medium,)
    assert result.failures_at(Severity.HIGH) == ()


def test_apply_defaults_to_report_date():
    failed = finding("PILOT-RET-003", Status.FAIL)

    assert apply_suppressions(report(failed), [entry(expires=TODAY)]).failed is False
    assert apply_suppressions(report(failed), [entry(expires=TODAY - dt.timedelta(days=1))]).failed is True
