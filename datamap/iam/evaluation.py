"""Decide one request: allow, explicit deny, implicit deny, or unknown, with the statements why.

The logic follows the IAM User Guide's "Policy evaluation logic" for identity
policies, one resource policy and a permissions boundary (no SCPs, RCPs, session
policies, ACLs or KMS grants):

1. A matching Deny in any of them is an explicit deny. A resource-policy Deny
   applies when its Principal names the caller (any identity: user or session,
   role, account). A NotPrincipal Deny applies when some identity of the caller is
   not listed, and always applies to a caller with a permissions boundary, as AWS
   documents.
2. Same account, for most resources: allowed when identity policies and the
   boundary (if any) allow. Also allowed when the resource policy grants directly to
   the user or session ARN or to ``"*"``, or grants to the role ARN and the boundary
   allows. A grant to the account only delegates to identity policies.
3. Same account, KMS keys and role trust policies (``sts:AssumeRole`` and related
   actions on a role): the key or trust policy must allow. A grant to the account
   (``arn:aws:iam::ID:root``) delegates, so identity policies and the boundary must
   then allow as well.
4. Across accounts: identity policies and the boundary must allow in the caller's
   account, and the resource policy must name the caller, its role or its account.

Every match is three-valued (see ``datamap.iam.context``): a Deny that might match
and an Allow that might be the only grant both make the result unknown, never a
guess. An explicit deny that certainly matches, or a missing Allow that no unknown
could supply, still decides.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from itertools import chain
from typing import Any, NamedTuple

from datamap.iam.conditions import evaluate_conditions
from datamap.iam.context import RequestContext, Tri
from datamap.iam.matching import arn_account, arn_service, resource_matches
from datamap.iam.policy import Policy, Statement
from datamap.iam.principals import ACCOUNT, DIRECT, ROLE, Caller, not_principal_applies, parse_caller, \
    principal_match
from datamap.matrix import StatementRef

# Actions whose role trust policy must allow them, like a KMS key policy must.
TRUST_ACTIONS = frozenset({"sts:assumerole", "sts:assumerolewithsaml", "sts:assumerolewithwebidentity",
                           "sts:tagsession", "sts:setsourceidentity", "sts:setcontext"})
_OWNER_KEYS = ("aws:ResourceAccount", "s3:ResourceAccount")


class Decision(StrEnum):
    ALLOW = "allow"
    DENY = "deny"
    UNKNOWN = "unknown"


class Reason(StrEnum):
    ALLOW = "allow"
    EXPLICIT_DENY = "explicit_deny"
    IMPLICIT_DENY = "implicit_deny"
    UNKNOWN = "unknown"


@dataclass(frozen=True)
class Request:
    """One request: who, what, on which resource, and in which context."""

    principal_arn: str
    action: str
    resource_arn: str
    context: Mapping[str, Any] = field(default_factory=dict)
    # Keys whose value cannot be known; see RequestContext for the accepted forms.
    unknowable: frozenset[str] = frozenset()
    # The account that owns the resource; "" takes it from the ARN or aws:ResourceAccount.
    resource_account: str = ""


@dataclass(frozen=True)
class Result:
    """A decision with the statements behind it."""

    decision: Decision
    reason: Reason
    statements: tuple[StatementRef, ...] = ()
    unknown_conditions: tuple[str, ...] = ()
    explanation: str = ""

    def __str__(self) -> str:
        text = f"{self.decision} ({self.reason})"
        return f"{text}: {self.explanation}" if self.explanation else text


class _Term(NamedTuple):   # a NamedTuple, because a frozen dataclass is slower to build in the hot loop
    value: Tri
    statements: tuple[Statement, ...] = ()
    unknown: tuple[str, ...] = ()


_FALSE, _TRUE = _Term(Tri.FALSE), _Term(Tri.TRUE)
# Module constants, because looking members up on the enum class is slow in the loops below.
_TRI_FALSE, _TRI_UNKNOWN, _TRI_TRUE = Tri.FALSE, Tri.UNKNOWN, Tri.TRUE


def _any(terms: Sequence[_Term]) -> _Term:
    if not terms:
        return _FALSE
    trues = [t for t in terms if t.value is Tri.TRUE]
    if trues:
        return _Term(Tri.TRUE, tuple(s for t in trues for s in t.statements))
    unknowns = [t for t in terms if t.value is Tri.UNKNOWN]
    if unknowns:
        return _Term(Tri.UNKNOWN, tuple(s for t in unknowns for s in t.statements),
                     tuple(u for t in unknowns for u in t.unknown))
    return _FALSE


def _all(terms: Sequence[_Term]) -> _Term:
    if any(t.value is Tri.FALSE for t in terms):
        return _FALSE
    statements = tuple(s for t in terms for s in t.statements)
    unknown = tuple(u for t in terms for u in t.unknown)
    value = Tri.TRUE if all(t.value is Tri.TRUE for t in terms) else Tri.UNKNOWN
    return _Term(value, statements, unknown)


def resource_policy_required(action: str, resource_arn: str) -> bool:
    """Return True for requests that KMS key policies or role trust policies must allow."""
    lowered = action.lower()
    if lowered.startswith("kms:") and arn_service(resource_arn) == "kms":
        return True
    return lowered in TRUST_ACTIONS and arn_service(resource_arn) == "iam" and ":role/" in resource_arn


def owner_account(resource_arn: str, context: RequestContext, caller: Caller) -> str:
    """Return the account that owns the resource, or "" when the ARN and context do not give it."""
    if resource_arn == "*":
        return caller.account
    account = arn_account(resource_arn)
    if account:
        return account
    for key in _OWNER_KEYS:
        value = context.get(key)
        if isinstance(value, str) and value:
            return value
    return ""


class _Matcher:
    """Match statements against one request; statements are compared by identity."""

    def __init__(self, caller: Caller, context: RequestContext, action: str, resource_arn: str,
                 actions_checked: bool, has_boundary: bool):
        self.caller, self.context, self.action, self.resource = caller, context, action, resource_arn
        self.actions_checked, self.has_boundary = actions_checked, has_boundary
        self.lowered_action = action.lower()

    def statement(self, st: Statement) -> _Term:
        if not self.actions_checked:
            hit = st.action_regex.fullmatch(self.lowered_action) is not None
            if hit == st.not_action:
                return _FALSE
        resource = self._resource(st)
        if resource is _TRI_FALSE:
            return _FALSE
        if st.unknown_reason:
            return _Term(_TRI_UNKNOWN, (st,), (st.unknown_reason,))
        if st.conditions:
            conditions = evaluate_conditions(st.conditions, self.context, st.variables)
            value, unknown = resource & conditions.value, conditions.unknown
            if value is _TRI_FALSE:
                return _FALSE
        else:
            value, unknown = resource, ()
        if resource is _TRI_UNKNOWN:
            unknown += self._unknown_variables(st)
        return _Term(value, (st,), unknown)

    def principal(self, st: Statement) -> str | None:
        """Return the category under which a resource-policy statement names the caller."""
        assert st.principal is not None
        if st.not_principal:
            iam_caller = self.caller.kind in ("user", "assumed-role", "role")
            if st.effect == "Deny" and self.has_boundary and iam_caller:
                return DIRECT
            return DIRECT if not_principal_applies(st.principal, self.caller) else None
        return principal_match(st.principal, self.caller)

    def _resource(self, st: Statement) -> Tri:
        if st.resources is None:
            return _TRI_TRUE
        outcome = _TRI_FALSE
        for pattern in st.resources:
            if st.variables and "${" in pattern:
                resolved = self.context.resolve(pattern)
                if resolved.missing:
                    return _TRI_FALSE  # a variable without a value invalidates the statement
                if resolved.text is None:
                    outcome = outcome | _TRI_UNKNOWN
                    continue
                pattern = resolved.text
            if resource_matches(pattern, self.resource):
                outcome = _TRI_TRUE
                break
        return ~outcome if st.not_resource else outcome

    def _unknown_variables(self, st: Statement) -> tuple[str, ...]:
        names = []
        for pattern in st.resources or ():
            resolved = self.context.resolve(pattern)
            if resolved.unknowable:
                names.append(f"{resolved.unknowable} (policy variable in Resource)")
        return tuple(names)


class DenyMatch(NamedTuple):
    """The result of step 1 of ``decide`` on its own: whether an explicit Deny matches a request."""

    value: Tri                                 # TRUE: a Deny certainly matches, UNKNOWN: one might match
    statements: tuple[StatementRef, ...]       # the Deny statements that match or might match
    unknown_conditions: tuple[str, ...]        # what the UNKNOWN depends on


def explicit_deny(caller: Caller, context: RequestContext, action: str, resource_arn: str,
                  identity: Sequence[Statement], boundary: Sequence[Statement] | None,
                  resource: Sequence[Statement] | None) -> DenyMatch:
    """Return whether an explicit Deny in the given policies matches the request, without deciding the Allow side.

    The arguments are those of ``decide``, and the Deny statements are matched by the
    same code. A check that needs only to know whether the request is denied whatever
    grants it (a TLS-only bucket policy, for one) calls this instead of ``decide``,
    which would also evaluate every Allow. ``decide`` returns EXPLICIT_DENY, with the
    same statements, exactly when the value is TRUE here.
    """
    m = _Matcher(caller, context, action, resource_arn, False, boundary is not None)
    deny = _any(_deny_terms(m, identity, boundary, resource))
    return DenyMatch(deny.value, _refs(deny.statements), tuple(dict.fromkeys(deny.unknown)))


# The three functions below return a term for each statement that might match. Terms
# that are certainly false are left out, because every list only feeds ``_any``, on
# which a false term has no effect.

def _deny_terms(m: _Matcher, identity: Sequence[Statement], boundary: Sequence[Statement] | None,
                resource: Sequence[Statement] | None) -> list[_Term]:
    terms = []
    for st in chain(identity, boundary or ()):
        if not st.allows:
            term = m.statement(st)
            if term is not _FALSE:
                terms.append(term)
    for st in resource or ():
        if not st.allows and m.principal(st) is not None:
            term = m.statement(st)
            if term is not _FALSE:
                terms.append(term)
    return terms


def _allow_terms(m: _Matcher, statements: Sequence[Statement]) -> list[_Term]:
    terms = []
    for st in statements:
        if st.allows:
            term = m.statement(st)
            if term is not _FALSE:
                terms.append(term)
    return terms


def _resource_allow_terms(m: _Matcher, resource: Sequence[Statement] | None) -> dict[str, list[_Term]]:
    """Return the Allow terms of a resource policy by the category under which each names the caller."""
    by_category: dict[str, list[_Term]] = {DIRECT: [], ROLE: [], ACCOUNT: []}
    for st in resource or ():
        if st.allows:
            category = m.principal(st)
            if category is not None:
                term = m.statement(st)
                if term is not _FALSE:
                    by_category[category].append(term)
    return by_category


def decide(caller: Caller, context: RequestContext, action: str, resource_arn: str, owner: str,
           identity: Sequence[Statement], boundary: Sequence[Statement] | None,
           resource: Sequence[Statement] | None, actions_checked: bool = False) -> Result:
    """Decide a request from already parsed statements.

    ``boundary`` and ``resource`` are None when there is no such policy (an empty
    sequence is a policy with no matching statement). ``owner`` is the resource's
    account, "" when unknown. With ``actions_checked`` the caller promises that every
    statement given matches ``action``, which lets the access matrix decide many
    actions with one call.
    """
    m = _Matcher(caller, context, action, resource_arn, actions_checked, boundary is not None)
    deny = _any(_deny_terms(m, identity, boundary, resource))
    if deny.value is Tri.TRUE:
        return Result(Decision.DENY, Reason.EXPLICIT_DENY, _refs(deny.statements),
                      explanation="an explicit Deny matches")

    by_category = _resource_allow_terms(m, resource)
    parts = {"identity": _any(_allow_terms(m, identity)),
             "boundary": _TRUE if boundary is None else _any(_allow_terms(m, boundary)),
             DIRECT: _any(by_category[DIRECT]), ROLE: _any(by_category[ROLE]), ACCOUNT: _any(by_category[ACCOUNT])}
    needs_resource_policy = resource_policy_required(action, resource_arn)
    if owner:
        allowed = _allowed(parts, caller, owner == caller.account, needs_resource_policy)
    else:
        same = _allowed(parts, caller, True, needs_resource_policy)
        cross = _allowed(parts, caller, False, needs_resource_policy)
        allowed = same if same.value is cross.value else _Term(
            Tri.UNKNOWN, same.statements + cross.statements,
            ("resource owner account (unknown: give aws:ResourceAccount)",))

    if allowed.value is Tri.FALSE:
        granted = tuple(s for term in parts.values() if term.value is Tri.TRUE for s in term.statements)
        return Result(Decision.DENY, Reason.IMPLICIT_DENY, _refs(granted),
                      explanation=_missing(parts, caller, owner, needs_resource_policy, resource is not None))
    if allowed.value is Tri.TRUE and deny.value is Tri.FALSE:
        return Result(Decision.ALLOW, Reason.ALLOW, _refs(allowed.statements), explanation="allowed")
    unknown = tuple(dict.fromkeys(deny.unknown + allowed.unknown))
    return Result(Decision.UNKNOWN, Reason.UNKNOWN, _refs(allowed.statements + deny.statements), unknown,
                  explanation="depends on " + ", ".join(unknown))


def _allowed(parts: dict[str, _Term], caller: Caller, same_account: bool, needs_resource_policy: bool) -> _Term:
    identity, boundary = parts["identity"], parts["boundary"]
    direct, role, account = parts[DIRECT], parts[ROLE], parts[ACCOUNT]
    if caller.kind in ("service", "anonymous"):
        return direct
    if not same_account:
        return _all([identity, boundary, _any([direct, role, account])])
    if caller.kind == "root":
        return _any([direct, role, account]) if needs_resource_policy else _TRUE
    if needs_resource_policy:
        return _any([direct, _all([role, boundary]), _all([account, identity, boundary])])
    return _any([_all([identity, boundary]), direct, _all([role, boundary])])


def _missing(parts: dict[str, _Term], caller: Caller, owner: str, needs_resource_policy: bool,
             has_resource_policy: bool) -> str:
    """Explain an implicit deny: which required Allow is missing."""
    if caller.kind == "anonymous":
        return "no resource policy statement grants it to everyone (Principal \"*\"), which an anonymous request needs"
    reasons = []
    resource_side = any(parts[c].value is not Tri.FALSE for c in (DIRECT, ROLE, ACCOUNT))
    if owner and owner != caller.account:
        if parts["identity"].value is Tri.FALSE:
            reasons.append("no identity-based policy allows it")
        if parts["boundary"].value is Tri.FALSE:
            reasons.append("the permissions boundary does not allow it")
        if not resource_side:
            reasons.append("the resource policy does not allow this principal, which a cross-account request needs"
                           if has_resource_policy else "there is no resource policy, which a cross-account "
                           "request needs")
        return "; ".join(reasons)
    if needs_resource_policy and not resource_side:
        return ("no statement of the key or trust policy allows this principal, directly or by delegating "
                "to its account" if has_resource_policy else "there is no key or trust policy, and one must allow this request")
    if parts["identity"].value is Tri.FALSE:
        reasons.append("no identity-based policy allows it" if needs_resource_policy or not has_resource_policy
                       else "no identity-based or resource-based policy allows it")
    if parts["boundary"].value is Tri.FALSE:
        reasons.append("the permissions boundary does not allow it")
    return "; ".join(reasons) or "no policy allows it"


def _refs(statements: Sequence[Statement]) -> tuple[StatementRef, ...]:
    return tuple(dict.fromkeys(st.ref for st in statements))


def evaluate(request: Request, identity: Sequence[Policy] = (), resource_policy: Policy | None = None,
             boundary: Policy | None = None) -> Result:
    """Decide ``request`` against parsed policies.

    >>> from datamap.iam.policy import parse_policy
    >>> allow = parse_policy({"Version": "2012-10-17", "Statement": [{"Effect": "Allow",
    ...     "Action": "s3:Get*", "Resource": "arn:aws:s3:::b/*"}]}, "user alice inline policy read")
    >>> evaluate(Request("arn:aws:iam::111122223333:user/alice", "s3:GetObject", "arn:aws:s3:::b/k",
    ...     {"aws:ResourceAccount": "111122223333"}), [allow]).decision
    <Decision.ALLOW: 'allow'>
    """
    context = RequestContext(request.context, request.unknowable)
    caller = parse_caller(request.principal_arn, context)
    owner = request.resource_account or owner_account(request.resource_arn, context, caller)
    return decide(caller, context, request.action, request.resource_arn, owner,
                  [st for policy in identity for st in policy.statements],
                  None if boundary is None else boundary.statements,
                  None if resource_policy is None else resource_policy.statements)
