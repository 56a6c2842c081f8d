"""Find what one principal can do on tenant resources: the per-principal work of the access matrix.

``MatrixBuilder`` keeps what every principal shares: the targets, their index, the
parsed resource policies, and the principals each resource policy names. It
evaluates one principal at a time. It finds the targets that the principal's Allow
statements or a resource policy can reach. On each ARN form of those targets it
takes the actions the statements match and makes one decision per group of actions
that the same statements match.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

from datamap.iam.actions import ActionCatalog
from datamap.iam.context import RequestContext, has_variables, resolve
from datamap.iam.evaluation import Decision, Result, decide
from datamap.iam.identities import Principal, parse_or_unknown
from datamap.iam.policy import Statement, unknown_policy
from datamap.iam.principals import normalize_principal
from datamap.iam.targets import ResourceIndex, Target, forms_of, samples
from datamap.inventory import Inventory
from datamap.matrix import StatementRef
from infra import tags
from infra.capabilities import Capability, classify
from infra.spec import PilotSpec

log = logging.getLogger(__name__)

_RANK = {Decision.ALLOW: 2, Decision.UNKNOWN: 1, Decision.DENY: 0}


@dataclass(frozen=True)
class Assumptions:
    """The request context the matrix assumes for every request."""

    secure_transport: bool = True    # aws:SecureTransport: requests use TLS
    mfa_present: bool = True         # aws:MultiFactorAuthPresent: people sign in with MFA
    principal_tags: bool = True      # aws:PrincipalTag/*: the tags the user or role has
    resource_tags: bool = True       # aws:ResourceTag/*: the tags the resource has
    extra: Mapping[str, Any] = field(default_factory=dict)  # further keys taken as known
    unknowable: tuple[str, ...] = ("*",)  # every other key cannot be known

    def describe(self) -> tuple[str, ...]:
        lines = [f"aws:SecureTransport is {str(self.secure_transport).lower()}",
                 f"aws:MultiFactorAuthPresent is {str(self.mfa_present).lower()}, also when a trust policy "
                 "requires MFA"]
        if self.principal_tags:
            lines.append("aws:PrincipalTag/* are the tags of the user or role as recorded; no session tags")
        if self.resource_tags:
            lines.append("aws:ResourceTag/* are the tags of the resource as recorded")
        lines += [f"{key} is {value!r}" for key, value in self.extra.items()]
        lines.append("aws:username, aws:PrincipalArn, aws:PrincipalAccount, aws:PrincipalType and "
                     "aws:ResourceAccount follow from the principal and the inventory")
        lines.append("any other key is unknown: " + ", ".join(self.unknowable)
                     if self.unknowable != ("*",) else "any other condition key is unknown")
        return tuple(lines)


DEFAULT_ASSUMPTIONS = Assumptions()
_CATALOG: ActionCatalog | None = None


def default_catalog() -> ActionCatalog:
    global _CATALOG
    if _CATALOG is None:
        _CATALOG = ActionCatalog()
    return _CATALOG


@dataclass
class Grant:
    """Actions, statements and unknown conditions of one principal on one target, by capability."""

    allowed: dict[Capability, dict[str, None]] = field(default_factory=dict)
    unknown: dict[Capability, dict[str, None]] = field(default_factory=dict)
    refs: dict[Capability, dict[StatementRef, None]] = field(default_factory=dict)
    conditions: dict[Capability, dict[str, None]] = field(default_factory=dict)

    def add(self, capability: Capability, actions: list[str], result: Result) -> None:
        bucket = self.allowed if result.decision is Decision.ALLOW else self.unknown
        bucket.setdefault(capability, {}).update(dict.fromkeys(actions))
        self.refs.setdefault(capability, {}).update(dict.fromkeys(result.statements))
        if result.decision is Decision.UNKNOWN:
            self.conditions.setdefault(capability, {}).update(dict.fromkeys(result.unknown_conditions))


class MatrixBuilder:
    """Holds the indexes shared by all principals of one inventory."""

    def __init__(self, inventory: Inventory, spec: PilotSpec | None, assumptions: Assumptions,
                 catalog: ActionCatalog):
        self.inventory, self.spec, self.assumptions, self.catalog = inventory, spec, assumptions, catalog
        self.account = inventory.account_id
        self.region = spec.region if spec is not None else inventory.region
        self.targets = self._targets()
        self.unclassified: set[str] = set()
        self._contexts: dict[tuple[Any, ...], RequestContext] = {}
        self._kinds: dict[tuple[tuple[str, ...], bool], frozenset[str]] = {}
        self.forms_by_kind: dict[str, set[str]] = {}
        for target in self.targets:
            self.forms_by_kind.setdefault(target.kind, set()).update(form.name for form in target.forms)
        # Resource tags enter the context only when some policy reads them, so that
        # targets with different tags can share one context otherwise.
        self.uses_resource_tags = reads_resource_tags(inventory)

    def _targets(self) -> list[Target]:
        targets = []
        stores = {s.name: s for s in self.spec.stores} if self.spec is not None else {}
        for resource in self.inventory.resources:
            shaped = forms_of(resource)
            if shaped is None:
                continue
            kind, forms = shaped
            store = resource.tags.get(tags.STORE, "")
            exports = store in stores and stores[store].holds_exports
            targets.append(Target(resource=resource, kind=kind, name=store or resource.name,
                                  holds_exports=exports, forms=forms))
        return targets

    # The indexes below are built on first use, because a caller that needs only
    # request contexts (an audit rule, for one) should not parse every resource policy.
    @cached_property
    def index(self) -> ResourceIndex:
        return ResourceIndex(self.targets)

    @cached_property
    def resource_policies(self) -> dict[str, tuple[Statement, ...] | None]:
        return {t.arn: self._resource_policy(t) for t in self.targets}

    @cached_property
    def _grantees(self) -> tuple[dict[str, list[Target]], list[Target]]:
        named: dict[str, list[Target]] = {}   # principal value -> targets whose policy grants it
        open_: list[Target] = []              # targets granting "*" or by NotPrincipal
        for target in self.targets:
            for st in self.resource_policies[target.arn] or ():
                if not st.allows or st.principal is None:
                    continue
                if st.principal.wildcard or st.not_principal or st.unknown_reason:
                    open_.append(target)
                    continue
                for values in st.principal.values.values():
                    for value in values:
                        named.setdefault(normalize_principal(value, "aws"), []).append(target)
        return named, open_

    @property
    def named(self) -> dict[str, list[Target]]:
        """Return {principal value: targets whose resource policy grants it}."""
        return self._grantees[0]

    @property
    def open(self) -> list[Target]:
        """Return the targets whose resource policy grants "*" or grants by NotPrincipal."""
        return self._grantees[1]

    def _resource_policy(self, target: Target) -> tuple[Statement, ...] | None:
        resource = target.resource
        attribute = {"s3_bucket": "Policy", "kms_key": "Policy"}.get(resource.kind)
        if attribute is None:
            return None
        label = ("bucket " if resource.kind == "s3_bucket" else "key ") + resource.name + \
            (" bucket policy" if resource.kind == "s3_bucket" else " key policy")
        if not resource.known(attribute):
            reason = resource.errors.get(attribute, "not in the inventory")
            log.warning("%s could not be read (%s); cells it could change are unknown", label, reason)
            return unknown_policy(label, "resource", f"{label} could not be read: {reason}").statements
        document = resource.get(attribute)
        if document is None:
            return None
        return parse_or_unknown(document, label, "resource").statements

    def context(self, principal: Principal, target: Target | None) -> RequestContext:
        """Return the request context of a principal on a target, shared by targets that give the same keys."""
        region = (target.resource.region or self.region) if target is not None else ""
        tags_used = target is not None and self.assumptions.resource_tags and self.uses_resource_tags
        key = (id(principal), target is not None, region,
               tuple(sorted(target.resource.tags.items())) if tags_used and target is not None else ())
        found = self._contexts.get(key)
        if found is None:
            if len(self._contexts) > 4096:
                self._contexts.clear()
            found = self._contexts[key] = self._make_context(principal, target, region, tags_used)
        return found

    def _make_context(self, principal: Principal, target: Target | None, region: str,
                      tags_used: bool) -> RequestContext:
        values = dict(principal.context)
        values.update({"aws:SecureTransport": self.assumptions.secure_transport,
                       "aws:MultiFactorAuthPresent": self.assumptions.mfa_present,
                       "aws:PrincipalIsAWSService": False, "aws:ResourceAccount": self.account})
        absent = list(principal.absent)
        if region:
            values["aws:RequestedRegion"] = region
        if target is not None and self.assumptions.resource_tags:
            absent.append("aws:ResourceTag/*")
            if tags_used:
                values.update({f"aws:ResourceTag/{k}": v for k, v in target.resource.tags.items()})
        values.update(self.assumptions.extra)
        return RequestContext(values, self.assumptions.unknowable, absent)

    def statement_targets(self, principal: Principal) -> dict[Statement, dict[int, Target] | None]:
        """Return the targets (by id) each identity statement may match; None means every target."""
        base = self.context(principal, None)
        found: dict[Statement, dict[int, Target] | None] = {}
        for st in principal.identity:
            kinds = self.kinds_of(st)
            if not kinds:
                continue  # no action of the statement touches a tenant resource
            if not st.allows or st.resources is None or st.not_resource:
                # Denies only matter on targets that some Allow brings in, and the
                # evaluator checks their resources there, so no lookup is needed.
                found[st] = None
                continue
            hits: dict[int, Target] = {}
            for pattern in st.resources:
                if st.variables and has_variables(pattern):
                    resolved = resolve(pattern, base)
                    if resolved.missing:
                        continue
                    pattern = resolved.text if resolved.text is not None else pattern.split("${", 1)[0] + "*"
                hits.update((id(t), t) for t in self.index.lookup(pattern) if t.kind in kinds)
            found[st] = hits
        return found

    def kinds_of(self, st: Statement) -> frozenset[str]:
        """Return the target kinds that some action of the statement can touch."""
        key = (st.actions, st.not_action)
        found = self._kinds.get(key)
        if found is None:
            found = self._kinds[key] = frozenset(
                kind for kind, forms in self.forms_by_kind.items()
                if any(self.catalog.matching(st.actions, st.not_action, kind, form) for form in forms))
        return found

    def grants(self, principal: Principal, per_statement: dict[Statement, dict[int, Target] | None]
               ) -> dict[int, tuple[Target, Grant]]:
        """Evaluate the principal on every target it may reach; return the targets with grants."""
        candidates: dict[int, Target] = {}
        for st, hits in per_statement.items():
            if st.allows:
                if hits is None:
                    kinds = self.kinds_of(st)
                    candidates.update((id(t), t) for t in self.index.all if t.kind in kinds)
                else:
                    candidates.update(hits)
        for identity in principal.caller.identities:
            candidates.update((id(t), t) for t in self.named.get(identity, ()))
        if principal.kind == "role":
            sessions = principal.resource.arn.replace(":iam::", ":sts::").replace(":role/", ":assumed-role/")
            prefix = sessions.rsplit("/", 1)[0] + "/" + principal.name + "/"
            for value, targets in self.named.items():
                if value.startswith(prefix):
                    candidates.update((id(t), t) for t in targets)
        candidates.update((id(t), t) for t in self.open)

        results = {}
        for key, target in candidates.items():
            identity = [st for st, hits in per_statement.items()
                        if (key in hits if hits is not None else target.kind in self.kinds_of(st))]
            grant = self._evaluate(principal, target, identity)
            if grant.allowed or grant.unknown:
                results[key] = (target, grant)
        return results

    def _evaluate(self, principal: Principal, target: Target, identity: Sequence[Statement]) -> Grant:
        grant = Grant()
        resource = self.resource_policies[target.arn]
        boundary = principal.boundary
        context = self.context(principal, target)
        identity_set = set(identity)
        for form in target.forms:
            matched: dict[Statement, frozenset[str]] = {}
            granting: set[str] = set()
            for st in (*identity, *(boundary or ()), *(resource or ())):
                actions = self.catalog.matching(st.actions, st.not_action, target.kind, form.name)
                if form.subset:
                    actions = frozenset(a for a in actions if form.accepts(a))
                if not actions:
                    continue
                matched[st] = actions
                if st.allows and (st in identity_set or st.principal is not None):
                    granting |= actions
            if not granting:
                continue
            classes: dict[tuple[int, ...], list[str]] = {}
            signature: dict[str, list[Statement]] = {a: [] for a in granting}
            for st, actions in matched.items():
                for action in actions & granting:
                    signature[action].append(st)
            for action, statements in signature.items():
                classes.setdefault(tuple(id(st) for st in statements), []).append(action)
            arns = samples(form, self._patterns(matched, context))
            for actions in classes.values():
                chosen = set(signature[actions[0]])
                result = self._decide(principal, context, actions[0], arns,
                                      [st for st in identity if st in chosen],
                                      None if boundary is None else [st for st in boundary if st in chosen],
                                      None if resource is None else [st for st in resource if st in chosen])
                if result.decision is Decision.DENY:
                    continue
                by_capability: dict[Capability, list[str]] = {}
                for action in actions:
                    capability = classify(action, target.kind, target.holds_exports)
                    if capability is None:
                        self.unclassified.add(action)
                    else:
                        by_capability.setdefault(capability, []).append(action)
                for capability, listed in by_capability.items():
                    grant.add(capability, listed, result)
        return grant

    def _decide(self, principal: Principal, context: RequestContext, action: str, arns: Sequence[str],
                identity: list[Statement], boundary: list[Statement] | None,
                resource: list[Statement] | None) -> Result:
        best: Result | None = None
        for arn in arns:
            result = decide(principal.caller, context, action, arn, self.account, identity, boundary, resource,
                            actions_checked=True)
            if best is None or _RANK[result.decision] > _RANK[best.decision]:
                best = result
            if best.decision is Decision.ALLOW:
                break
        assert best is not None
        return best

    @staticmethod
    def _patterns(matched: Mapping[Statement, frozenset[str]], context: RequestContext) -> list[str]:
        patterns = []
        for st in matched:
            for pattern in st.resources or ():
                if st.variables and has_variables(pattern):
                    pattern = resolve(pattern, context).text or ""
                if pattern:
                    patterns.append(pattern)
        return patterns

    def reach(self, user: Principal, role: Principal) -> Result:
        """Decide whether a user may assume a role: identity policies and the trust policy."""
        context = self.context(user, None)
        return decide(user.caller, context, "sts:AssumeRole", role.resource.arn, self.account,
                      user.identity, user.boundary, role.trust or ())


def reads_resource_tags(inventory: Inventory) -> bool:
    """Return True when any policy text of the inventory mentions a resource-tag condition key."""
    marker = "resourcetag/"
    for resource in inventory.resources:
        for name in ("Policy", "Document", "InlinePolicies", "AssumeRolePolicyDocument", "GroupPolicies"):
            if resource.known(name) and marker in repr(resource.get(name)).lower():
                return True
    return False
