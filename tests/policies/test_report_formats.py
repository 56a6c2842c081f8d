"""JSON and Markdown reports."""

from __future__ import annotations

import json

from builders import TODAY, bucket, compliant_cells, inventory, lifecycle, log_group, matrix, secured_tenant, spec
from policies.engine import run_checks
from policies.formats import json_out, markdown


def broken_report():
    resources = secured_tenant(replace={"records": bucket("records", lifecycle_config=lifecycle(83, None)),
                                "app-logs": log_group("app-logs", 30, errors={"retentionInDays": "Throttled"})})
    return run_checks(inventory(*resources), spec(), matrix(*compliant_cells()), TODAY)


def test_json_report_round_trips(tmp_path):
    report = broken_report()
    path = json_out.write(report, tmp_path / "out" / "checks.json")
    data = json.loads(path.read_text(encoding="utf-8"))

    assert data["customer"] == "acme"
    assert data["today"] == "2027-02-01"
    assert data["counts"] == report.counts()
    assert len(data["findings"]) == len(report.findings)
    assert data["findings"][0]["status"] == "fail"
    assert {r["id"] for r in data["rules"]} >= {"PILOT-RET-003", "PILOT-ACC-005"}
    assert data["rules"][0]["parameters"]["required_tags"][0] == "pilot:store"


def test_markdown_lists_failures_and_unknowns(tmp_path):
    report = broken_report()
    text = markdown.write(report, tmp_path / "checks.md").read_text(encoding="utf-8")

    assert "| **total** | **4** | **2** | **72** |" in text
    assert "### PILOT-RET-003 high: acme-records-111122223333" in text
    assert "- Observed: forever" in text
    assert "- Expected: at most 90 days" in text
    assert "- Fix: Give bucket acme-records-111122223333 a NoncurrentVersionExpiration" in text
    assert "### PILOT-RET-006 high: /pilot/acme/app-logs" in text
    assert "Throttled" in text


def test_markdown_omits_pass_details():
    text = markdown.render(broken_report())

    assert "within role recorder" not in text
    assert "| PILOT-ACC-001 | People have only their role's capabilities on each store | high | 0 | 0 | 9 |" in text


def test_markdown_marks_missing_inputs_and_empty_rules():
    report = run_checks(inventory(), None, None, TODAY)
    text = markdown.render(report)

    assert "Run without pilot spec and access matrix" in text
    assert "No failures." in text
    assert "(nothing to check)" in text
