"""Drift items and report, and the wording shared by the drift modules (resource labels, fixes).

``datamap.drift`` builds the report. This module contains what ``drift_settings`` and
``drift_access`` also need, so the three do not import each other in a circle.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from datamap.inventory import Resource
from infra import tags as tag_keys

# The noun that messages use for each kind of record.
NOUNS = {"s3_bucket": "bucket", "iam_role": "role", "iam_user": "user", "iam_policy": "managed policy",
         "kms_key": "KMS key", "backup_vault": "backup vault", "backup_plan": "backup plan",
         "cloudtrail_trail": "trail", "log_group": "log group"}


class Kind(StrEnum):
    MISSING = "missing"
    UNDECLARED = "undeclared"
    CHANGED = "changed"
    ACCESS = "access"
    UNKNOWN = "unknown"


@dataclass(frozen=True)
class DriftItem:
    """One difference between plan and account, or one comparison that could not be made."""

    kind: Kind
    resource: str       # the resource ARN, or "tenant <customer>" for an item about the whole tenant
    setting: str        # what differs; "" for a missing or undeclared resource
    planned: Any        # JSON-compatible value in the plan; None when absent or unknown
    deployed: Any       # JSON-compatible value in the account; None when absent or unknown
    message: str
    fix: str
    statements: tuple[str, ...] = ()  # policy statements behind the item, "<policy> statement <sid> (<effect>)"

    def to_json(self) -> dict[str, Any]:
        return {"kind": str(self.kind), "resource": self.resource, "setting": self.setting,
                "planned": self.planned, "deployed": self.deployed, "message": self.message, "fix": self.fix,
                "statements": list(self.statements)}


ORDER = {kind: index for index, kind in enumerate(Kind)}


@dataclass(frozen=True)
class DriftReport:
    """Every drift item of one tenant, sorted by kind, resource and setting."""

    customer: str
    items: tuple[DriftItem, ...]
    planned_source: str = "plan"
    deployed_source: str = "live"
    notes: tuple[str, ...] = ()  # assumptions the comparison made, such as borrowed AWS managed policies

    @property
    def drift(self) -> tuple[DriftItem, ...]:
        """Return the items that are real differences: every kind except unknown."""
        return tuple(item for item in self.items if item.kind is not Kind.UNKNOWN)

    @property
    def unknown(self) -> tuple[DriftItem, ...]:
        return tuple(item for item in self.items if item.kind is Kind.UNKNOWN)

    def of_kind(self, kind: Kind) -> tuple[DriftItem, ...]:
        return tuple(item for item in self.items if item.kind is kind)

    def to_markdown(self) -> str:
        return render_markdown(self)

    def to_json(self) -> dict[str, Any]:
        counts = {str(kind): len(self.of_kind(kind)) for kind in Kind}
        return {"customer": self.customer, "planned_source": self.planned_source,
                "deployed_source": self.deployed_source, "counts": counts, "notes": list(self.notes),
                "items": [item.to_json() for item in self.items]}


def resource_label(record: Resource) -> str:
    """Return how messages name a record: its noun, its name and, for a store, the store name."""
    label = f"{NOUNS[record.kind]} {record.name}"
    store = record.tags.get(tag_keys.STORE)
    return f"store {store} ({label})" if store else label


def describe(record: Resource) -> dict[str, Any]:
    """Return the short JSON value of a whole record, for missing and undeclared items."""
    return {"kind": record.kind, "name": record.name, "tags": dict(record.tags)}


def fix_by_deploy(customer: str, action: str = "restore the planned value") -> str:
    """Return the deploy fix: ``pulumi refresh`` records the change in the stack state, so ``pulumi up`` reverts it."""
    return f"run `pulumi refresh -s {customer}`, then `pulumi up -s {customer}` to {action}"


def fix_or_declare(customer: str) -> str:
    return (fix_by_deploy(customer) + ", or change the program and the pilot spec if the deployed value is "
            "intended")


def join_words(words: Iterable[str], conjunction: str = "and") -> str:
    """Join words as prose: "a", "a and b", "a, b and c"."""
    words = [str(word) for word in words]
    if len(words) < 2:
        return "".join(words)
    return ", ".join(words[:-1]) + f" {conjunction} " + words[-1]


def shorten(entries: list[str], limit: int = 6) -> str:
    """Join at most ``limit`` entries with "; ", followed by the number of entries left out."""
    shown = "; ".join(entries[:limit])
    return shown + (f"; and {len(entries) - limit} more" if len(entries) > limit else "")


def _markdown_value(value: Any) -> str:
    text = json.dumps(value, sort_keys=True)
    return f"`{text}`" if len(text) <= 200 else f"`{text[:200]}...` (see drift.json)"


def render_markdown(report: DriftReport) -> str:
    """Return the report as a Markdown page: differences first, then the comparisons that could not be made."""
    lines = [f"# Drift of tenant {report.customer}", "",
             f"The {report.planned_source} inventory compared with the {report.deployed_source} inventory: "
             f"{len(report.drift)} differences, {len(report.unknown)} comparisons not made.", ""]
    if not report.items:
        lines += ["No drift: every compared resource and setting matches the plan.", ""]
    for heading, items in (("Differences", report.drift), ("Not compared (unknown, so not a pass)", report.unknown)):
        if not items:
            continue
        lines += [f"## {heading} ({len(items)})", ""]
        for item in items:
            title = f"{item.kind}: {item.resource}" + (f", {item.setting}" if item.setting else "")
            lines += [f"### {title}", "", item.message, "",
                      f"- plan: {_markdown_value(item.planned)}", f"- account: {_markdown_value(item.deployed)}",
                      f"- fix: {item.fix}"]
            lines += [f"- statement: {statement}" for statement in item.statements]
            lines.append("")
    if report.notes:
        lines += ["## Notes", ""] + [f"- {note}" for note in report.notes] + [""]
    return "\n".join(lines)
