"""Write a check report as Markdown: a summary table, then failures and unknowns with observed, expected and fix.

Passing findings are counted in the summary and not listed one by one.
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
    summary = report.summary()
    for severity in Severity:
        row = summary[str(severity)]
        lines.append(f"| {severity} | {row['fail']} | {row['unknown']} | {row['pass']} |")
    counts = report.counts()
    lines.append(f"| **total** | **{counts['fail']}** | **{counts['unknown']}** | **{counts['pass']}** |")

    titles = {rule.id: rule.title for rule in report.rules}
    for status, heading in ((Status.FAIL, "Failures"), (Status.UNKNOWN, "Unknowns")):
        chosen = report.with_status(status)
        lines += ["", f"## {heading}"]
        if not chosen:
            lines += ["", f"No {heading.lower()}."]
        for finding in chosen:
            lines += [""] + _finding_section(finding, titles.get(finding.rule_id, ""))

    lines += ["", "## Rules", "", "| Rule | Title | Severity | Fail | Unknown | Pass |",
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


def _finding_section(finding: Finding, title: str) -> list[str]:
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
    if finding.evidence:
        lines.append("- Evidence:")
        lines += [f"  - {item}" for item in finding.evidence]
    return lines


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")
