"""The access matrix: which person or role can do what to each tenant resource, and why.

``build_matrix`` evaluates every IAM user and role of an inventory against the tenant
resources (S3 buckets, log groups, KMS keys, the trail, tenant users and roles) with
the evaluator of ``datamap.iam``, including bucket policies, key policies and role
trust policies. People are users tagged ``pilot:person``; roles carry
``pilot:role``. A user reaches a role when both the user's identity policies and the
role's trust policy allow ``sts:AssumeRole``, and the evaluator checks both. The
role's cells are then repeated for that user, with ``via`` naming the role.

Cost: for each principal, every Resource pattern of its statements is looked up in
an index of resource ARNs, and only the resources found (plus those whose resource
policy names the principal) are evaluated. On each resource, actions that the same
statements match share one decision, so the work grows with statements times
matched resources, not with principals times resources times actions.

Limits: role chaining (a role assuming another role), session policies, SCPs and
RCPs, S3 ACLs and access points, KMS grants, and backup vaults are not evaluated.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence

from datamap.iam.actions import ActionCatalog
from datamap.iam.evaluation import Decision, Result
from datamap.iam.grants import DEFAULT_ASSUMPTIONS, Assumptions, Grant, MatrixBuilder, default_catalog
from datamap.iam.identities import PolicyStore, Principal, load_principals
from datamap.iam.context import has_variables
from datamap.iam.matching import action_matches
from datamap.iam.principals import normalize_principal
from datamap.iam.targets import Target
from datamap.matrix import AccessCell, AccessMatrix, StatementRef
from datamap.inventory import Inventory
from infra.capabilities import CAPABILITIES, Capability
from infra.spec import PilotSpec

__all__ = ["Assumptions", "DEFAULT_ASSUMPTIONS", "build_matrix"]

log = logging.getLogger(__name__)


def build_matrix(inventory: Inventory, spec: PilotSpec | None = None,
                 assumptions: Assumptions = DEFAULT_ASSUMPTIONS, catalog: ActionCatalog | None = None
                 ) -> AccessMatrix:
    """Evaluate every IAM user and role of ``inventory`` on its tenant resources.

    ``spec`` supplies the stores that hold exports (reading them counts as export)
    and the region; without it no store is treated as holding exports.
    """
    builder = MatrixBuilder(inventory, spec, assumptions, catalog or default_catalog())
    principals = load_principals(inventory, PolicyStore(inventory), assumptions.principal_tags)
    users = [p for p in principals if p.kind == "user"]
    roles = [p for p in principals if p.kind == "role"]
    log.info("access matrix: %d users, %d roles, %d tenant resources", len(users), len(roles),
             len(builder.targets))

    scans = {id(p): builder.statement_targets(p) for p in principals}
    rows = {id(p): _rows(builder.grants(p, scans[id(p)])) for p in principals}
    cells: list[AccessCell] = []
    reached: set[int] = set()
    for user in users:
        cells += _cells(user, rows[id(user)], via="own policies")
        for role in _reachable(builder, user, roles):
            result = builder.reach(user, role)
            if result.decision is Decision.DENY:
                continue
            reached.add(id(role))
            cells += _cells(role, rows[id(role)], person=user.person,
                            via=f"user {user.name} assumes role {role.name}", reach=result)
    for role in roles:
        if id(role) not in reached:
            cells += _cells(role, rows[id(role)], via="")
    log.info("access matrix: %d cells, %d unclassified actions", len(cells), len(builder.unclassified))
    return AccessMatrix(customer=inventory.customer, cells=tuple(cells),
                        unclassified_actions=tuple(sorted(builder.unclassified)),
                        assumptions=assumptions.describe())


def _reachable(builder: MatrixBuilder, user: Principal, roles: Sequence[Principal]) -> list[Principal]:
    """Return the roles worth evaluating for a user: named by an AssumeRole grant or by the trust policy."""
    arns: set[str] = set()
    context = builder.context(user, None)
    for st in user.identity:
        if not st.allows or any(action_matches(p, "sts:AssumeRole") for p in st.actions) == st.not_action:
            continue
        if st.resources is None or st.not_resource:
            arns.update(role.resource.arn for role in roles)
            continue
        for pattern in st.resources:
            if st.variables and has_variables(pattern):
                pattern = context.resolve(pattern).text or pattern.split("${", 1)[0] + "*"
            arns.update(t.arn for t in builder.index.lookup(pattern) if t.kind == "iam_principal")
    result = []
    for role in roles:
        if role.resource.arn in arns:
            result.append(role)
            continue
        for st in role.trust or ():
            if st.principal is not None and (st.principal.wildcard or st.not_principal or st.unknown_reason or any(
                    normalize_principal(v, "aws") == user.resource.arn for v in st.principal.values.get("AWS", ()))):
                result.append(role)
                break
    return result


_ORDER = tuple(Capability(c) for c in CAPABILITIES)
_Row = tuple[Target, Capability, bool, tuple[str, ...], tuple[StatementRef, ...], tuple[str, ...]]


def _rows(grants: Mapping[int, tuple[Target, Grant]]) -> list[_Row]:
    """Return (target, capability, allowed, actions, statements, unknown conditions) per capability."""
    rows = []
    for target, grant in grants.values():
        for capability in _ORDER:
            allowed = grant.allowed.get(capability)
            unknown = grant.unknown.get(capability)
            if not allowed and not unknown:
                continue
            conditions = () if allowed else tuple(grant.conditions.get(capability, {}))
            rows.append((target, capability, bool(allowed), tuple(sorted(allowed or unknown or ())),
                         tuple(grant.refs.get(capability, {})), conditions))
    return rows


def _cells(principal: Principal, rows: Sequence[_Row], via: str, person: str | None = None,
           reach: Result | None = None) -> list[AccessCell]:
    reach_unknown = reach is not None and reach.decision is Decision.UNKNOWN
    reach_refs = reach.statements if reach is not None else ()
    reach_conditions = reach.unknown_conditions if reach_unknown else ()
    person_id = principal.person if person is None else person
    cells = []
    for target, capability, allowed, actions, refs, conditions in rows:
        if reach is not None:
            refs = tuple(dict.fromkeys(reach_refs + refs))
            conditions = tuple(dict.fromkeys(reach_conditions + conditions))
        cells.append(AccessCell(
            principal_arn=principal.resource.arn, person=person_id, role=principal.role, resource_arn=target.arn,
            resource_name=target.name, capability=capability,
            status="allow" if allowed and not reach_unknown else "unknown", actions=actions, statements=refs,
            unknown_conditions=conditions, via=via))
    return cells
