"""The explicit list of rules that ``run_checks`` evaluates, in report order.

Nothing registers itself on import: a rule runs only when it is listed here.
"""

from __future__ import annotations

from policies.rules import access, audit, flows, identity, ownership, protection, retention
from policies.rules.base import Rule

RULES: tuple[Rule, ...] = (*retention.RULES, *flows.RULES, *access.RULES, *identity.RULES, *protection.RULES,
                           *audit.RULES, *ownership.RULES)


def rule_by_id(rule_id: str) -> Rule:
    """Return the catalogue rule with that id; raise KeyError naming the known ids otherwise."""
    for rule in RULES:
        if rule.id == rule_id:
            return rule
    raise KeyError(f"unknown rule id {rule_id!r}; known ids: {', '.join(r.id for r in RULES)}")
