"""JUnit XML output: one test suite per rule, one test case per finding."""

from __future__ import annotations

import datetime as dt
import xml.etree.ElementTree as ET

from policies.engine import Report
from policies.findings import Finding, ResourceRef, Severity, Status
from policies.formats import junit
from policies.rules.base import Rule
from policies.suppressions import Suppression, apply_suppressions

TODAY = dt.date(2027, 2, 1)
RECORDS = ResourceRef("arn:aws:s3:::acme-records-111122223333", "acme-records-111122223333")
REPORTS = ResourceRef("arn:aws:s3:::acme-reports-111122223333", "acme-reports-111122223333")
LOGS = ResourceRef("arn:aws:logs:eu-west-1:111122223333:log-group:/pilot/acme/app-logs", "/pilot/acme/app-logs")
POLICY = ResourceRef("", "pilot-acme-access-user-ana.silva-assume")


def rule(rule_id: str, severity: Severity) -> Rule:
    return Rule(rule_id, f"title of {rule_id}", severity, "why", f"fix of {rule_id}", lambda context, rule: [])


def finding(rule_id: str, status: Status, resource: ResourceRef, severity: Severity = Severity.HIGH) -> Finding:
    return Finding(rule_id, status, severity, resource, "seen", "wanted", f"{rule_id} {status} on {resource}.",
                   "the fix", ("evidence one",))


def parsed() -> ET.Element:
    findings = (
        finding("PILOT-RET-003", Status.FAIL, RECORDS),
        finding("PILOT-RET-003", Status.FAIL, REPORTS),
        finding("PILOT-RET-003", Status.PASS, LOGS),
        finding("PILOT-RET-006", Status.UNKNOWN, LOGS),
        finding("PILOT-RET-006", Status.UNKNOWN, RECORDS),
        finding("CKV_AWS_40", Status.FAIL, POLICY, Severity.MEDIUM),
    )
    rules = (rule("PILOT-RET-003", Severity.HIGH), rule("PILOT-RET-006", Severity.HIGH),
             rule("CKV_AWS_40", Severity.MEDIUM), rule("PILOT-ACC-004", Severity.CRITICAL))
    entries = [
        Suppression("CKV_AWS_40", POLICY.name, "Only assumes its own role.", dt.date(2027, 7, 8),
                    source="suppressions.yaml: suppressions[0]"),
        Suppression("PILOT-RET-003", REPORTS.arn, "Reports are replaced weekly.", dt.date(2027, 1, 15),
                    source="suppressions.yaml: suppressions[1]"),
        Suppression("PILOT-RET-006", RECORDS.name, "Read denied on purpose.", dt.date(2027, 7, 8),
                    source="suppressions.yaml: suppressions[2]"),
    ]
    report = Report("acme", "live", TODAY, rules, tuple(sorted(findings, key=Finding.sort_key)))
    return ET.fromstring(junit.dumps(apply_suppressions(report, entries, TODAY)).encode("utf-8"))


def case(root: ET.Element, rule_id: str, resource: ResourceRef) -> ET.Element:
    (found,) = [c for c in root.iter("testcase") if c.get("classname") == rule_id and c.get("name") == str(resource)]
    return found


def test_declaration_and_root():
    text = junit.dumps(Report("acme", "plan", TODAY, (), ()))

    assert text.startswith("<?xml version='1.0' encoding='utf-8'?>")
    root = ET.fromstring(text.encode("utf-8"))
    assert root.tag == "testsuites"
    assert root.get("tests") == "0"


def test_one_suite_per_rule():
    root = parsed()

    assert [s.get("name") for s in root.findall("testsuite")] == ["PILOT-RET-003", "PILOT-RET-006", "CKV_AWS_40",
                                                                 "PILOT-ACC-004"]
    for suite in root.findall("testsuite"):
        assert int(suite.get("tests")) == len(suite.findall("testcase")), suite.get("name")


def test_suite_counts():
    suites = {s.get("name"): s for s in parsed().findall("testsuite")}

    assert (suites["PILOT-RET-003"].get("tests"), suites["PILOT-RET-003"].get("failures"),
            suites["PILOT-RET-003"].get("skipped")) == ("3", "2", "0")
    assert (suites["PILOT-RET-006"].get("failures"), suites["PILOT-RET-006"].get("skipped")) == ("0", "2")
    assert (suites["CKV_AWS_40"].get("failures"), suites["CKV_AWS_40"].get("skipped")) == ("0", "1")
    assert suites["PILOT-ACC-004"].get("tests") == "0"


def test_root_totals():
    root = parsed()

    assert (root.get("tests"), root.get("failures"), root.get("errors"), root.get("skipped")) == ("6", "2", "0", "3")


def test_failure_element():
    failure = case(parsed(), "PILOT-RET-003", RECORDS).find("failure")

    assert failure.get("type") == "high"
    assert failure.get("message") == f"PILOT-RET-003 fail on {RECORDS}."
    assert "Observed: seen\nExpected: wanted\nFix: the fix" in failure.text
    assert "Evidence: evidence one" in failure.text


def test_unknown_is_skipped():
    skipped = case(parsed(), "PILOT-RET-006", LOGS).find("skipped")

    assert skipped.get("message").startswith("unknown: PILOT-RET-006 unknown on")


def test_suppressed_is_skipped_with_reason():
    root = parsed()
    failed = case(root, "CKV_AWS_40", POLICY)
    unknown = case(root, "PILOT-RET-006", RECORDS)

    assert failed.find("failure") is None
    assert failed.find("skipped").get("message") == ("suppressed fail: Suppressed until 2027-07-08 by "
                                                      "suppressions.yaml: suppressions[0]: Only assumes its own role.")
    assert unknown.find("skipped").get("message").startswith("suppressed unknown: Suppressed until 2027-07-08")


def test_expired_suppression_fails():
    failure = case(parsed(), "PILOT-RET-003", REPORTS).find("failure")

    assert failure is not None
    assert "Suppression expired on 2027-01-15" in failure.get("message")


def test_pass_is_plain_case():
    passed = case(parsed(), "PILOT-RET-003", LOGS)

    assert [child.tag for child in passed] == ["properties"]
    properties = {p.get("name"): p.get("value") for p in passed.iter("property")}
    assert properties == {"pilotctl.status": "pass", "pilotctl.severity": "high", "pilotctl.arn": LOGS.arn}


def test_finding_without_rule_kept():
    orphan = finding("PILOT-XYZ-001", Status.FAIL, RECORDS)
    root = ET.fromstring(junit.dumps(Report("acme", "plan", TODAY, (), (orphan,))).encode("utf-8"))

    assert [s.get("name") for s in root.findall("testsuite")] == ["PILOT-XYZ-001"]
    assert root.get("failures") == "1"
