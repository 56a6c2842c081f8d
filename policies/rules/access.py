"""Access rules: no principal can do more to a tenant resource than the pilot spec declares.

The capability rules read the access matrix, whose cells already carry the
statements that grant each capability. A cell the IAM evaluation could not decide is
reported as unknown, never as a pass. The wildcard rule reads the tenant's own policy
documents in the inventory.
"""

from __future__ import annotations

import json
import logging
from collections import defaultdict
from collections.abc import Iterable, Iterator, Mapping
from typing import Any

from datamap.inventory import Resource, thaw
from datamap.matrix import AccessCell
from infra import naming
from infra.capabilities import Capability
from infra.spec import PilotSpec
from policies.context import CheckContext
from policies.findings import Finding, ResourceRef, Severity, Status
from policies.rules.base import Rule, ref, scan_errors, tenant_ref, unread_kind, upper_first

log = logging.getLogger(__name__)


def _needs_spec_and_matrix(context: CheckContext, rule: Rule) -> Finding | None:
    missing = [what for what, value in (("pilot spec", context.spec), ("access matrix", context.matrix))
               if value is None]
    if not missing:
        return None
    text = " and ".join(missing)
    return rule.finding(Status.UNKNOWN, tenant_ref(context), f"no {text}", "declared capabilities",
                        f"Access of tenant {context.inventory.customer} cannot be checked because there is no "
                        f"{text}.", fix=f"Run the check with the {text}.")


def _grants(cells: Iterable[AccessCell]) -> str:
    parts = []
    for cell in cells:
        statements = ", ".join(str(s) for s in cell.statements) or "no statement recorded"
        via = f" ({cell.via})" if cell.via else ""
        parts.append(f"{cell.capability} through {statements}{via}")
    return "; ".join(parts)


def check_people_within_roles(context: CheckContext, rule: Rule) -> Iterator[Finding]:
    """Check that each person's effective capabilities on each store stay within their role's capabilities."""
    missing = _needs_spec_and_matrix(context, rule)
    if missing:
        yield missing
        return
    spec, matrix = context.spec, context.matrix
    store_names = {s.name for s in spec.stores}
    by_person_store: dict[tuple[str, str], list[AccessCell]] = defaultdict(list)
    for cell in matrix.cells:
        if cell.person and cell.resource_name in store_names:
            by_person_store[(cell.person, cell.resource_name)].append(cell)

    known_people = {p.id for p in spec.people}
    for person in sorted({c.person for c in matrix.cells if c.person} - known_people):
        cells = [c for c in matrix.cells if c.person == person]
        caps = sorted({str(c.capability) for c in cells})
        yield rule.finding(Status.FAIL, ResourceRef(cells[0].principal_arn, f"person {person}"),
                           ", ".join(caps), "no access", f"Person {person} is not in the pilot spec but has "
                           f"{', '.join(caps)} on tenant resources ({_grants(cells)}). Fix: remove the user or "
                           "declare the person in the spec.", fix=f"Remove the IAM user of {person}, or declare "
                           "the person in the pilot spec.", evidence=[_grants(cells)])

    store_arns = {s.name: s.resource.arn for s in context.stores}
    for person in spec.people:
        role = spec.role(person.role)
        declared = ", ".join(sorted(str(c) for c in role.capabilities))
        for store in spec.stores:
            cells = by_person_store.get((person.id, store.name), [])
            resource = ResourceRef(cells[0].resource_arn if cells else store_arns.get(store.name, ""),
                                   f"store {store.name}")
            extra = [c for c in cells if c.capability not in role.capabilities]
            granted = [c for c in extra if c.status == "allow"]
            undecided = [c for c in extra if c.status != "allow"]
            observed = ", ".join(sorted({str(c.capability) for c in cells if c.status == "allow"})) or "none"
            expected = f"at most {declared} (role {role.name})"
            if granted:
                caps = ", ".join(sorted({str(c.capability) for c in granted}))
                yield rule.finding(
                    Status.FAIL, resource, observed, expected,
                    f"{person.name} ({person.id}) has {caps} on store {store.name}, but role {role.name} declares "
                    f"only {declared}: {_grants(granted)}. Fix: remove those actions from the statements named.",
                    fix=f"Remove the {caps} actions for {person.id} on store {store.name} from the statements named.",
                    evidence=[_grants(granted)])
            elif undecided:
                caps = ", ".join(sorted({str(c.capability) for c in undecided}))
                conditions = sorted({k for c in undecided for k in c.unknown_conditions})
                yield rule.finding(
                    Status.UNKNOWN, resource, f"{observed}; undecided: {caps}", expected,
                    f"{person.name} ({person.id}) may have {caps} on store {store.name}, beyond role {role.name}, "
                    f"depending on {', '.join(conditions) or 'conditions the evaluation could not decide'}: "
                    f"{_grants(undecided)}.",
                    fix="Make the conditions decidable, or remove the statements named.",
                    evidence=[_grants(undecided)])
            else:
                yield rule.finding(Status.PASS, resource, observed, expected,
                                   f"{person.name} ({person.id}) has {observed} on store {store.name}, within role "
                                   f"{role.name} ({declared}).")

    if matrix.unclassified_actions:
        actions = ", ".join(sorted(matrix.unclassified_actions))
        yield rule.finding(Status.UNKNOWN, tenant_ref(context), actions, "only classified actions",
                           f"Policies of tenant {context.inventory.customer} grant actions the capability table "
                           f"does not classify ({actions}), so what they allow is unknown.",
                           fix="Add the actions to infra/capabilities.py, or remove them from the policies.",
                           evidence=matrix.unclassified_actions)


def _declared(cell: AccessCell, spec: PilotSpec, capability: Capability) -> tuple[bool | None, str]:
    """Return whether the spec declares the capability for the cell's principal, and a description of that principal."""
    roles = {r.name: r for r in spec.roles}
    people = {p.id: p for p in spec.people}
    if cell.person:
        if cell.person not in people:
            return False, f"person {cell.person} (not in the pilot spec)"
        role = roles[people[cell.person].role]
        return capability in role.capabilities, f"person {cell.person} (role {role.name})"
    if cell.role:
        if cell.role not in roles:
            return False, f"role {cell.role} (not declared in the pilot spec)"
        return capability in roles[cell.role].capabilities, f"role {cell.role}"
    return None, f"principal {cell.principal_arn} (neither a spec person nor a spec role)"


def check_capability_declared(context: CheckContext, rule: Rule) -> Iterator[Finding]:
    """Check that a high-risk capability appears only where the principal's spec role declares it.

    With the parameter ``exempt_service_roles``, a role whose trust policy admits only
    AWS service principals is not counted. No person can assume such a role, and a
    person who makes the service use it needs capabilities of their own, which that
    person's own cells show.
    """
    missing = _needs_spec_and_matrix(context, rule)
    if missing:
        yield missing
        return
    capability = Capability(rule.parameters["capability"])
    checked = 0
    service_roles: set[str] = set()
    groups: dict[tuple[str, str], list[AccessCell]] = defaultdict(list)
    verdicts: dict[tuple[str, str], bool | None] = {}
    for cell in context.matrix.cells:
        if cell.capability != capability:
            continue
        checked += 1
        declared, principal = _declared(cell, context.spec, capability)  # principal: a readable description
        if declared:
            continue
        if declared is None and rule.parameters["exempt_service_roles"]:
            role_resource = context.by_arn(cell.principal_arn)
            if service_only_role(role_resource):
                service_roles.add(role_resource.name)
                continue
        key = (principal, cell.resource_arn)
        groups[key].append(cell)
        decided = declared is False and cell.status == "allow"
        verdicts[key] = True if decided or verdicts.get(key) else None

    for (principal, resource_arn), cells in sorted(groups.items()):
        resource = ResourceRef(resource_arn, cells[0].resource_name)
        grants = _grants(cells)
        if verdicts[(principal, resource_arn)]:
            yield rule.finding(Status.FAIL, resource, f"{capability} granted", f"no {capability}",
                               f"{upper_first(principal)} has {capability} on {cells[0].resource_name}, which the "
                               f"pilot spec does not declare: {grants}. Fix: remove those actions.",
                               fix=f"Remove the {capability} actions from the statements named.", evidence=[grants])
        else:
            yield rule.finding(Status.UNKNOWN, resource, f"{capability} possible", f"no {capability}",
                               f"{upper_first(principal)} may have {capability} on {cells[0].resource_name}, and the "
                               f"pilot spec does not declare it for them: {grants}.",
                               fix="Tag the principal with its spec role or person, or remove the statements named.",
                               evidence=[grants])
    if not groups:
        exempt = (f" Roles that only AWS services can assume were not counted: {', '.join(sorted(service_roles))}."
                  if service_roles else "")
        yield rule.finding(Status.PASS, tenant_ref(context), f"{capability} only where declared",
                           f"{capability} only where declared",
                           f"Every {capability} grant on tenant {context.inventory.customer} belongs to a principal "
                           f"whose spec role declares {capability} ({checked} checked).{exempt}",
                           evidence=[f"service role {name}" for name in sorted(service_roles)])


def service_only_role(resource: Resource | None) -> bool:
    """Return whether the resource is a role whose trust policy lets only AWS services assume it."""
    if resource is None or resource.kind != "iam_role" or not resource.known("AssumeRolePolicyDocument"):
        return False
    statements = _statements(resource.get("AssumeRolePolicyDocument"))
    if not statements:
        return False
    allows = [st for st in statements if st.get("Effect") == "Allow"]
    for statement in allows:
        principal = statement.get("Principal")
        if "NotPrincipal" in statement or not isinstance(principal, Mapping) or set(principal) != {"Service"}:
            return False
    return bool(allows)


# Resource forms with a wildcard that stays inside one tenant resource or the tenant's IAM path.
SCOPED_FORMS = ("bucket objects", "log streams", "tenant IAM path")


def check_no_wildcards(context: CheckContext, rule: Rule) -> Iterator[Finding]:
    """Check that the tenant's own policies name actions and resources without wildcards, except scoped forms."""
    errors = scan_errors(context, "iam")
    if errors:
        yield unread_kind(rule, context, "IAM principal and policy", errors)
    prefixes = _scoped_prefixes(context, rule.parameters["scoped_forms"])
    for resource in context.inventory.resources:
        for name, document, error in _own_policies(resource):
            label = f"{_principal_label(resource)} {name}"
            policy_ref = ResourceRef(resource.arn, label)
            if error:
                yield rule.finding(Status.UNKNOWN, policy_ref, "not read", "no wildcards",
                                   f"The {label} could not be read ({error}).",
                                   fix="Grant the scanner permission to read IAM policies and run the check again.")
                continue
            problems = _wildcard_problems(document, prefixes)
            if problems is None:
                yield rule.finding(Status.UNKNOWN, policy_ref, "unreadable document", "no wildcards",
                                   f"The {label} is not a policy document with a Statement list.",
                                   fix="Check the policy document.")
            elif problems:
                yield rule.finding(Status.FAIL, policy_ref, "; ".join(problems), "no wildcard action or resource",
                                   f"The {label} uses wildcards: {'; '.join(problems)}. Fix: list the actions and "
                                   "the tenant resource ARNs explicitly.",
                                   fix="List the actions and the tenant resource ARNs explicitly.", evidence=problems)
            else:
                yield rule.finding(Status.PASS, policy_ref, "no wildcards", "no wildcard action or resource",
                                   f"The {label} names its actions and resources explicitly.")


def _own_policies(resource: Resource) -> Iterator[tuple[str, Any, str]]:
    """Yield (policy name, document, read error) for the tenant's inline and customer managed policies."""
    if resource.kind in ("iam_role", "iam_user"):
        if "InlinePolicies" in resource.errors or not resource.known("InlinePolicies"):
            yield "inline policies", None, resource.errors.get("InlinePolicies", "not recorded")
        else:
            for name, document in (resource.get("InlinePolicies") or {}).items():
                yield f"inline policy {name}", document, ""
    if resource.kind == "iam_user":
        if "GroupPolicies" in resource.errors:
            yield "group policies", None, resource.errors["GroupPolicies"]
        for group, policies in (resource.get("GroupPolicies") or {}).items():
            for name, document in (policies.get("InlinePolicies") or {}).items():
                yield f"group {group} inline policy {name}", document, ""
    if resource.kind == "iam_policy" and ":iam::aws:policy/" not in resource.arn:
        if "Document" in resource.errors or not resource.known("Document"):
            yield "document", None, resource.errors.get("Document", "not recorded")
        else:
            yield "document", resource.get("Document"), ""


def _principal_label(resource: Resource) -> str:
    return {"iam_role": "role", "iam_user": "user", "iam_policy": "managed policy"}[resource.kind] + \
        f" {resource.name}"


def _statements(document: Any) -> list[Mapping[str, Any]] | None:
    if isinstance(document, str):
        try:
            document = json.loads(document)
        except json.JSONDecodeError:
            return None
    # Inventory documents are frozen: read-only mappings, and tuples for lists.
    if not isinstance(document, Mapping) or "Statement" not in document:
        return None
    statements = document["Statement"]
    statements = [statements] if isinstance(statements, Mapping) else statements
    if not isinstance(statements, (list, tuple)) or not all(isinstance(s, Mapping) for s in statements):
        return None
    return list(statements)


def _wildcard_problems(document: Any, prefixes: tuple[str, ...]) -> list[str] | None:
    statements = _statements(document)
    if statements is None:
        return None
    problems = []
    for index, statement in enumerate(statements):
        if statement.get("Effect") != "Allow":
            continue
        sid = f"statement {statement.get('Sid') or '#' + str(index)}"
        if "NotAction" in statement:
            problems.append(f"{sid} uses NotAction, which allows every action it does not list")
        if "NotResource" in statement:
            problems.append(f"{sid} uses NotResource, which allows every resource it does not list")
        for action in _as_list(statement.get("Action")):
            if "*" in action or "?" in action:
                problems.append(f"{sid} allows the wildcard action {action}")
        for resource in _as_list(statement.get("Resource")):
            if resource == "*":
                problems.append(f"{sid} allows every resource (*)")
            elif ("*" in resource or "?" in resource) and not _scoped(resource, prefixes):
                problems.append(f"{sid} allows the wildcard resource {resource}")
    return problems


def _as_list(value: Any) -> list[str]:
    if value is None:
        return []
    if isinstance(value, str):
        return [value]
    # A nested element is shown as its plain JSON form, not as a frozen copy.
    return [item if isinstance(item, str) else str(thaw(item)) for item in value]


def _scoped(resource: str, prefixes: tuple[str, ...]) -> bool:
    """Return whether everything before the first wildcard lies inside one tenant resource or path."""
    first = min(i for i in (resource.find("*"), resource.find("?")) if i >= 0)
    return any(resource[:first].startswith(prefix) for prefix in prefixes)


def _scoped_prefixes(context: CheckContext, forms: Iterable[str]) -> tuple[str, ...]:
    forms = set(forms)
    inventory = context.inventory
    prefixes = []
    if "bucket objects" in forms:
        prefixes += [f"{b.arn}/" for b in inventory.of_kind("s3_bucket")]
    if "log streams" in forms:
        prefixes += [f"{g.arn.removesuffix(':*')}:" for g in inventory.of_kind("log_group")]
    if "tenant IAM path" in forms and inventory.account_id:
        partition = next((r.arn.split(":")[1] for r in inventory.resources if r.arn.startswith("arn:")), "aws")
        path = naming.iam_path(inventory.customer)
        prefixes += [f"arn:{partition}:iam::{inventory.account_id}:{kind}{path}" for kind in ("user", "mfa")]
    return tuple(prefixes)


RULES = (
    Rule("PILOT-ACC-001", "People have only their role's capabilities on each store", Severity.HIGH,
         "The pilot spec is the customer's record of who may do what; an effective capability beyond the "
         "role is access nobody agreed to.",
         "Remove the actions that grant the extra capability from the statements named.",
         check_people_within_roles),
    Rule("PILOT-ACC-002", "Export only where the spec declares it", Severity.HIGH,
         "Export moves data out of the store it lives in, where its retention and access rules no longer hold.",
         "Remove export actions from principals whose spec role does not declare export.",
         check_capability_declared, {"capability": "export", "exempt_service_roles": True}),
    Rule("PILOT-ACC-003", "Delete only where the spec declares it", Severity.HIGH,
         "Delete destroys customer data or its versions.",
         "Remove delete actions from principals whose spec role does not declare delete.",
         check_capability_declared, {"capability": "delete", "exempt_service_roles": True}),
    Rule("PILOT-ACC-004", "Admin only where the spec declares it", Severity.CRITICAL,
         "Admin changes policies, lifecycle, keys and people, so it can export or delete indirectly.",
         "Remove admin actions from principals whose spec role does not declare admin.",
         check_capability_declared, {"capability": "admin", "exempt_service_roles": True}),
    Rule("PILOT-ACC-005", "No wildcard actions or resources in the tenant's own policies", Severity.MEDIUM,
         "A wildcard grants whatever AWS adds later and whatever resources appear later, which the access "
         "matrix of today cannot show.",
         "List actions and tenant resource ARNs explicitly; a wildcard after a tenant bucket's ARN and '/' is "
         "allowed.",
         check_no_wildcards, {"scoped_forms": SCOPED_FORMS}),
)
