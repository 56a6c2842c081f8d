"""Access drift: who gained or lost which capability on which tenant resource, and the policies behind it.

The access matrix of each side (``datamap.access.build_matrix``) is compared cell by
cell, on principals and resources that both sides have. There is one access item per
principal and resource, listing the capabilities gained and lost, and naming the
statements that grant them. The people who assume a role are compared separately: one
access item per person who gained or lost a role.

Policy differences (an inline policy, an attached managed policy, a trust policy, a
bucket or key policy, a managed policy's document) are found by comparing documents
after sorting their lists. A difference is named in the access items of the principal or
resource it belongs to. One that no access item explains gets its own changed item, so
that a policy edit the matrix cannot see (on resources outside the tenant, or under a
condition it does not evaluate) is still reported once.

A cell that is unknown on either side is never equal, except when both sides are
unknown through the same readable statements (a condition the matrix cannot evaluate,
in unchanged statements). Unknown cells are grouped by their reason into one item each.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field

from datamap.drift_items import DriftItem, Kind, fix_by_deploy, join_words, resource_label, shorten
from datamap.drift_policies import PolicyDifference
from datamap.inventory import Inventory, Resource
from datamap.matrix import AccessCell, AccessMatrix, StatementRef
from infra.capabilities import Capability

CAPABILITY_ORDER = {capability: index for index, capability in enumerate(Capability)}
UNREAD_SID = "(unread)"  # the Sid of the stand-in statement for a policy that could not be read


@dataclass
class Grant:
    """The matrix cells of one principal, resource and capability, merged over the people who reach them."""

    allowed: bool = False
    persons: set[str] = field(default_factory=set)
    refs: dict[StatementRef, None] = field(default_factory=dict)
    conditions: dict[str, None] = field(default_factory=dict)


def _merge(matrix: AccessMatrix, key_of: Callable[[AccessCell], tuple | None]) -> dict[tuple, Grant]:
    merged: dict[tuple, Grant] = {}
    for cell in matrix.cells:
        key = key_of(cell)
        if key is None:
            continue
        grant = merged.setdefault(key, Grant())
        grant.allowed |= cell.status == "allow"
        if cell.person:
            grant.persons.add(cell.person)
        grant.refs.update(dict.fromkeys(cell.statements))
        grant.conditions.update(dict.fromkeys(cell.unknown_conditions))
    return merged


def _by_capability(cell: AccessCell) -> tuple:
    return cell.principal_arn, cell.resource_arn, cell.capability


def _by_assumption(cell: AccessCell) -> tuple | None:
    """Key a cell reached through a role by (role, person, user name); None for other cells."""
    if not cell.via.startswith("user ") or " assumes role " not in cell.via:
        return None
    return cell.principal_arn, cell.person, cell.via.removeprefix("user ").split(" assumes role ", 1)[0]


def _why(grant: Grant | None) -> str:
    if grant is None or grant.allowed:
        return ""
    unread = sorted({ref.text for ref in grant.refs if ref.sid == UNREAD_SID})
    # An unreadable policy also shows up among the conditions, with the same reason.
    conditions = [c for c in grant.conditions if not any(c in text or text in c for text in unread)]
    if conditions:
        unread.append("conditions the matrix cannot evaluate: " + ", ".join(conditions))
    return "; ".join(unread) or "the access matrix could not decide it"


def _same_unknown(before: Grant | None, after: Grant | None) -> bool:
    if before is None or after is None or before.allowed or after.allowed:
        return False
    texts = [{(r.policy, r.sid, r.effect, r.text) for r in grant.refs} for grant in (before, after)]
    return texts[0] == texts[1] and not any(r.sid == UNREAD_SID for r in before.refs)


def _ref_text(ref: StatementRef) -> str:
    policy = f"managed policy {ref.policy}" if ref.policy.startswith("arn:") else ref.policy
    return f"{policy} statement {ref.sid} ({ref.effect})"


class Labels:
    """The policy names the matrix gives the statements of each principal and resource of one side."""

    def __init__(self, inventory: Inventory):
        self._by_arn = {record.arn: record for record in inventory.resources}

    def of(self, arn: str) -> set[str]:
        record = self._by_arn.get(arn)
        if record is None:
            return set()
        if record.kind == "s3_bucket":
            return {f"bucket {record.name} bucket policy"}
        if record.kind == "kms_key":
            return {f"key {record.name} key policy"}
        if record.kind not in ("iam_role", "iam_user"):
            return set()
        label = f"{'role' if record.kind == 'iam_role' else 'user'} {record.name}"
        labels = {f"{label} {part}" for part in ("inline policies", "attached policies", "permissions boundary",
                                                   "groups", "group policies")}
        labels |= {f"{label} inline policy {name}" for name in record.get("InlinePolicies") or {}}
        labels |= set(record.get("AttachedPolicies") or ())
        if record.get("PermissionsBoundary"):
            labels.add(record.get("PermissionsBoundary"))
        for group, entry in (record.get("GroupPolicies") or {}).items():
            labels |= {f"group {group} inline policy {name}" for name in entry.get("InlinePolicies") or {}}
            labels |= set(entry.get("AttachedPolicies") or ()) | {f"group {group}"}
        return labels

    def record(self, arn: str) -> Resource | None:
        return self._by_arn.get(arn)

    def records(self) -> Iterable[Resource]:
        return self._by_arn.values()


def _cite(grant: Grant | None, labels: set[str]) -> list[str]:
    if grant is None:
        return []
    refs = [ref for ref in grant.refs if ref.policy in labels and ref.effect == "Allow"] or \
        [ref for ref in grant.refs if ref.effect == "Allow"]
    return sorted({_ref_text(ref) for ref in refs})


class _Context:
    """The data of both sides that access_items needs: records, policy labels, people's names, policy differences."""

    def __init__(self, planned: Inventory, deployed: Inventory, people: Mapping[str, str],
                 differences: Sequence[PolicyDifference]):
        self.planned, self.deployed = Labels(planned), Labels(deployed)
        self.customer = planned.customer
        self.people, self.differences = people, differences
        self.explained: set[int] = set()

    def find(self, kind: str, name: str) -> list[str]:
        """Return the ARNs of the records of this kind and name, on either side."""
        return sorted({record.arn for labels in (self.planned, self.deployed) for record in labels.records()
                       if record.kind == kind and record.name == name})

    def record(self, arn: str) -> Resource:
        return self.deployed.record(arn) or self.planned.record(arn)

    def who(self, arn: str, persons: Iterable[str] = ()) -> str:
        record = self.record(arn)
        names = sorted(self.people.get(person, person) for person in persons)
        if record.kind == "iam_role":
            return f"role {record.name}" + (f" (assumed by {join_words(names)})" if names else "")
        return f"user {record.name}" + (f" ({join_words(names)})" if names else "")

    def involved(self, *arns: str) -> tuple[str, str]:
        """Mark the policy differences of these principals and resources explained; return their summary and fix."""
        found = [(index, d) for index, d in enumerate(self.differences) if d.owners & set(arns)]
        self.explained.update(index for index, _ in found)
        fixes = sorted({f"`{d.fix}`" for _, d in found if d.fix})
        return "; ".join(d.summary for _, d in found if d.summary), join_words(fixes)


def access_items(planned_matrix: AccessMatrix, deployed_matrix: AccessMatrix, planned: Inventory,
                 deployed: Inventory, shared: set[str], people: Mapping[str, str],
                 differences: Sequence[PolicyDifference]) -> tuple[list[DriftItem], set[int]]:
    """Return the access and unknown items, and the indexes of the policy differences they explain."""
    ctx = _Context(planned, deployed, people, differences)
    before, after = _merge(planned_matrix, _by_capability), _merge(deployed_matrix, _by_capability)
    changes: dict[tuple[str, str], dict[str, list[Capability]]] = {}
    unknown: dict[str, list[tuple[str, str, Capability]]] = {}
    for key in sorted(before.keys() | after.keys(), key=lambda k: (k[0], k[1], CAPABILITY_ORDER[k[2]])):
        principal, resource, capability = key
        if principal not in shared or resource not in shared:
            continue  # part of a missing or undeclared item
        old, new = before.get(key), after.get(key)
        if (old is not None and new is not None and old.allowed and new.allowed) or _same_unknown(old, new):
            continue
        reasons = [f"{side}: {why}" for side, why in (("plan", _why(old)), ("account", _why(new))) if why]
        if reasons:
            unknown.setdefault("; ".join(reasons), []).append(key)
            continue
        change = "gained" if new is not None else "lost"
        changes.setdefault((principal, resource), {"gained": [], "lost": []})[change].append(capability)

    items = [_capability_item(ctx, key, change, before, after) for key, change in changes.items()]
    items += _assumption_items(ctx, planned_matrix, deployed_matrix, shared)
    items += [_unknown_item(ctx, reason, keys) for reason, keys in unknown.items()]
    new_actions = sorted(set(deployed_matrix.unclassified_actions) - set(planned_matrix.unclassified_actions))
    if new_actions:
        items.append(DriftItem(
            Kind.UNKNOWN, f"tenant {planned.customer}", "unclassified actions", None, new_actions,
            f"policies in the account use actions that the capability table does not classify "
            f"({', '.join(new_actions)}), so which capability they give is unknown",
            "add the actions to infra/capabilities.py, or remove them from the policies"))
    return items, ctx.explained


def _capability_item(ctx: _Context, key: tuple[str, str], change: Mapping[str, list[Capability]],
                     before: Mapping[tuple, Grant], after: Mapping[tuple, Grant]) -> DriftItem:
    principal, resource = key
    allowed = {side: [c for c in Capability if (g := grants.get((principal, resource, c))) and g.allowed]
               for side, grants in (("plan", before), ("account", after))}
    persons = set().union(*(g.persons for c in Capability for grants in (before, after)
                            if (g := grants.get((principal, resource, c)))))
    who, where = ctx.who(principal, persons), resource_label(ctx.record(resource))
    labels_after = ctx.deployed.of(principal) | ctx.deployed.of(resource)
    labels_before = ctx.planned.of(principal) | ctx.planned.of(resource)
    granted = sorted({s for c in change["gained"] for s in _cite(after.get((principal, resource, c)), labels_after)})
    revoked = sorted({s for c in change["lost"] for s in _cite(before.get((principal, resource, c)), labels_before)})
    parts = []
    if change["gained"]:
        parts.append(f"{who} gained {join_words(change['gained'])} on {where}"
                     + (f", granted by {join_words(granted)}" if granted else ""))
    if change["lost"]:
        parts.append(f"{who if not parts else 'it'} lost {join_words(change['lost'])} on {where}"
                     + (f", which the plan grants by {join_words(revoked)}" if revoked else ""))
    cause, undo = ctx.involved(principal, resource)
    message = "; ".join(parts) + (f". Policies that differ from the plan: {cause}" if cause else "")
    if undo:
        fix = f"undo the policy change with {undo}, or declare it in the program if it is intended"
    elif change["gained"]:
        policies = join_words(sorted({statement.split(" statement ")[0] for statement in granted}))
        fix = (f"remove the grant from {policies or 'the policies that give it'} or, if it is intended, declare it "
               "in the program and the capability in the pilot spec")
    else:
        fix = fix_by_deploy(ctx.customer, "restore the planned policies")
    return DriftItem(Kind.ACCESS, resource, f"capabilities of {ctx.who(principal)}",
                     [str(c) for c in allowed["plan"]], [str(c) for c in allowed["account"]], message, fix,
                     tuple(granted + revoked))


def _assumption_items(ctx: _Context, planned_matrix: AccessMatrix, deployed_matrix: AccessMatrix,
                      shared: set[str]) -> list[DriftItem]:
    """Return an item per person who gained or lost a role, or whose access to a role is unknown.

    The matrix shows that a user reaches a role only through the role's cells: allowed
    cells when the user may assume it, unknown ones when that is undecided. So only roles
    with an allowed cell on both sides are compared here. For the others, the capability
    items already show that the role gained, lost or made unknown everything it had.
    """
    before, after = _merge(planned_matrix, _by_assumption), _merge(deployed_matrix, _by_assumption)
    with_cells = ({c.principal_arn for c in planned_matrix.cells if c.status == "allow"}
                  & {c.principal_arn for c in deployed_matrix.cells if c.status == "allow"})
    items = []
    for key in sorted(before.keys() | after.keys()):
        role, person, user = key
        if role not in shared or role not in with_cells:
            continue
        old, new = before.get(key), after.get(key)
        if old is not None and new is not None and (old.allowed and new.allowed or _same_unknown(old, new)):
            continue
        role_name = ctx.record(role).name
        who = f"{ctx.people.get(person, person)} (user {user})" if person else f"user {user}"
        setting = f"people who assume role {role_name}"
        reasons = [f"{side}: {why}" for side, why in (("plan", _why(old)), ("account", _why(new))) if why]
        if reasons:
            items.append(DriftItem(
                Kind.UNKNOWN, role, setting, None, None,
                f"whether {who} can assume role {role_name} is unknown ({'; '.join(reasons)})",
                "make the trust policy and the user's policies decidable, then compare again"))
            continue
        gained = new is not None
        user_arns = ctx.find("iam_user", user)
        labels = {f"role {role_name} trust policy"}.union(
            *((ctx.deployed if gained else ctx.planned).of(arn) for arn in user_arns))
        statements = _cite(new if gained else old, labels)
        cause, undo = ctx.involved(role, *user_arns)
        message = (f"{who} can {'now' if gained else 'no longer'} assume role {role_name}"
                   + (f", allowed by {join_words(statements)}" if statements else "")
                   + (f". Policies that differ from the plan: {cause}" if cause else ""))
        if undo:
            fix = f"undo the policy change with {undo}, or add the person to the role in the pilot spec"
        elif gained:
            fix = "remove the statement that lets the user assume the role, or add the person to the role in the spec"
        else:
            fix = fix_by_deploy(ctx.customer, "restore the planned trust policy")
        items.append(DriftItem(Kind.ACCESS, role, setting, "not assumed" if gained else "assumed",
                               "assumed" if gained else "not assumed", message, fix, tuple(statements)))
    return items


def _unknown_item(ctx: _Context, reason: str, keys: list[tuple[str, str, Capability]]) -> DriftItem:
    by_pair: dict[tuple[str, str], list[str]] = {}
    for principal, resource, capability in keys:
        by_pair.setdefault((principal, resource), []).append(str(capability))
    entries = [f"{ctx.who(principal)}: {join_words(caps, 'or')} on {resource_label(ctx.record(resource))}"
               for (principal, resource), caps in by_pair.items()]
    resources = {resource for _, resource in by_pair}
    cause, _ = ctx.involved(*{arn for pair in by_pair for arn in pair})
    return DriftItem(
        Kind.UNKNOWN, resources.pop() if len(resources) == 1 else f"tenant {ctx.customer}", "access", None, None,
        f"access cannot be compared ({reason}) for {shorten(entries)}"
        + (f". Policies that differ from the plan: {cause}" if cause else ""),
        "make the policies readable and their conditions decidable (see the reason), then compare again")


def reach_summary(matrix: AccessMatrix, record: Resource) -> str:
    """Describe, from one side's matrix, what a principal can reach, or who can reach any other resource."""
    principal = record.kind in ("iam_role", "iam_user")
    found: dict[str, list[str]] = {}
    for cell in matrix.cells:
        if principal and cell.principal_arn == record.arn:
            name = cell.resource_name
        elif not principal and cell.resource_arn == record.arn:
            kind = "role" if ":role/" in cell.principal_arn else "user"
            name = f"{kind} {cell.principal_arn.rsplit('/', 1)[-1]}"
        else:
            continue
        capability = str(cell.capability) + ("" if cell.status == "allow" else " (unknown)")
        if capability not in found.setdefault(name, []):
            found[name].append(capability)
    if not found:
        return ""
    entries = shorten([f"{name} ({', '.join(capabilities)})" for name, capabilities in sorted(found.items())])
    return f"it can reach {entries}" if principal else f"who can reach it: {entries}"
