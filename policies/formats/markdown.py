"""Write a check report as Markdown: a summary table, then failures and unknowns with observed, expected and fix.

Passing findings are counted in the summary and not listed one by one. The summary and
the Failures and Unknowns sections leave out suppressed findings, which get their own
table with reason and expiry date. A finding whose suppression expired is listed with its
status and the date its suppression expired, and is also named under Expired suppressions.
"""

from __future__ import annotations

from pathlib import Path

from policies.engine import Report
from policies.findings import Finding, Severity, Status


def render(report: Report) -> str:
    """Return the report as a Markdown document."""
    lines = [f"# Pilot checks for tenant {report.customer}", ""]
    lines.append(f"Inventory source: {report.source}. Checked on {report.today.isoformat()}.")
    missing = [name for name, present in (("pilot spec", report.has_spec), ("access matrix", report.has_matrix))
               if not present]
    if missing:
        lines.append(f"Run without {' and '.join(missing)}, so the rules that need them report unknown.")
    lines += ["", "## Summary", "", "| Severity | Fail | Unknown | Pass |", "| --- | ---: | ---: | ---: |"]
    lines += _summary_rows(report)
    lines += _suppression_summary(report)

    titles = {rule.id: rule.title for rule in report.rules}
    for status, heading in ((Status.FAIL, "Failures"), (Status.UNKNOWN, "Unknowns")):
        chosen = report.unsuppressed(status)
        lines += ["", f"## {heading}"]
        if not chosen:
            lines += ["", f"No {heading.lower()}."]
        elif status is Status.UNKNOWN:
            lines += ["", (f"{len(chosen)} checks could not decide. An unknown is not a pass: fix what kept the "
                          "check from deciding and run it again.")]
        for finding in chosen:
            lines += [""] + _finding_section(finding, titles.get(finding.rule_id, ""), report)
    lines += _suppressed_section(report)
    lines += _expired_section(report)

    lines += ["", "## Rules", "", "Counts include suppressed findings.", "",
              "| Rule | Title | Severity | Fail | Unknown | Pass |",
              "| --- | --- | --- | ---: | ---: | ---: |"]
    for rule in report.rules:
        found = report.of_rule(rule.id)
        tally = {status: sum(1 for f in found if f.status is status) for status in Status}
        title = _cell(rule.title) + ("" if found else " (nothing to check)")
        lines.append(f"| {rule.id} | {title} | {rule.severity} | {tally[Status.FAIL]} | "
                     f"{tally[Status.UNKNOWN]} | {tally[Status.PASS]} |")
    return "\n".join(lines) + "\n"


def write(report: Report, path: str | Path) -> Path:
    """Write the Markdown report to ``path``, creating parent folders."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(render(report), encoding="utf-8")
    return path


def _summary_rows(report: Report) -> list[str]:
    """Return one row per severity and a total, counting findings that are not suppressed."""
    rows = []
    totals = dict.fromkeys(Status, 0)
    for severity in Severity:
        tally = {status: sum(1 for f in report.unsuppressed(status) if f.severity is severity) for status in Status}
        for status, count in tally.items():
            totals[status] += count
        rows.append(f"| {severity} | {tally[Status.FAIL]} | {tally[Status.UNKNOWN]} | {tally[Status.PASS]} |")
    rows.append(f"| **total** | **{totals[Status.FAIL]}** | **{totals[Status.UNKNOWN]}** | "
                f"**{totals[Status.PASS]}** |")
    return rows


def _suppression_summary(report: Report) -> list[str]:
    suppressed, expired = report.suppressed(), report.expired_suppressions()
    if not suppressed and not expired and not report.unused_suppressions:
        return []
    by_status = ", ".join(f"{sum(1 for f in suppressed if f.status is status)} {status}" for status in Status)
    lines = ["", (f"Suppressed findings, left out of the table: {len(suppressed)} ({by_status}). "
                 f"Findings whose suppression expired, counted in the table again: {len(expired)}.")]
    if report.unused_suppressions:
        sources = "; ".join(entry.source for entry in report.unused_suppressions)
        lines += ["", f"{len(report.unused_suppressions)} suppressions matched no finding: {sources}."]
    return lines


def _suppressed_section(report: Report) -> list[str]:
    suppressed = report.suppressed()
    if not suppressed:
        return []
    lines = ["", "## Suppressed", "", "| Rule | Status | Resource | Expires | Owner | Reason |",
             "| --- | --- | --- | --- | --- | --- |"]
    for finding in suppressed:
        entry = report.marks[finding].suppression
        lines.append(f"| {finding.rule_id} | {finding.status} | {_cell(str(finding.resource))} | "
                     f"{entry.expires.isoformat()} | {_cell(entry.owner or '-')} | {_cell(entry.reason)} |")
    return lines


def _expired_section(report: Report) -> list[str]:
    expired = report.expired_suppressions()
    if not expired:
        return []
    lines = ["", "## Expired suppressions", ""]
    for finding in expired:
        entry = report.marks[finding].suppression
        lines.append(f"- {finding.rule_id} on {finding.resource} ({finding.status}): the suppression in "
                     f"{entry.source} expired on {entry.expires.isoformat()}.")
    return lines


def _finding_section(finding: Finding, title: str, report: Report) -> list[str]:
    heading = f"### {finding.rule_id} {finding.severity}: {finding.resource}"
    lines = [heading, ""]
    if title:
        lines += [f"_{title}_", ""]
    lines += [finding.message, "",
              f"- Observed: {finding.observed}",
              f"- Expected: {finding.expected}",
              f"- Fix: {finding.fix}"]
    if finding.resource.arn:
        lines.append(f"- Resource: `{finding.resource.arn}`")
    mark = report.mark_of(finding)
    if mark is not None and not mark.active:
        lines.append(f"- Suppression: {mark.note()}")
    if finding.evidence:
        lines.append("- Evidence:")
        lines += [f"  - {item}" for item in finding.evidence]
    return lines


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")
