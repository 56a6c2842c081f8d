"""Write a check report as SARIF 2.1.0, the format code-scanning services import.

One run with pilotctl as the driver. ``tool.driver.rules`` lists every rule of the report
(the catalogue, plus checkov's checks when they ran) with its title, rationale, fix and
severity. Each finding becomes one result:

- fail: level ``error`` for critical and high severity, ``warning`` for medium and low;
- unknown: level ``note`` with the property ``"pilotctl-status": "unknown"``. SARIF's own
  kind for "could not decide" is ``open``, which requires level ``none``, and viewers hide
  results of level ``none``. An unknown needs a person to look, so it stays a visible note;
- pass: left out by default, since code-scanning services list every result as an alert.
  With ``include_passes=True`` a pass is written with kind ``pass`` and level ``none``.

A suppressed finding keeps its level and carries ``suppressions`` with the reason as
``justification``; viewers then show it as dismissed. A finding whose suppression has
expired carries no ``suppressions``, so it is an open alert again. Its message and the
property ``pilotctl-suppression`` state the date the suppression expired.

Each result points at the line that declared the resource when ``declared_at`` maps the
resource's ARN or name to ``path:line``, and otherwise at the tenant's stack file. Relative
URIs have the base ``%SRCROOT%``, the directory pilotctl ran in; a file outside it gets an
absolute ``file:`` URI.
"""

from __future__ import annotations

import hashlib
import json
from collections import Counter
from collections.abc import Mapping
from importlib import metadata
from pathlib import Path
from typing import Any

from policies.engine import Report
from policies.findings import Finding, Severity, Status
from policies.rules.base import Rule

SCHEMA_URI = "https://docs.oasis-open.org/sarif/sarif/v2.1.0/errata01/os/schemas/sarif-schema-2.1.0.json"
SARIF_VERSION = "2.1.0"
SOURCE_ROOT = "%SRCROOT%"
FINGERPRINT_KEY = "pilotctlFinding/v1"
LEVEL_OF_FAILURE = {Severity.CRITICAL: "error", Severity.HIGH: "error", Severity.MEDIUM: "warning",
                    Severity.LOW: "warning"}
# GitHub code scanning ranks security alerts by this property: 9.0 and above is critical,
# 7.0 to 8.9 high, 4.0 to 6.9 medium, below 4.0 low.
SECURITY_SEVERITY = {Severity.CRITICAL: "9.5", Severity.HIGH: "8.0", Severity.MEDIUM: "5.5",
                     Severity.LOW: "3.0"}


def to_sarif(report: Report, stack_file: str, declared_at: Mapping[str, str] | None = None,
             include_passes: bool = False) -> dict[str, Any]:
    """Return the report as a SARIF log.

    ``stack_file`` is the tenant's stack file relative to the source root, such as
    ``Pulumi.acme.yaml``. ``declared_at`` maps a resource ARN or name to the
    ``path:line`` that declared it.
    """
    declared_at = declared_at or {}
    index = {rule.id: position for position, rule in enumerate(report.rules)}
    shared = Counter(_identity(finding) for finding in report.findings)
    results = [_result(report, finding, index, stack_file, declared_at, shared[_identity(finding)] > 1)
               for finding in report.findings if include_passes or finding.status is not Status.PASS]
    run: dict[str, Any] = {
        "tool": {"driver": {"name": "pilotctl", "version": _version(),
                            "rules": [_descriptor(rule) for rule in report.rules]}},
        "automationDetails": {"id": f"pilotctl/check/{report.customer}/"},
        "columnKind": "unicodeCodePoints",
        "results": results,
        "properties": {"customer": report.customer, "inventorySource": report.source,
                       "checkedOn": report.today.isoformat(), "hasSpec": report.has_spec,
                       "hasMatrix": report.has_matrix, "passesIncluded": include_passes},
    }
    return {"$schema": SCHEMA_URI, "version": SARIF_VERSION, "runs": [run]}


def dumps(report: Report, stack_file: str, declared_at: Mapping[str, str] | None = None,
          include_passes: bool = False) -> str:
    return json.dumps(to_sarif(report, stack_file, declared_at, include_passes), indent=2) + "\n"


def write(report: Report, path: str | Path, stack_file: str, declared_at: Mapping[str, str] | None = None,
          include_passes: bool = False) -> Path:
    """Write the SARIF log to ``path``, creating parent folders."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(dumps(report, stack_file, declared_at, include_passes), encoding="utf-8")
    return path


def level_of(finding: Finding) -> str:
    """Return the SARIF level: error or warning for a failure by severity, note for unknown, none for pass."""
    if finding.status is Status.FAIL:
        return LEVEL_OF_FAILURE[finding.severity]
    if finding.status is Status.UNKNOWN:
        return "note"
    return "none"


def _descriptor(rule: Rule) -> dict[str, Any]:
    return {
        "id": rule.id,
        "name": rule.title,
        "shortDescription": {"text": rule.title},
        "fullDescription": {"text": rule.rationale},
        "help": {"text": rule.fix},
        "defaultConfiguration": {"level": LEVEL_OF_FAILURE[rule.severity]},
        "properties": {"severity": str(rule.severity), "security-severity": SECURITY_SEVERITY[rule.severity],
                       "tags": ["pilotctl", _family(rule.id)]},
    }


def _result(report: Report, finding: Finding, index: Mapping[str, int], stack_file: str,
            declared_at: Mapping[str, str], shares_identity: bool) -> dict[str, Any]:
    mark = report.mark_of(finding)
    message = finding.message
    if mark is not None and not mark.active:
        message = f"{message} {mark.note()}"
    properties: dict[str, Any] = {"pilotctl-status": str(finding.status), "severity": str(finding.severity),
                                  "observed": finding.observed, "expected": finding.expected,
                                  "fix": finding.fix}
    if finding.evidence:
        properties["evidence"] = list(finding.evidence)
    result: dict[str, Any] = {"ruleId": finding.rule_id, "level": level_of(finding), "message": {"text": message}}
    if finding.rule_id in index:
        result["ruleIndex"] = index[finding.rule_id]
    if finding.status is Status.PASS:
        result["kind"] = "pass"
    result["locations"] = [_location(finding, stack_file, declared_at)]
    result["partialFingerprints"] = {FINGERPRINT_KEY: _fingerprint(finding, shares_identity)}
    if mark is not None and mark.active:
        entry = mark.suppression
        result["suppressions"] = [{"kind": "external", "status": "accepted", "justification": entry.reason,
                                   "properties": {"expires": entry.expires.isoformat(), "owner": entry.owner,
                                                  "source": entry.source}}]
    if mark is not None:
        properties["pilotctl-suppression"] = mark.to_json()
    result["properties"] = properties
    return result


def _location(finding: Finding, stack_file: str, declared_at: Mapping[str, str]) -> dict[str, Any]:
    resource = finding.resource
    declared = declared_at.get(resource.arn) or declared_at.get(resource.name)
    physical: dict[str, Any]
    path, _, line = (declared or "").rpartition(":")
    if declared and path and line.isdigit() and int(line) > 0:
        physical = {"artifactLocation": _artifact(path), "region": {"startLine": int(line)}}
    else:
        physical = {"artifactLocation": _artifact(stack_file)}
    logical = {"name": resource.name or resource.arn, "fullyQualifiedName": resource.arn or resource.name,
               "kind": "resource"}
    return {"physicalLocation": physical, "logicalLocations": [logical]}


def _artifact(uri: str) -> dict[str, str]:
    """Return an artifact location; only a relative URI gets the source root as its base."""
    if uri.startswith("file:"):
        return {"uri": uri}
    return {"uri": uri, "uriBaseId": SOURCE_ROOT}


def _identity(finding: Finding) -> str:
    return f"{finding.rule_id}|{finding.resource.arn or finding.resource.name}"


def _fingerprint(finding: Finding, shares_identity: bool) -> str:
    """Return a hash of rule id and resource, so a viewer tracks one alert across runs.

    When one rule reports several findings on one resource (such as one per data flow),
    the message is hashed too, so each keeps its own alert. Those fingerprints change
    when the message does.
    """
    identity = _identity(finding) + (f"|{finding.message}" if shares_identity else "")
    return hashlib.sha256(identity.encode("utf-8")).hexdigest()[:32]


def _family(rule_id: str) -> str:
    """Return the rule family: RET or ACC for pilotctl rules, checkov for checkov's checks."""
    parts = rule_id.split("-")
    if len(parts) == 3 and parts[0] == "PILOT":
        return parts[1]
    return "checkov" if rule_id.startswith("CKV") else "other"


def _version() -> str:
    try:
        return metadata.version("pilotctl")
    except metadata.PackageNotFoundError:
        return "0+unknown"
