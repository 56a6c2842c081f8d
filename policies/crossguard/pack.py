"""The rule catalogue as a CrossGuard policy pack: one stack validation policy per rule.

Every policy converts the stack's resources into an inventory with the plan source's
converter (``datamap.sources.program.convert``), builds the access matrix, runs
``policies.engine.run_checks`` and reports each failed finding of its own rule with
``report_violation``. The message starts with the rule id and ends with the fix. The
policies share one evaluation per set of stack resources.

A finding that is unknown is not a pass, but it is not a violation of the rule either.
The extra policy ``pilot-undecided`` reports every unknown finding of every rule, so a
preview shows what it could not decide. It is advisory by default because a first
preview of a new tenant has many values the engine does not know until deploy.

Enforcement levels: critical and high rules are mandatory, medium and low ones advisory,
and ``pulumi ... --policy-pack-config FILE`` overrides them per policy name (the rule id).

The pilot spec comes from the stack's config, which the Pulumi CLI passes to the policy
pack as it does to the program (``pilot:*`` keys, validated by ``infra.spec``). When the
config has no ``pilot:customer``, the pack reads ``Pulumi.<stack>.yaml`` from the project
directory of this repository. Without a spec, rules that need one report unknown.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import logging
import re
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import pulumi
from pulumi_policy import EnforcementLevel, PolicyPack, ReportViolation, StackValidationArgs, StackValidationPolicy
from pulumi_policy import Severity as PolicySeverity

from datamap.access import build_matrix
from datamap.iam.errors import PolicyError
from datamap.sources.program import convert
from infra import naming
from infra import tags as tag_keys
from infra.errors import SpecError
from infra.sandbox.program import Registered
from infra.spec import PilotSpec, config_values, load_stack_file, parse_spec
from policies.catalog import RULES
from policies.crossguard.adapter import (
    account_and_partition,
    account_from_names,
    partition_of,
    stack_customers,
    to_registered,
)
from policies.engine import Report, run_checks
from policies.findings import Finding, Severity, Status
from policies.rules.base import Rule

log = logging.getLogger(__name__)

PACK_NAME = "pilotctl"
UNDECIDED_POLICY = "pilot-undecided"
PROJECT_DIR = Path(__file__).resolve().parents[2]  # the directory of Pulumi.yaml

DEFAULT_LEVELS = {Severity.CRITICAL: EnforcementLevel.MANDATORY, Severity.HIGH: EnforcementLevel.MANDATORY,
                  Severity.MEDIUM: EnforcementLevel.ADVISORY, Severity.LOW: EnforcementLevel.ADVISORY}

SpecLoader = Callable[[], PilotSpec | None]


@dataclass(frozen=True)
class Evaluation:
    """The report on one set of stack resources, the URN behind each inventory ARN, and stack-wide problems."""

    report: Report | None
    urns: dict[str, str]
    problems: tuple[str, ...] = ()


def spec_from_stack() -> PilotSpec | None:
    """Return the pilot spec from the stack config, or from ``Pulumi.<stack>.yaml`` when the config has none.

    Raises SpecError for an invalid spec.
    """
    values = config_values(pulumi.Config("pilot").get)
    stack = pulumi.get_stack()
    if values.get("customer") is not None:
        return parse_spec(values, f"Pulumi.{stack}.yaml (stack config)")
    path = PROJECT_DIR / f"Pulumi.{stack}.yaml"
    if stack and path.is_file():
        return load_stack_file(path)
    log.warning("no pilot spec: the stack config has no pilot:customer and %s does not exist", path)
    return None


def utc_today() -> dt.date:
    return dt.datetime.now(dt.UTC).date()


class Evaluator:
    """Evaluate the catalogue once per set of stack resources, for all policies of the pack."""

    def __init__(self, load_spec: SpecLoader, today: Callable[[], dt.date], rules: Sequence[Rule]):
        self.load_spec, self.today, self.rules = load_spec, today, tuple(rules)
        self._lock = threading.Lock()
        self._cached: tuple[str, Evaluation] | None = None

    def evaluate(self, args: StackValidationArgs) -> Evaluation:
        registered = [to_registered(resource) for resource in args.resources]
        on = self.today()
        key = _digest(registered, on)
        with self._lock:
            if self._cached is not None and self._cached[0] == key:
                return self._cached[1]
            evaluation = self._evaluate(registered, on)
            self._cached = (key, evaluation)
            return evaluation

    def _evaluate(self, registered: list[Registered], on: dt.date) -> Evaluation:
        problems: list[str] = []
        try:
            spec = self.load_spec()
        except SpecError as exc:
            spec = None
            problems.append(f"The pilot spec is invalid, so rules that need it report unknown: {exc}")

        customers = stack_customers(registered, tag_keys.CUSTOMER)
        if spec is not None:
            customer = spec.customer
        elif customers:
            customer = customers.most_common(1)[0][0]
        else:
            reason = (f"No pilot spec and no resource tagged {tag_keys.CUSTOMER}, so the stack is not a pilot "
                      "tenant and no rule ran.")
            return Evaluation(None, {}, (reason,))

        region = spec.region if spec else ""
        account_id, partition = _account(registered, customer, spec, region)
        conversion = convert(registered, customer, account_id, region, partition=partition, source="plan",
                             ids_from_aws=True)
        inventory = conversion.inventory

        matrix = None
        if not account_id:
            # Principal ARNs need the account id, so the access rules report unknown without a matrix.
            problems.append("The AWS account id is unknown, because no resource of the stack has a known ARN and "
                            "no tenant bucket name contains it, so the access matrix was not built and the access "
                            "rules report unknown. Preview again after the first deploy.")
        else:
            try:
                matrix = build_matrix(inventory, spec)
            except PolicyError as exc:
                problems.append(f"The access matrix could not be built, so the access rules report unknown: {exc}")
        report = run_checks(inventory, spec, matrix, on, self.rules)
        return Evaluation(report, dict(conversion.urns), tuple(problems))


def _account(registered: list[Registered], customer: str, spec: PilotSpec | None, region: str) -> tuple[str, str]:
    """Return the stack's AWS account id ("" when unknown) and partition."""
    account_id, partition = account_and_partition(registered)
    if account_id:
        return account_id, partition
    # Before the first deploy no ARN is known, but the tenant's bucket names already contain the account id.
    return account_from_names(registered, _bucket_patterns(customer, spec)), partition_of(region)


def _bucket_patterns(customer: str, spec: PilotSpec | None) -> list[re.Pattern[str]]:
    """Return patterns of the tenant's bucket names (``infra.naming``) with the account id as group "account"."""
    marker = "000000000000"
    names = [naming.audit_bucket(customer, marker)]
    if spec is not None:
        names += [naming.bucket(customer, store.name, marker) for store in spec.stores if store.kind == "s3"]
    return [re.compile(re.escape(name).replace(marker, r"(?P<account>\d{12})")) for name in names]


def _digest(registered: list[Registered], on: dt.date) -> str:
    """Return a hash of the resources' types, URNs and properties, and the check date."""
    payload = [(r.urn, r.type, r.inputs, r.dependencies) for r in sorted(registered, key=lambda r: r.urn)]
    text = json.dumps([on.isoformat(), payload], sort_keys=True, default=repr)
    return hashlib.sha256(text.encode()).hexdigest()


def violation_message(finding: Finding) -> str:
    """Return ``[rule id] message`` plus the fix, unless the message already contains one."""
    text = f"[{finding.rule_id}] {finding.message}"
    if "Fix:" not in finding.message and finding.fix:
        text += f" Fix: {finding.fix}"
    return text


def _rule_policy(rule: Rule, evaluator: Evaluator) -> StackValidationPolicy:
    def validate(args: StackValidationArgs, report_violation: ReportViolation) -> None:
        evaluation = evaluator.evaluate(args)
        if evaluation.report is None:
            args.not_applicable(evaluation.problems[0])
        for finding in evaluation.report.of_rule(rule.id):
            if finding.status is Status.FAIL:
                report_violation(violation_message(finding), evaluation.urns.get(finding.resource.arn))

    return StackValidationPolicy(
        name=rule.id, description=rule.title, validate=validate,
        enforcement_level=DEFAULT_LEVELS[rule.severity], severity=PolicySeverity(str(rule.severity)),
        remediation_steps=rule.fix, tags=[rule.id.split("-")[1].lower()])


def _undecided_policy(evaluator: Evaluator) -> StackValidationPolicy:
    def validate(args: StackValidationArgs, report_violation: ReportViolation) -> None:
        evaluation = evaluator.evaluate(args)
        for problem in evaluation.problems:
            report_violation(problem, None)
        if evaluation.report is None:
            return
        # One message per rule and resource: a first preview leaves hundreds of access cells undecided.
        groups: dict[tuple[str, str | None], list[Finding]] = {}
        for finding in evaluation.report.with_status(Status.UNKNOWN):
            groups.setdefault((finding.rule_id, evaluation.urns.get(finding.resource.arn)), []).append(finding)
        for (rule_id, urn), findings in groups.items():
            # The rules word their fixes for a scan ("grant the scanner ..."), so only the message, which names
            # the reason, is reported.
            more = f" ({len(findings) - 1} more undecided findings of {rule_id} here)" if len(findings) > 1 else ""
            report_violation(f"unknown: [{rule_id}] {findings[0].message}{more}", urn)

    return StackValidationPolicy(
        name=UNDECIDED_POLICY,
        description="Checks the pilot rules could not decide, because a value is not known before deploy or "
                    "the pilot spec is missing",
        validate=validate, enforcement_level=EnforcementLevel.ADVISORY,
        remediation_steps="Deploy, then preview again; or fix the input the message names.")


def build_policies(load_spec: SpecLoader = spec_from_stack, today: Callable[[], dt.date] = utc_today,
                   rules: Sequence[Rule] = RULES) -> list[StackValidationPolicy]:
    """Return the pack's policies: one per catalogue rule, then ``pilot-undecided``."""
    evaluator = Evaluator(load_spec, today, rules)
    return [*(_rule_policy(rule, evaluator) for rule in rules), _undecided_policy(evaluator)]


def serve() -> None:
    """Start the policy pack's gRPC server for the Pulumi engine; this call does not return."""
    PolicyPack(name=PACK_NAME, policies=build_policies(), enforcement_level=EnforcementLevel.ADVISORY,
               description="pilotctl's retention, access, protection, audit and ownership rules on one tenant stack")
