"""The rule record: id, title, severity, rationale, fix, parameters and a pure check function.

A rule family that differs only in a value (which capability, which version of an
object) is one check function with several parameter sets, not copies.

>>> from policies.findings import Severity
>>> rule = Rule("PILOT-X-001", "Example", Severity.LOW, "why", "how", lambda ctx, rule: [])
>>> rule.evaluate(None), dict(rule.with_parameters(limit=3).parameters)
([], {'limit': 3})
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import TYPE_CHECKING, Any

from policies.findings import Finding, ResourceRef, Severity, Status

if TYPE_CHECKING:
    from policies.context import CheckContext

Check = Callable[["CheckContext", "Rule"], Iterable[Finding]]


@dataclass(frozen=True)
class Rule:
    """One check. ``check(context, rule)`` must not change its inputs or call AWS."""

    id: str
    title: str
    severity: Severity
    rationale: str
    fix: str
    check: Check = field(repr=False, compare=False)
    parameters: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        object.__setattr__(self, "severity", Severity(self.severity))
        object.__setattr__(self, "parameters", MappingProxyType(dict(self.parameters)))

    def evaluate(self, context: CheckContext) -> list[Finding]:
        """Run the check and return its findings."""
        return list(self.check(context, self))

    def with_parameters(self, **overrides: Any) -> Rule:
        """Return a copy of the rule with some parameters replaced."""
        return dataclasses.replace(self, parameters={**self.parameters, **overrides})

    def finding(self, status: Status, resource: ResourceRef, observed: str, expected: str, message: str,
                fix: str | None = None, evidence: Iterable[str] = ()) -> Finding:
        """Build a finding of this rule; ``fix`` defaults to the rule's own fix."""
        return Finding(rule_id=self.id, status=status, severity=self.severity, resource=resource,
                       observed=observed, expected=expected, message=message, fix=fix or self.fix,
                       evidence=tuple(evidence))


def upper_first(text: str) -> str:
    """Return ``text`` with its first letter in upper case, leaving names inside it unchanged."""
    return text[:1].upper() + text[1:]


def ref(resource: Any) -> ResourceRef:
    """Return the reference of an inventory resource."""
    return ResourceRef(resource.arn, resource.name)


def scan_errors(context: CheckContext, *services: str) -> tuple[str, ...]:
    """Return the tenant-wide scan errors of the given services, such as "backup" for "backup:ListBackupPlans: ..."."""
    return tuple(e for e in context.inventory.errors if e.split(":", 1)[0] in services)


def unread_kind(rule: Rule, context: CheckContext, kind_name: str, errors: tuple[str, ...]) -> Finding:
    """Return the unknown finding for resources of one kind that the scan may have missed."""
    return rule.finding(Status.UNKNOWN, tenant_ref(context), "not fully listed", f"every {kind_name} checked",
                        f"The scan of tenant {context.inventory.customer} could not list every {kind_name} "
                        f"({'; '.join(errors)}), so some were not checked.",
                        fix="Fix the scan errors and run the check again.", evidence=errors)


def tenant_ref(context: CheckContext) -> ResourceRef:
    """Return the reference used for findings about the tenant as a whole."""
    customer = context.inventory.customer
    return ResourceRef(f"tenant:{customer}", f"tenant {customer}")
