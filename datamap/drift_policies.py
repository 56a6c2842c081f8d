"""Policy differences between plan and account, and the items for those no access item explains.

Documents are compared after sorting their statements and lists, and after writing a
single string in Action, Resource, Principal and Condition values as a one-element list,
so that order or spelling alone is never a difference. The access items of
``datamap.drift_access`` name the differences of the principals and resources they are
about. ``policy_items`` reports the rest, once each.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from datamap.drift_items import DriftItem, Kind, fix_or_declare, resource_label
from datamap.inventory import Inventory, Resource, thaw

LIST_KEYS = ("Action", "NotAction", "Resource", "NotResource")


@dataclass(frozen=True)
class PolicyDifference:
    """One policy that differs between plan and account, or that could not be compared."""

    owners: frozenset[str]  # ARNs of the principals or resources whose access it can change
    resource: str           # ARN of the record that contains the policy
    label: str              # how messages name that record
    setting: str
    planned: Any
    deployed: Any
    summary: str            # for messages, e.g. "managed policy X is attached in the account, not in the plan"
    unknown: str = ""       # why the policy could not be compared, when it could not
    fix: str = ""           # how to undo it, when a command does that better than a deploy


def canonical_policy(document: Any) -> Any:
    """Return a policy document in a form where equal meaning gives equal values, as far as order goes."""
    document = thaw(document)
    if not isinstance(document, Mapping):
        return document
    statements = document.get("Statement")
    if isinstance(statements, Mapping):
        statements = [statements]
    canonical = [_canonical_statement(statement) for statement in statements or ()]
    rest = {key: value for key, value in document.items() if key != "Statement"}
    return {**rest, "Statement": sorted(canonical, key=_sort_key)}


def _canonical_statement(statement: Any) -> Any:
    if not isinstance(statement, Mapping):
        return statement
    out = {}
    for key, value in statement.items():
        if key in LIST_KEYS:
            out[key] = _sorted_list(value)
        elif key in ("Principal", "NotPrincipal") and isinstance(value, Mapping):
            out[key] = {kind: _sorted_list(values) for kind, values in value.items()}
        elif key == "Condition" and isinstance(value, Mapping):
            out[key] = {operator: ({name: _sorted_list(v) for name, v in pairs.items()}
                                   if isinstance(pairs, Mapping) else pairs) for operator, pairs in value.items()}
        else:
            out[key] = value
    return out


def _sorted_list(value: Any) -> Any:
    values = value if isinstance(value, list) else [value]
    return sorted(values, key=_sort_key)


def _sort_key(value: Any) -> str:
    return json.dumps(value, sort_keys=True)


def _unread(record: Resource, attribute: str) -> str:
    if attribute in record.errors:
        return record.errors[attribute]
    return "" if attribute in record.attributes else "not in the inventory"


def _reasons(plan: Resource, live: Resource, attribute: str) -> str:
    return "; ".join(f"{side}: {reason}" for side, record in (("plan", plan), ("account", live))
                     if (reason := _unread(record, attribute)))


def _attachers(inventories: Iterable[Inventory]) -> dict[str, set[str]]:
    """Return managed policy ARN -> ARNs of the principals that attach it (or use it as boundary), on any side."""
    found: dict[str, set[str]] = {}
    for inventory in inventories:
        for record in inventory.of_kind("iam_role") + inventory.of_kind("iam_user"):
            arns = list(record.get("AttachedPolicies") or ()) + [record.get("PermissionsBoundary")]
            for entry in (record.get("GroupPolicies") or {}).values():
                arns += list(entry.get("AttachedPolicies") or ())
            for arn in filter(None, arns):
                found.setdefault(arn, set()).add(record.arn)
    return found


def policy_differences(pairs: Sequence[tuple[Resource, Resource]], planned: Inventory, deployed: Inventory,
                       pending: Mapping[str, list[str]]) -> list[PolicyDifference]:
    """Return the policy differences of records on both sides, paired (planned, deployed).

    A difference whose planned document contains a placeholder id of ``pending`` is left
    out and appended to that placeholder's list, as in ``drift_settings.compare_settings``.
    """
    attachers = _attachers((planned, deployed))
    found: list[PolicyDifference] = []
    for plan, live in pairs:
        if plan.kind in ("iam_role", "iam_user"):
            found += _principal_differences(plan, live)
        elif plan.kind == "iam_policy":
            owners = frozenset(attachers.get(plan.arn, set()) | {plan.arn})
            found += _document(plan, live, "Document", "document", owners)
        elif plan.kind in ("s3_bucket", "kms_key"):
            setting = "bucket policy" if plan.kind == "s3_bucket" else "key policy"
            found += _document(plan, live, "Policy", setting, frozenset({plan.arn}))
    kept = []
    for difference in found:
        waiting = [placeholder for placeholder in pending if placeholder in json.dumps(difference.planned)]
        for placeholder in waiting:
            pending[placeholder].append(f"{difference.label}: {difference.setting}")
        if not waiting:
            kept.append(difference)
    return kept


def _document(plan: Resource, live: Resource, attribute: str, setting: str,
              owners: frozenset[str]) -> list[PolicyDifference]:
    label = resource_label(plan)
    unread = _reasons(plan, live, attribute)
    if unread:
        return [PolicyDifference(owners, plan.arn, label, setting, None, None, "", unread)]
    old, new = canonical_policy(plan.get(attribute)), canonical_policy(live.get(attribute))
    if old == new:
        return []
    return [PolicyDifference(owners, plan.arn, label, setting, old, new,
                             f"the {setting} of {label} is {_change(old, new)}")]


def _principal_differences(plan: Resource, live: Resource) -> list[PolicyDifference]:
    owners, label = frozenset({plan.arn}), resource_label(plan)
    found = []

    noun = "role" if plan.kind == "iam_role" else "user"

    def add(setting: str, old: Any, new: Any, summary: str, unknown: str = "", fix: str = "") -> None:
        found.append(PolicyDifference(owners, plan.arn, label, setting, old, new, summary, unknown, fix))

    if unread := _reasons(plan, live, "InlinePolicies"):
        add("inline policies", None, None, "", unread)
    else:
        before, after = plan.get("InlinePolicies") or {}, live.get("InlinePolicies") or {}
        for name in sorted(set(before) | set(after)):
            old = canonical_policy(before[name]) if name in before else None
            new = canonical_policy(after[name]) if name in after else None
            if old != new:
                fix = f"aws iam delete-{noun}-policy --{noun}-name {plan.name} --policy-name {name}" \
                    if old is None else ""
                add(f"inline policy {name}", old, new, f"inline policy {name} of {label} is {_change(old, new)}", fix=fix)

    if unread := _reasons(plan, live, "AttachedPolicies"):
        add("attached managed policies", None, None, "", unread)
    else:
        before, after = set(plan.get("AttachedPolicies") or ()), set(live.get("AttachedPolicies") or ())
        for arn in sorted(after - before):
            add("attached managed policies", "not attached", "attached",
                f"managed policy {arn} is attached to {label} in the account but not in the plan",
                fix=f"aws iam detach-{noun}-policy --{noun}-name {plan.name} --policy-arn {arn}")
        for arn in sorted(before - after):
            add("attached managed policies", "attached", "not attached",
                f"managed policy {arn} is attached to {label} in the plan but not in the account")

    attributes = [("PermissionsBoundary", "permissions boundary")]
    if plan.kind == "iam_role":
        attributes.append(("AssumeRolePolicyDocument", "trust policy"))
    else:
        attributes += [("Groups", "groups"), ("GroupPolicies", "group policies")]
    for attribute, setting in attributes:
        if unread := _reasons(plan, live, attribute):
            add(setting, None, None, "", unread)
            continue
        old, new = plan.get(attribute), live.get(attribute)
        if attribute == "AssumeRolePolicyDocument":
            old, new = canonical_policy(old), canonical_policy(new)
        elif attribute != "PermissionsBoundary":
            old, new = _canonical_value(old), _canonical_value(new)
        if old != new:
            add(setting, old, new, f"the {setting} of {label} differ{'s' if setting != 'groups' else ''}")
    return found


def _change(old: Any, new: Any) -> str:
    if old is None:
        return "added"
    if new is None:
        return "removed"
    return "changed"


def _canonical_value(value: Any) -> Any:
    value = thaw(value)
    if isinstance(value, Mapping):
        return {key: _canonical_value(item) for key, item in sorted(value.items())}
    if isinstance(value, list):
        return sorted((_canonical_value(item) for item in value), key=_sort_key)
    return value


def policy_items(differences: Sequence[PolicyDifference], explained: set[int], customer: str) -> list[DriftItem]:
    """Return one item per policy difference that no access item names."""
    items = []
    for index, difference in enumerate(differences):
        if index in explained:
            continue
        if difference.unknown:
            items.append(DriftItem(
                Kind.UNKNOWN, difference.resource, difference.setting, None, None,
                f"{difference.label}: the {difference.setting} cannot be compared ({difference.unknown}), so "
                "changes in what it allows are unknown",
                "scan with permission to read the policy (or declare it in the program), then compare again"))
            continue
        items.append(DriftItem(
            Kind.CHANGED, difference.resource, difference.setting, difference.planned, difference.deployed,
            f"{difference.summary}; the access matrix finds no capability that this changes on resources that "
            "both the plan and the account have, so review its statements by hand (they may concern other "
            "resources, or conditions the matrix cannot evaluate)",
            f"undo it with `{difference.fix}`" if difference.fix else fix_or_declare(customer)))
    return items
