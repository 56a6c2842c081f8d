"""Turn a checkov run into pilotctl rules and findings, so its results share every report and exit code.

Each checkov check becomes a rule with the check id as its id. Each result on a resource
becomes a finding on the Pulumi resource behind the Terraform address. checkov run
offline (``BC_SKIP_MAPPING=TRUE``, no Prisma Cloud key) reports no severity, so
``CHECK_SEVERITY`` sets pilotctl's own for the checks on public exposure, administrator
rights and retention. Every other check is medium.

    run = run_checkov(resources, workdir)
    rules, findings = checkov_findings(run, resources)
    report = report.with_findings(rules, findings)
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from infra.sandbox.program import Registered
from policies.checkov.runner import CheckovResult, CheckRecord
from policies.findings import Finding, ResourceRef, Severity, Status
from policies.rules.base import Rule

DEFAULT_SEVERITY = Severity.MEDIUM
CHECK_SEVERITY: dict[str, Severity] = {
    # Public access to a bucket.
    "CKV_AWS_20": Severity.HIGH, "CKV_AWS_57": Severity.HIGH, "CKV_AWS_53": Severity.HIGH,
    "CKV_AWS_54": Severity.HIGH, "CKV_AWS_55": Severity.HIGH, "CKV_AWS_56": Severity.HIGH,
    "CKV2_AWS_6": Severity.HIGH, "CKV_AWS_70": Severity.HIGH,
    # Administrator rights, privilege escalation, or a key anyone may use.
    "CKV_AWS_62": Severity.HIGH, "CKV_AWS_63": Severity.HIGH, "CKV_AWS_274": Severity.HIGH,
    "CKV2_AWS_40": Severity.HIGH, "CKV2_AWS_56": Severity.HIGH, "CKV_AWS_286": Severity.HIGH,
    "CKV_AWS_33": Severity.HIGH,
    # Logs that never expire, and stores whose retention pilotctl cannot read.
    "CKV_AWS_66": Severity.HIGH, "CKV_PILOT_1": Severity.HIGH,
}
# checkov's result names -> pilotctl statuses. A skipped check decided nothing, so it is unknown.
STATUS_OF_RESULT = {"passed": Status.PASS, "failed": Status.FAIL, "skipped": Status.UNKNOWN}

COVERAGE_RULE = Rule(
    "PILOT-CKV-001", "checkov checked every resource the program declares", Severity.MEDIUM,
    "A resource type missing from the Terraform name table is left out of the plan, so checkov never sees it.",
    "Add the resource type to TERRAFORM_TYPES in policies/checkov/terraform_names.py.",
    lambda context, rule: ())


def checkov_findings(run: CheckovResult, resources: Sequence[Registered] = (),
                     ) -> tuple[tuple[Rule, ...], tuple[Finding, ...]]:
    """Return one rule per checkov check in the run, and one finding per result.

    ``resources`` are the ones the plan was made from. They give each finding its ARN
    where the resource has one; policies and other sub-resources have none. Resources
    that checkov could not see (types with no Terraform name) each get an unknown
    finding of ``PILOT-CKV-001``.
    """
    arns = {r.name: r.outputs.get("arn") for r in resources if isinstance(r.outputs.get("arn"), str)}
    rules: dict[str, Rule] = {}
    findings: list[Finding] = []
    for record in run.records:
        rule = rules.get(record.check_id)
        if rule is None:
            rule = rules[record.check_id] = _rule(record, run.checkov_version)
        findings.append(_finding(rule, record, arns.get(record.pulumi_name or "", "")))

    coverage = [_unconverted_finding(item.pulumi_name, item.pulumi_type, item.urn)
                for item in run.plan.unconverted]
    ordered = [rules[check_id] for check_id in sorted(rules, key=_check_order)]
    return (*ordered, COVERAGE_RULE), (*findings, *coverage)


def _rule(record: CheckRecord, version: str) -> Rule:
    fix = (f"Follow checkov's guideline for {record.check_id}: {record.guideline}" if record.guideline
           else f"Change the resource in the Pulumi program to meet {record.check_id}, or suppress the finding "
                "with the reason it does not apply.")
    return Rule(record.check_id, record.name, CHECK_SEVERITY.get(record.check_id, DEFAULT_SEVERITY),
                f"checkov {version or '(version unknown)'} check on the Terraform plan of the Pulumi program.",
                fix, lambda context, rule: ())


def _finding(rule: Rule, record: CheckRecord, arn: str) -> Finding:
    status = STATUS_OF_RESULT.get(record.result, Status.UNKNOWN)
    name = record.pulumi_name or record.address
    resource = ResourceRef(arn=arn, name=name)
    where = f"{name} (Terraform address {record.address})"
    if status is Status.PASS:
        message = f"checkov {record.check_id} passed on {where}: {record.name}."
    elif status is Status.FAIL:
        message = f"checkov {record.check_id} failed on {where}: {record.name}. {rule.fix}"
    else:
        message = (f"checkov {record.check_id} returned {record.result!r} on {where}, so it decided nothing: "
                   f"{record.name}.")
    return rule.finding(status, resource, record.result, "passed", message, evidence=_evidence(record))


def _evidence(record: CheckRecord) -> Iterable[str]:
    yield f"checkov {record.check_id} on {record.address}"
    if record.urn:
        yield f"Pulumi URN {record.urn}"
    yield from record.details


def _unconverted_finding(name: str, pulumi_type: str, urn: str) -> Finding:
    return COVERAGE_RULE.finding(
        Status.UNKNOWN, ResourceRef(arn="", name=name), "not in the plan", "checked by checkov",
        f"checkov did not check {name}: its type {pulumi_type} has no Terraform name, so the plan leaves it out.",
        evidence=(f"Pulumi URN {urn}",) if urn else ())


def _check_order(check_id: str) -> tuple[str, int]:
    prefix, _, number = check_id.rpartition("_")
    return prefix, int(number) if number.isdigit() else 0
