"""Write a check report as JUnit XML, which CI servers show as a test report.

One ``testsuite`` per rule, named by the rule id, in the report's rule order, and one
``testcase`` per finding, named by the resource:

- fail: a ``failure`` element whose ``type`` is the severity and whose text contains the
  observed and expected values and the fix;
- unknown: ``skipped`` with a message that starts with "unknown:", because the check did
  not run to a decision. CI servers count skipped cases separately, so unknowns stay
  visible without reading as passes;
- suppressed (any status): ``skipped`` with a message that starts with "suppressed",
  giving the status, the reason and the expiry date;
- pass: an empty test case.

A finding whose suppression has expired is written with its own status, and the message
of its ``failure`` or ``skipped`` element says when the suppression expired. Every test
case also carries ``pilotctl.status`` and ``pilotctl.severity`` properties.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path

from policies.engine import Report
from policies.findings import Finding, Status


def to_element(report: Report) -> ET.Element:
    """Return the report as a ``testsuites`` element."""
    root = ET.Element("testsuites", name=f"pilotctl check {report.customer}")
    totals = {"tests": 0, "failures": 0, "skipped": 0}
    rules = {rule.id: rule for rule in report.rules}
    # A finding of a rule missing from report.rules still gets a suite, so no finding is dropped.
    rule_ids = [*rules, *dict.fromkeys(f.rule_id for f in report.findings if f.rule_id not in rules)]

    for rule_id in rule_ids:
        findings = report.of_rule(rule_id)
        suite = ET.SubElement(root, "testsuite", name=rule_id)
        properties = ET.SubElement(suite, "properties")
        rule = rules.get(rule_id)
        if rule is not None:
            for name, value in (("title", rule.title), ("severity", str(rule.severity)), ("fix", rule.fix)):
                ET.SubElement(properties, "property", name=f"pilotctl.{name}", value=value)

        counts = {"tests": len(findings), "failures": 0, "skipped": 0}
        for finding in findings:
            outcome = _testcase(suite, report, finding)
            if outcome:
                counts[outcome] += 1
        suite.set("tests", str(counts["tests"]))
        suite.set("failures", str(counts["failures"]))
        suite.set("errors", "0")
        suite.set("skipped", str(counts["skipped"]))
        for key in totals:
            totals[key] += counts[key]

    root.set("tests", str(totals["tests"]))
    root.set("failures", str(totals["failures"]))
    root.set("errors", "0")
    root.set("skipped", str(totals["skipped"]))
    return root


def dumps(report: Report) -> str:
    element = to_element(report)
    ET.indent(element)
    return ET.tostring(element, encoding="unicode", xml_declaration=True) + "\n"


def write(report: Report, path: str | Path) -> Path:
    """Write the JUnit XML report to ``path``, creating parent folders."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(dumps(report), encoding="utf-8")
    return path


def _testcase(suite: ET.Element, report: Report, finding: Finding) -> str:
    """Add one test case; return "failures", "skipped" or "" for what it counts as."""
    case = ET.SubElement(suite, "testcase", name=str(finding.resource), classname=finding.rule_id)
    properties = ET.SubElement(case, "properties")
    ET.SubElement(properties, "property", name="pilotctl.status", value=str(finding.status))
    ET.SubElement(properties, "property", name="pilotctl.severity", value=str(finding.severity))
    if finding.resource.arn:
        ET.SubElement(properties, "property", name="pilotctl.arn", value=finding.resource.arn)

    mark = report.mark_of(finding)
    expired_note = f" {mark.note()}" if mark is not None and not mark.active else ""
    if report.is_suppressed(finding):
        ET.SubElement(case, "skipped", message=f"suppressed {finding.status}: {mark.note()}")
        return "skipped"
    if finding.status is Status.FAIL:
        failure = ET.SubElement(case, "failure", type=str(finding.severity),
                                message=finding.message + expired_note)
        failure.text = (f"Observed: {finding.observed}\nExpected: {finding.expected}\nFix: {finding.fix}"
                        + "".join(f"\nEvidence: {item}" for item in finding.evidence))
        return "failures"
    if finding.status is Status.UNKNOWN:
        ET.SubElement(case, "skipped", message=f"unknown: {finding.message}{expired_note}")
        return "skipped"
    if expired_note:
        ET.SubElement(case, "system-out").text = expired_note.strip()
    return ""
