"""The engine, the report, the catalogue and the rule record."""

from __future__ import annotations

import logging

import pytest

from builders import (
    TODAY, bucket, cell, compliant_cells, context, inventory, lifecycle, matrix, secured_tenant, spec, store_tags,
    tenant,
)
from policies.catalog import RULES, rule_by_id
from policies.context import positive_days
from policies.engine import run_checks
from policies.findings import Finding, ResourceRef, Severity, Status
from policies.rules.base import Rule


def test_catalogue_ids_unique_and_complete():
    ids = [rule.id for rule in RULES]

    assert len(ids) == len(set(ids))
    assert ids == ["PILOT-RET-001", "PILOT-RET-002", "PILOT-RET-003", "PILOT-RET-004", "PILOT-RET-005",
                   "PILOT-RET-006", "PILOT-RET-007", "PILOT-ACC-001", "PILOT-ACC-002", "PILOT-ACC-003", "PILOT-ACC-004",
                   "PILOT-ACC-005", "PILOT-IDN-001", "PILOT-IDN-002", "PILOT-IDN-003", "PILOT-IDN-004",
                   "PILOT-PRO-001", "PILOT-PRO-002", "PILOT-PRO-003", "PILOT-AUD-001", "PILOT-AUD-002",
                   "PILOT-AUD-003", "PILOT-AUD-004", "PILOT-AUD-005", "PILOT-OWN-001", "PILOT-OWN-002"]


def test_catalogue_rules_documented():
    for rule in RULES:
        assert rule.title, rule.id
        assert rule.rationale, rule.id
        assert rule.fix, rule.id


def test_rule_by_id_unknown():
    with pytest.raises(KeyError, match="known ids: PILOT-RET-001"):
        rule_by_id("PILOT-NOPE")


def test_compliant_tenant_has_no_failures():
    # The acme spec keeps data 90 days after pilot end, which the 90-day records store
    # (76 + 7 days in the bucket, 7 in backups) needs for data written on the last day.
    dates = {"start": "2027-01-11", "end": "2027-04-09", "retentionDaysAfterEnd": 90}
    report = run_checks(inventory(*secured_tenant()), spec(dates=dates), matrix(*compliant_cells()), TODAY)

    assert report.failed is False
    assert report.counts()["fail"] == 0
    assert report.counts()["unknown"] == 0
    assert report.counts()["pass"] == len(report.findings)


def test_failures_sorted_first_and_counted():
    broken = secured_tenant(replace={"records": bucket("records", lifecycle_config=lifecycle(83, None))})
    report = run_checks(inventory(*broken), None, matrix(*compliant_cells(), cell("ana.silva", "records", "delete")),
                        TODAY)

    assert report.failed is True
    assert report.findings[0].status is Status.FAIL
    statuses = [f.status for f in report.findings]
    assert statuses == sorted(statuses, key=[Status.FAIL, Status.UNKNOWN, Status.PASS].index)
    assert report.summary()["high"]["fail"] == report.counts()["fail"]
    assert report.has_spec is False
    assert report.of_rule("PILOT-RET-003")[0].status is Status.FAIL


def test_summary_has_every_cell():
    report = run_checks(inventory(), spec(), None, TODAY, rules=())

    assert report.summary() == {str(s): {"pass": 0, "fail": 0, "unknown": 0} for s in Severity}
    assert report.findings == ()


def test_crashing_rule_becomes_unknown(caplog):
    def explode(ctx, rule):
        raise RuntimeError("boom")

    broken = Rule("PILOT-X-001", "Explodes", Severity.LOW, "test", "none", explode)
    with caplog.at_level(logging.ERROR, logger="policies.engine"):
        report = run_checks(inventory(), None, None, TODAY, rules=[broken])

    (finding,) = report.findings
    assert finding.status is Status.UNKNOWN
    assert "RuntimeError: boom" in finding.message
    assert "rule PILOT-X-001 failed" in caplog.text


def test_engine_does_not_change_inputs():
    resources = tenant()
    inv = inventory(*resources)
    before = inv.to_json()
    run_checks(inv, spec(), matrix(*compliant_cells()), TODAY)

    assert inv.to_json() == before


def test_finding_validates_and_serialises():
    finding = Finding("R-1", "fail", "high", ResourceRef("arn:x", "x"), "a", "b", "msg", "fix", ["e"])

    assert finding.status is Status.FAIL
    assert finding.severity is Severity.HIGH
    assert finding.to_json()["evidence"] == ["e"]
    with pytest.raises(ValueError):
        Finding("R-1", "maybe", "high", ResourceRef("", ""), "", "", "msg", "")
    with pytest.raises(ValueError):
        Finding("R-1", "pass", "high", ResourceRef("", ""), "", "", "", "")


def test_rule_parameters_frozen_and_overridable():
    rule = rule_by_id("PILOT-RET-002")
    stricter = rule.with_parameters(versions="data")

    assert rule.parameters["versions"] == "current"
    assert stricter.parameters["versions"] == "data"
    with pytest.raises(TypeError):
        rule.parameters["versions"] = "x"


def test_context_limit_sources():
    ctx = context()
    records = next(s for s in ctx.stores if s.name == "records")

    assert ctx.retention_limit(records).days == 90
    assert ctx.retention_limit(records).source == "tag pilot:retention-days and the pilot spec"


def test_context_finds_store_by_name_without_tag():
    untagged = bucket("records", resource_tags={"pilot:customer": "acme"})
    ctx = context(tenant(replace={"records": untagged}))

    assert "records" in {s.name for s in ctx.stores}
    assert ctx.missing_stores() == ()


@pytest.mark.parametrize("value, expected", [("90", 90), (" 7 ", 7), ("0", None), ("-3", None), ("ninety", None),
                                             (None, None)])
def test_positive_days(value, expected):
    assert positive_days(value) == expected


def test_context_limit_from_tag_or_spec_alone():
    no_spec = context(the_spec=None)
    records = next(s for s in no_spec.stores if s.name == "records")
    untagged = bucket("records", resource_tags={"pilot:customer": "acme"})
    with_spec = context(tenant(replace={"records": untagged}))
    spec_only = next(s for s in with_spec.stores if s.name == "records")

    assert no_spec.retention_limit(records).source == "tag pilot:retention-days"
    assert with_spec.retention_limit(spec_only).days == 90
    assert with_spec.retention_limit(spec_only).source == "the pilot spec"


def test_context_limit_takes_stricter_spec():
    long_tag = bucket("records", resource_tags=store_tags("records", retention_days="365"))
    ctx = context(tenant(replace={"records": long_tag}))
    records = next(s for s in ctx.stores if s.name == "records")

    assert ctx.retention_limit(records).days == 90
    assert ctx.retention_limit(records).source == "the pilot spec, shorter than tag pilot:retention-days (365 days)"
