"""Findings: one rule's verdict on one resource, with what was observed, what was expected and the fix.

Status is three-valued. ``unknown`` means the check could not decide (a setting was
not read, no pilot spec, no access matrix) and is never counted as a pass.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Any


class Status(StrEnum):
    PASS = "pass"
    FAIL = "fail"
    UNKNOWN = "unknown"


class Severity(StrEnum):
    CRITICAL = "critical"
    HIGH = "high"
    MEDIUM = "medium"
    LOW = "low"

    @property
    def rank(self) -> int:
        """Sort position: 0 for critical, the most severe."""
        return list(Severity).index(self)


# Report order: what needs action first.
STATUS_ORDER = (Status.FAIL, Status.UNKNOWN, Status.PASS)


# Slots, because a fleet check keeps tens of thousands of findings and references.
@dataclass(frozen=True, slots=True)
class ResourceRef:
    """The resource a finding is about: its ARN and the name a reader knows it by."""

    arn: str
    name: str

    def __str__(self) -> str:
        return self.name or self.arn


@dataclass(frozen=True, slots=True)
class Finding:
    """One rule's result for one resource.

    ``message`` is a plain-English sentence naming the resource, the observed and
    expected values and the fix. ``evidence`` lists what decided the status, such as
    the lifecycle rule or the policy statement.
    """

    rule_id: str
    status: Status
    severity: Severity
    resource: ResourceRef
    observed: str
    expected: str
    message: str
    fix: str
    evidence: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        object.__setattr__(self, "status", Status(self.status))
        object.__setattr__(self, "severity", Severity(self.severity))
        object.__setattr__(self, "evidence", tuple(self.evidence))
        if not self.rule_id or not self.message:
            raise ValueError("a finding needs a rule id and a message")

    def sort_key(self) -> tuple[int, int, str, str]:
        return STATUS_ORDER.index(self.status), self.severity.rank, self.rule_id, str(self.resource)

    def to_json(self) -> dict[str, Any]:
        return {"rule_id": self.rule_id, "status": str(self.status), "severity": str(self.severity),
                "resource": {"arn": self.resource.arn, "name": self.resource.name},
                "observed": self.observed, "expected": self.expected, "message": self.message,
                "fix": self.fix, "evidence": list(self.evidence)}
