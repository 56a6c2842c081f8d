"""Run the rules of the catalogue over one tenant and collect their findings in a report.

Entry point for the CLI and for tests::

    report = run_checks(inventory, spec, matrix, today=datetime.date.today())
    report.counts()          # {"pass": 12, "fail": 2, "unknown": 1}
    report.failed            # True when any failure is not suppressed

``policies.suppressions.apply_suppressions(report, entries, today)`` returns a copy whose
``marks`` record the suppression that matched each finding; statuses never change.

``spec`` may be None (an account without a pilot spec) and so may ``matrix`` (no
IAM evaluation); the rules that need them report unknown. A rule that raises does
not stop the run: it yields one unknown finding that names the error, and the error
is logged, because a crashed check must never read as a pass.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import logging
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import TYPE_CHECKING

from datamap.inventory import Inventory
from datamap.matrix import AccessMatrix
from infra.spec import PilotSpec
from policies.catalog import RULES
from policies.context import CheckContext
from policies.findings import Finding, Severity, Status
from policies.rules.base import Rule, tenant_ref

if TYPE_CHECKING:
    from policies.suppressions import Suppression, SuppressionMark

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Report:
    """Findings of one run, sorted failures first, then unknowns, then passes."""

    customer: str
    source: str                   # the inventory's source: "live", "plan" or "stack-export"
    today: dt.date
    rules: tuple[Rule, ...]
    findings: tuple[Finding, ...]
    has_spec: bool = True
    has_matrix: bool = True
    # The suppression that matched each finding, active or expired; see policies.suppressions.
    marks: Mapping[Finding, SuppressionMark] = field(default_factory=lambda: MappingProxyType({}))
    # Entries of rules that ran in this report but matched no finding.
    unused_suppressions: tuple[Suppression, ...] = ()

    def counts(self) -> dict[str, int]:
        """Return the number of findings per status, every status present."""
        return {str(status): sum(1 for f in self.findings if f.status is status) for status in Status}

    def summary(self) -> dict[str, dict[str, int]]:
        """Return the number of findings per severity and status, every combination present."""
        table = {str(sev): {str(status): 0 for status in Status} for sev in Severity}
        for finding in self.findings:
            table[str(finding.severity)][str(finding.status)] += 1
        return table

    @property
    def failed(self) -> bool:
        """Return True when any failure is not suppressed."""
        return bool(self.failures_at(Severity.LOW))

    def failures_at(self, threshold: Severity) -> tuple[Finding, ...]:
        """Return the failures of ``threshold`` severity or worse that no active suppression covers."""
        return tuple(f for f in self.unsuppressed(Status.FAIL) if f.severity.rank <= threshold.rank)

    def unknowns_at(self, threshold: Severity) -> tuple[Finding, ...]:
        """Return the unknown findings of ``threshold`` severity or worse that no active suppression covers."""
        return tuple(f for f in self.unsuppressed(Status.UNKNOWN) if f.severity.rank <= threshold.rank)

    def mark_of(self, finding: Finding) -> SuppressionMark | None:
        return self.marks.get(finding)

    def is_suppressed(self, finding: Finding) -> bool:
        """Return True when an unexpired suppression covers the finding."""
        mark = self.marks.get(finding)
        return mark is not None and mark.active

    def unsuppressed(self, status: Status) -> tuple[Finding, ...]:
        return tuple(f for f in self.findings if f.status is status and not self.is_suppressed(f))

    def suppressed(self) -> tuple[Finding, ...]:
        return tuple(f for f in self.findings if self.is_suppressed(f))

    def expired_suppressions(self) -> tuple[Finding, ...]:
        """Return the findings whose matching suppression has expired; they count again."""
        return tuple(f for f in self.findings if f in self.marks and not self.marks[f].active)

    def with_findings(self, rules: Iterable[Rule], findings: Iterable[Finding]) -> Report:
        """Return a copy with more rules and findings, such as checkov's, in report order.

        Apply suppressions after this call, so they see the added findings too.
        """
        merged = sorted((*self.findings, *findings), key=Finding.sort_key)
        return dataclasses.replace(self, rules=(*self.rules, *rules), findings=tuple(merged))

    def of_rule(self, rule_id: str) -> tuple[Finding, ...]:
        return tuple(f for f in self.findings if f.rule_id == rule_id)

    def with_status(self, status: Status) -> tuple[Finding, ...]:
        return tuple(f for f in self.findings if f.status is status)


def run_checks(inventory: Inventory, spec: PilotSpec | None, matrix: AccessMatrix | None, today: dt.date,
               rules: Sequence[Rule] = RULES) -> Report:
    """Evaluate ``rules`` (the whole catalogue by default) against one tenant and return the report.

    The inputs are only read. ``today`` is the date the check is about; rules use it
    for date-based lifecycle expirations.
    """
    context = CheckContext(inventory=inventory, spec=spec, matrix=matrix, today=today)
    findings: list[Finding] = []
    for rule in rules:
        try:
            produced = rule.evaluate(context)
        except Exception as exc:  # one broken rule must not hide the others' results
            log.exception("rule %s failed on tenant %s", rule.id, inventory.customer)
            produced = [rule.finding(Status.UNKNOWN, tenant_ref(context), "rule failed", "rule completes",
                                     f"Rule {rule.id} failed with {type(exc).__name__}: {exc}, so its check did "
                                     "not run.", fix="Report the error to the pilotctl maintainers.")]
        log.debug("rule %s: %d findings", rule.id, len(produced))
        findings.extend(produced)
    findings.sort(key=Finding.sort_key)
    report = Report(customer=inventory.customer, source=inventory.source, today=today, rules=tuple(rules),
                    findings=tuple(findings), has_spec=spec is not None, has_matrix=matrix is not None)
    counts = report.counts()
    log.info("checked tenant %s with %d rules: %d pass, %d fail, %d unknown", inventory.customer, len(rules),
             counts["pass"], counts["fail"], counts["unknown"])
    return report
