"""Access matrix records: who can do what to which tenant resource, and why.

The IAM evaluator fills these; the graph, the diagram, the data map and the access
rules read them. A cell exists only for an allowed or undecidable capability: an
absent cell means no statement grants it.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from infra.capabilities import Capability


@dataclass(frozen=True)
class StatementRef:
    """One policy statement that decided a request, named so a person can find it."""

    policy: str        # e.g. "role acme-recorder inline policy access" or a managed policy ARN
    sid: str           # the statement's Sid, or "#<index>" when it has none
    effect: str        # "Allow" or "Deny"
    text: str = ""     # short rendering: actions and resources as written

    def __str__(self) -> str:
        return f"{self.policy} statement {self.sid} ({self.effect})"


@dataclass(frozen=True)
class AccessCell:
    """One capability of one principal on one tenant resource."""

    principal_arn: str            # the IAM user (a person) or role
    person: str                   # spec person id, "" for a role nobody is mapped to
    role: str                     # spec role name (from the role's pilot:role tag), "" if none
    resource_arn: str             # the store or support resource
    resource_name: str            # store name from the spec, else the AWS name
    capability: Capability
    status: str                   # "allow" or "unknown"
    actions: tuple[str, ...]      # the concrete actions behind the capability
    statements: tuple[StatementRef, ...] = ()
    unknown_conditions: tuple[str, ...] = field(default_factory=tuple)  # e.g. "aws:SourceIp (IpAddress)"
    via: str = ""                 # how the person reaches it, e.g. "assumes role acme-recorder"


@dataclass(frozen=True)
class AccessMatrix:
    customer: str
    cells: tuple[AccessCell, ...]
    # Actions found in policies that the capability table does not classify, by name.
    unclassified_actions: tuple[str, ...] = ()
    # What the matrix assumed about the request context (TLS on, MFA present, ...).
    assumptions: tuple[str, ...] = ()

    def capabilities(self, person: str, resource_name: str) -> frozenset[Capability]:
        return frozenset(c.capability for c in self.cells
                         if c.person == person and c.resource_name == resource_name and c.status == "allow")
