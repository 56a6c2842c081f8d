"""Write a check report as JSON: counts, the rules that ran and every finding.

``counts`` includes suppressed findings; ``unsuppressed_counts`` leaves them out. A
finding that matched a suppression has a ``suppression`` object whose ``state`` is
``suppressed`` or ``expired``.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from policies.engine import Report
from policies.findings import Finding, Status

FORMAT_VERSION = 1


def to_json(report: Report) -> dict[str, Any]:
    """Return the report as plain JSON-compatible data."""
    return {
        "format": FORMAT_VERSION,
        "customer": report.customer,
        "source": report.source,
        "today": report.today.isoformat(),
        "has_spec": report.has_spec,
        "has_matrix": report.has_matrix,
        "counts": report.counts(),
        "summary": report.summary(),
        # Findings not covered by an active suppression; these decide the exit code.
        "unsuppressed_counts": {str(status): len(report.unsuppressed(status)) for status in Status},
        "suppressed_count": len(report.suppressed()),
        "expired_suppression_count": len(report.expired_suppressions()),
        "unused_suppressions": [entry.to_json() for entry in report.unused_suppressions],
        "rules": [{"id": r.id, "title": r.title, "severity": str(r.severity), "rationale": r.rationale,
                   "fix": r.fix, "parameters": _plain(r.parameters)} for r in report.rules],
        "findings": [_finding(report, f) for f in report.findings],
    }


def dumps(report: Report) -> str:
    return json.dumps(to_json(report), indent=2, sort_keys=True) + "\n"


def write(report: Report, path: str | Path) -> Path:
    """Write the report to ``path`` as indented JSON, creating parent folders."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(dumps(report), encoding="utf-8")
    return path


def _finding(report: Report, finding: Finding) -> dict[str, Any]:
    """Return the finding as JSON, with its suppression (state suppressed or expired) when one matched."""
    data = finding.to_json()
    mark = report.mark_of(finding)
    if mark is not None:
        data["suppression"] = mark.to_json()
    return data


def _plain(value: Any) -> Any:
    if hasattr(value, "items"):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, set, frozenset)):
        return [_plain(v) for v in value]
    return value
