"""Identity rules: who manages people, one person per login, no outside principal trusted, support access time-boxed.

User management reads the access matrix. The other rules read the tenant's IAM
users, role trust policies, bucket policies and key policies from the inventory, and
judge principals and conditions with ``datamap.iam``: the principal matching that
the evaluator uses, and its condition operators.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import re
from collections import defaultdict
from collections.abc import Iterator
from typing import Any

from datamap.iam.conditions import evaluate_conditions
from datamap.iam.context import RequestContext, Tri
from datamap.iam.errors import PolicyError
from datamap.iam.evaluation import TRUST_ACTIONS
from datamap.iam.matching import action_matches
from datamap.iam.policy import Statement, parse_policy
from datamap.iam.principals import normalize_principal, not_principal_applies, parse_caller, principal_match
from datamap.inventory import Resource, thaw
from infra import naming, tags
from policies.context import CheckContext
from policies.findings import Finding, Severity, Status
from policies.rules.access import check_capability_declared
from policies.rules.audit import empty_inventory
from policies.rules.base import Rule, ref, scan_errors, tenant_ref, unread_kind, upper_first
from policies.rules.protection import other_account

IAM_KINDS = ("iam_user", "iam_role")
TIME_KEYS = ("aws:currenttime", "aws:epochtime")
# IAM unique ids (AIDA..., AROA...) appear in a policy in place of a principal that was deleted.
UNIQUE_ID = re.compile(r"^A[A-Z0-9]{15,}$")


def check_user_management(context: CheckContext, rule: Rule) -> Iterator[Finding]:
    """Check that admin on tenant IAM users and roles belongs only to principals whose spec role declares admin.

    This is the admin rule of ``policies.rules.access`` narrowed to cells whose
    resource is a tenant user or role, so the report shows who can manage people.
    """
    if context.matrix is not None:
        principals = {r.arn for r in context.inventory.resources if r.kind in IAM_KINDS}
        cells = tuple(c for c in context.matrix.cells if c.resource_arn in principals)
        context = dataclasses.replace(context, matrix=dataclasses.replace(context.matrix, cells=cells))
    for finding in check_capability_declared(context, rule):
        if finding.status is Status.PASS:
            checked = sum(1 for c in context.matrix.cells if c.capability == "admin")
            finding = dataclasses.replace(
                finding, observed="user management only where declared",
                message=f"Only principals whose spec role declares admin can manage the users and roles of tenant "
                        f"{context.inventory.customer} ({checked} admin grants checked)."
                        + (f" Roles only AWS services can assume were not counted: "
                           f"{', '.join(e.removeprefix('service role ') for e in finding.evidence)}."
                           if finding.evidence else ""))
        yield finding


def check_one_person_per_user(context: CheckContext, rule: Rule) -> Iterator[Finding]:
    """Check that every tenant IAM user carries one pilot:person of the spec, and no person has two users."""
    errors = scan_errors(context, "iam")
    if errors:
        yield unread_kind(rule, context, "IAM user", errors)
    users = context.of_kind("iam_user")
    people = {p.id: p for p in context.spec.people} if context.spec else None
    by_person: dict[str, list[Resource]] = defaultdict(list)
    for user in users:
        person = user.tags.get(tags.PERSON, "").strip()
        if person:
            by_person[person].append(user)
    expected = f"one {tags.PERSON} tag naming a spec person who has no other user"
    for user in users:
        label = f"user {user.name}"
        person = user.tags.get(tags.PERSON, "").strip()
        if "tags" in user.errors:
            yield rule.finding(Status.UNKNOWN, ref(user), "tags not read", expected,
                               f"The tags of {label} could not be read ({user.errors['tags']}).",
                               fix="Grant the scanner iam:GetUser and run the check again.")
        elif not person:
            reach = _stores_reached(context, user)
            fix = f"Tag {label} with {tags.PERSON}=<spec person id>, or delete it if nobody owns it."
            yield rule.finding(Status.FAIL, ref(user), f"no {tags.PERSON} tag", expected,
                               f"{upper_first(label)} carries no {tags.PERSON} tag, so nobody answers for what it "
                               f"does{reach}. Fix: {fix}", fix=fix)
        elif len(by_person[person]) > 1:
            names = ", ".join(u.name for u in by_person[person])
            fix = f"Keep one user for {person} and delete the others ({names})."
            yield rule.finding(Status.FAIL, ref(user), f"{tags.PERSON}={person}", expected,
                               f"Person {person} has {len(by_person[person])} users ({names}), so the audit trail "
                               f"cannot tell which login acted. Fix: {fix}", fix=fix)
        elif people is None:
            yield rule.finding(Status.UNKNOWN, ref(user), f"{tags.PERSON}={person}", expected,
                               f"{upper_first(label)} belongs to {person}, but there is no pilot spec to confirm "
                               "that person.", fix="Run the check with the tenant's pilot spec.")
        elif person not in people:
            several = any(mark in person for mark in (",", ";", " ", "+", "&"))
            reason = "which looks like several people in one tag" if several else "who is not in the pilot spec"
            fix = f"Give each person their own user tagged {tags.PERSON}=<their spec id>, and delete {label}."
            yield rule.finding(Status.FAIL, ref(user), f"{tags.PERSON}={person}", expected,
                               f"{upper_first(label)} is tagged {tags.PERSON}={person}, {reason}. Fix: {fix}", fix=fix)
        else:
            yield rule.finding(Status.PASS, ref(user), f"{tags.PERSON}={person}", expected,
                               f"{upper_first(label)} belongs to {people[person].name} ({person}) alone.")


def _stores_reached(context: CheckContext, user: Resource) -> str:
    if context.matrix is None:
        return ""
    stores = {s.name for s in context.stores}
    assumes = f"user {user.name} assumes "
    reached = sorted({f"{c.capability} on {c.resource_name}" for c in context.matrix.cells
                      if (c.principal_arn == user.arn or c.via.startswith(assumes)) and c.resource_name in stores})
    return f", and it has {', '.join(reached)}" if reached else ""


# Inventory kind -> (policy attribute, words for the policy).
RESOURCE_POLICIES = {"iam_role": ("AssumeRolePolicyDocument", "trust policy"),
                     "s3_bucket": ("Policy", "bucket policy"), "kms_key": ("Policy", "key policy")}


def check_no_outside_trust(context: CheckContext, rule: Rule) -> Iterator[Finding]:
    """Check that trust, bucket and key policies grant only tenant principals, the account root and AWS services."""
    errors = scan_errors(context, "iam", "s3", "kms")
    if errors:
        yield unread_kind(rule, context, "role, bucket or key", errors)
    expected = "only tenant principals, the tenant's account root and AWS service principals"
    for resource in context.inventory.resources:
        if resource.kind not in RESOURCE_POLICIES:
            continue
        attribute, words = RESOURCE_POLICIES[resource.kind]
        owner = f"{resource.kind.split('_')[-1]} {resource.name}"     # "role acme-recorder", "bucket ..."
        label = f"{words} of {owner}"
        fix = f"Remove from the {label} every principal outside tenant {context.inventory.customer}."
        if not resource.known(attribute):
            yield rule.finding(Status.UNKNOWN, ref(resource), "not read", expected,
                               f"The {label} could not be read ({resource.errors.get(attribute, 'not recorded')}).",
                               fix="Grant the scanner permission to read the policy and run the check again.")
            continue
        if resource.get(attribute) is None:
            yield rule.finding(Status.PASS, ref(resource), f"no {words}", expected,
                               f"{upper_first(owner)} has no {words}, so it grants nobody access.", fix=fix)
            continue
        try:
            statements = parse_policy(thaw(resource.get(attribute)), label, "resource").statements
        except PolicyError as exc:
            yield rule.finding(Status.UNKNOWN, ref(resource), "invalid policy", expected,
                               f"The {label} cannot be judged: {exc}.", fix="Correct the policy document.")
            continue
        partition = resource.arn.split(":")[1] if resource.arn.startswith("arn:") else "aws"
        outside, undecided, trusted = outside_principals(context, statements, partition)
        if outside:
            yield rule.finding(Status.FAIL, ref(resource), "; ".join(outside), expected,
                               f"The {label} trusts principals outside tenant {context.inventory.customer}: "
                               f"{'; '.join(outside)}. Fix: {fix}", fix=fix, evidence=outside)
        elif undecided:
            yield rule.finding(Status.UNKNOWN, ref(resource), "; ".join(undecided), expected,
                               f"The {label} may trust principals outside tenant {context.inventory.customer}: "
                               f"{'; '.join(undecided)}.", fix=fix, evidence=undecided)
        elif trusted:
            yield rule.finding(Status.PASS, ref(resource), ", ".join(trusted), expected,
                               f"The {label} trusts only {', '.join(trusted)}.", fix=fix, evidence=trusted)
        else:
            yield rule.finding(Status.PASS, ref(resource), "no Allow statement", expected,
                               f"The {label} allows nothing to anyone; it only denies.", fix=fix)


def outside_principals(context: CheckContext, statements: tuple[Statement, ...], partition: str = "aws"
                       ) -> tuple[list[str], list[str], list[str]]:
    """Return descriptions of the outsiders the Allow statements admit, those that may admit one, and who is trusted.

    A named principal outside the tenant, and a "*" or NotPrincipal grant, is tried
    as a caller: it counts as admitted unless the statement's conditions are
    certainly false for it. Every condition key other than the caller's ARN and
    account is unknown.

    NOTE: Deny statements are not weighed against the Allows, so a policy that
    grants "*" and then denies everyone outside the tenant still fails.
    """
    inventory = context.inventory
    account = inventory.account_id
    tenant = {r.arn for r in inventory.resources if r.kind in IAM_KINDS}
    sessions = {f":assumed-role/{r.name}/" for r in inventory.of_kind("iam_role")}
    other = other_account(account)
    probes = ((f"any principal of another account ({other})", f"arn:{partition}:iam::{other}:user/pilotctl-probe"),
              (f"any principal of account {account} outside the tenant",
               f"arn:{partition}:iam::{account}:user/pilotctl-probe-not-in-tenant"))
    outside: list[str] = []
    undecided: list[str] = []
    trusted: dict[str, None] = {}
    for st in statements:
        if not st.allows or st.principal is None:
            continue
        tried: list[tuple[str, str]] = []     # (description, caller ARN) to try the conditions with
        if st.principal.wildcard or st.not_principal:
            for text, arn in probes:
                caller = parse_caller(arn)
                named = not_principal_applies(st.principal, caller) if st.not_principal else \
                    principal_match(st.principal, caller) is not None
                if named:
                    tried.append((text, arn))
        else:
            for kind, values in st.principal.values.items():
                for value in values:
                    arn = normalize_principal(value, partition)
                    if value == "*" and kind == "AWS":
                        tried.extend(probes)  # "*" among other values still names everyone
                    elif kind == "Service" and value != "*":
                        trusted[f"service {value}"] = None
                    elif kind != "AWS":
                        outside.append(f"{st.ref} names {kind} principal {value}")
                    elif arn == f"arn:{partition}:iam::{account}:root":
                        trusted[f"account root {account}"] = None
                    elif arn in tenant or (f"::{account}:" in arn and any(s in arn for s in sessions)):
                        trusted[arn] = None
                    elif UNIQUE_ID.match(value):
                        trusted[f"deleted principal {value}, which nobody can use"] = None
                    else:
                        tried.append((value, arn))
        for text, arn in tried:
            verdict = _admits(st, arn)
            if verdict is Tri.TRUE:
                outside.append(f"{st.ref} admits {text}")
            elif verdict is Tri.UNKNOWN:
                undecided.append(f"{st.ref} may admit {text}, depending on its conditions")
    return outside, undecided, list(trusted)


def _admits(statement: Statement, arn: str) -> Tri:
    """Return whether the statement's conditions can hold for a request by ``arn``."""
    try:
        caller = parse_caller(arn)
    except PolicyError:
        return Tri.TRUE if not statement.conditions else Tri.UNKNOWN
    values = {"aws:PrincipalArn": arn, "aws:PrincipalAccount": caller.account, "aws:PrincipalIsAWSService": False}
    return evaluate_conditions(statement.conditions, RequestContext(values, ("*",)), statement.variables).value


def check_support_time_boxed(context: CheckContext, rule: Rule) -> Iterator[Finding]:
    """Check that every support role's trust policy ends access by pilot end plus retention."""
    names = set(rule.parameters["support_roles"])
    customer = context.inventory.customer
    roles = [r for r in context.of_kind("iam_role")
             if r.tags.get(tags.ROLE) in names or r.name in {naming.role(customer, n) for n in names}]
    if not roles:
        errors = scan_errors(context, "iam")
        if errors:
            yield unread_kind(rule, context, "IAM role", errors)
        elif not context.inventory.resources:
            yield empty_inventory(context, rule, "support access time-boxed")
        else:
            yield rule.finding(Status.PASS, tenant_ref(context), "no support role", "support access time-boxed",
                               f"Tenant {customer} has no support role (none tagged {tags.ROLE} "
                               f"{' or '.join(sorted(names))}), so there is no internal support access to time-box.")
        return
    deadline = context.spec.data_deleted_by if context.spec else None
    for role in roles:
        yield _time_box_finding(context, rule, role, deadline)


def _time_box_finding(context: CheckContext, rule: Rule, role: Resource, deadline: dt.date | None) -> Finding:
    label = f"role {role.name}"
    last_day = deadline.isoformat() if deadline else "pilot end plus retention"
    expected = f"every trust statement limited by aws:CurrentTime DateLessThan at most the end of {last_day}"
    fix = (f"Add to each Allow statement of the trust policy of {label} the condition "
           f"{{\"DateLessThan\": {{\"aws:CurrentTime\": \"{_after(deadline)}\"}}}}.")
    if not role.known("AssumeRolePolicyDocument"):
        return rule.finding(Status.UNKNOWN, ref(role), "not read", expected,
                            f"The trust policy of {label} could not be read "
                            f"({role.errors.get('AssumeRolePolicyDocument', 'not recorded')}).",
                            fix="Grant the scanner iam:GetRole and run the check again.")
    try:
        statements = parse_policy(thaw(role.get("AssumeRolePolicyDocument")), f"{label} trust policy",
                                  "resource").statements
    except PolicyError as exc:
        return rule.finding(Status.UNKNOWN, ref(role), "invalid policy", expected,
                            f"The trust policy of {label} cannot be judged: {exc}.", fix="Correct the policy.")
    open_ended, undecided, boxed = [], [], []
    for statement in statements:
        if not statement.allows or not _assumes(statement):
            continue
        verdict, text = _time_limit(statement, deadline)
        {Tri.FALSE: boxed, Tri.TRUE: open_ended, Tri.UNKNOWN: undecided}[verdict].append(
            f"{statement.ref} {text}")
    if open_ended:
        return rule.finding(Status.FAIL, ref(role), "; ".join(open_ended), expected,
                            f"Support access through {label} is not time-boxed: {'; '.join(open_ended)}. Fix: {fix}",
                            fix=fix, evidence=open_ended)
    if undecided:
        return rule.finding(Status.UNKNOWN, ref(role), "; ".join(undecided), expected,
                            f"Whether support access through {label} ends in time is unknown: "
                            f"{'; '.join(undecided)}.", fix=fix, evidence=undecided)
    return rule.finding(Status.PASS, ref(role), "; ".join(boxed) or "no Allow statement", expected,
                        f"Nobody can assume {label} after {last_day}: {'; '.join(boxed) or 'no statement allows it'}.",
                        fix=fix, evidence=boxed)


def _assumes(statement: Statement) -> bool:
    hit = any(action_matches(pattern, action) for pattern in statement.actions for action in TRUST_ACTIONS)
    return hit != statement.not_action


def _after(deadline: dt.date | None) -> str:
    day = (deadline + dt.timedelta(days=1)).isoformat() if deadline else "<pilot end + retention + 1 day>"
    return f"{day}T00:00:00Z"


def _time_limit(statement: Statement, deadline: dt.date | None) -> tuple[Tri, str]:
    """Return FALSE when the statement's time conditions stop it after the deadline, TRUE when they do not."""
    clauses = tuple(c for c in statement.conditions if c.key.lower() in TIME_KEYS)
    written = ", ".join(f"{c.key} ({c.operator}) {' or '.join(c.values)}" for c in clauses)
    if not clauses:
        return Tri.TRUE, "has no aws:CurrentTime or aws:EpochTime condition"
    if deadline is None:
        return Tri.UNKNOWN, f"limits time by {written}, but without a pilot spec the deadline is unknown"
    moment = dt.datetime.combine(deadline + dt.timedelta(days=1), dt.time(), dt.timezone.utc)
    values: dict[str, Any] = {"aws:CurrentTime": moment.strftime("%Y-%m-%dT%H:%M:%SZ"),
                              "aws:EpochTime": str(int(moment.timestamp()))}
    result = evaluate_conditions(clauses, RequestContext(values, ("*",)), statement.variables)
    if result.value is Tri.FALSE:
        return Tri.FALSE, f"ends by {written}"
    if result.value is Tri.TRUE:
        return Tri.TRUE, f"still allows access after {deadline.isoformat()} ({written})"
    return Tri.UNKNOWN, f"limits time by {written}, which depends on {', '.join(result.unknown)}"


RULES = (
    Rule("PILOT-IDN-001", "Only the spec's admin roles manage tenant users and roles", Severity.CRITICAL,
         "Whoever can create logins, keys or policies for tenant principals can give anyone any access; the spec "
         "gives that power to its admin roles alone.",
         "Remove IAM management actions on tenant users and roles from principals whose spec role lacks admin.",
         check_user_management, {"capability": "admin", "exempt_service_roles": True}),
    Rule("PILOT-IDN-002", "Every IAM user belongs to exactly one spec person", Severity.HIGH,
         "A login shared by several people, or one nobody owns, makes the audit trail unable to say who acted. "
         "The rule reads the pilot:person tag of each tenant user: it must name a spec person, and no person may "
         "have a second user.",
         "Give each person one IAM user tagged pilot:person with their spec id; delete users nobody owns.",
         check_one_person_per_user),
    Rule("PILOT-IDN-003", "No principal outside the tenant is trusted", Severity.CRITICAL,
         "A role trust policy, bucket policy or key policy that names another account, another principal of the "
         "account or \"*\" lets someone outside the pilot in without any tenant policy saying so. Allowed are "
         "tenant users and roles, the tenant's account root (which only delegates to IAM policies) and AWS "
         "service principals; \"*\" passes only when its conditions certainly reject a principal of another "
         "account and a principal of the account outside the tenant.",
         "Name only tenant principals, the account root or AWS services, or restrict \"*\" by aws:PrincipalArn "
         "to the tenant's IAM paths.",
         check_no_outside_trust),
    Rule("PILOT-IDN-004", "Internal support access is time-boxed", Severity.HIGH,
         "Support access must end when the pilot's data is deleted. The rule checks every role tagged pilot:role "
         "support: each Allow statement of its trust policy must carry an aws:CurrentTime or aws:EpochTime "
         "condition that is false from the day after pilot end plus retentionDaysAfterEnd. MaxSessionDuration "
         "does not count, because it limits one session and not when a new one can start.",
         "Add a DateLessThan aws:CurrentTime condition to the support role's trust policy.",
         check_support_time_boxed, {"support_roles": ("support",)}),
)
