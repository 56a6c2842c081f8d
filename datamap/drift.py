"""Drift: what differs between a tenant's planned inventory and its deployed one, in plain language.

``compare(planned, deployed, spec)`` matches the records of the two inventories and
returns a ``DriftReport`` whose items have one of five kinds:

- missing: the program declares the resource, and the account does not have it;
- undeclared: the account has a resource tagged for the tenant that the program does not declare;
- changed: a setting that decides retention, encryption, exposure or audit differs
  (``datamap.drift_settings``);
- access: a person or role gained or lost a capability on a tenant resource
  (``datamap.drift_access``);
- unknown: a comparison that could not be made, with the reason. Unknown is never "no drift".

Matching. Records match by ARN. The plan does not know the ids AWS assigns to a KMS key
or a backup plan, so those planned ARNs hold placeholder ids. A planned key matches the
deployed key that shares an alias (or else the only deployed key with the same tags), and
a planned backup plan the deployed plan of the same name. The placeholder id is then
replaced by the deployed id in every planned value, such as bucket encryption settings
and key ARNs in policies.

Each cause is reported once:

- IAM policies, bucket policies and key policies are compared through the access matrix
  of each side, never as JSON. Attaching a managed policy gives access items that name the
  statement granting each new capability, and no AttachedPolicies item. A policy
  difference that changes no capability in the matrix is reported once as changed.
- Access on a resource, or by a principal, that exists on one side only is part of that
  resource's missing or undeclared item, which lists who can reach it.
- Managed policies appear in an inventory because a tenant principal uses them, so one
  without the tenant tag is never missing or undeclared by itself: its attachment shows
  as an access change.

AWS managed policies: the plan attaches them by ARN, but AWS decides their document, so
the planned record has none. When the scan read the document, the planned side uses the
same one, and ``DriftReport.notes`` lists each such policy.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from datamap import drift_access, drift_policies, drift_settings
from datamap.access import build_matrix
from datamap.drift_items import (ORDER, DriftItem, DriftReport, Kind, describe, fix_by_deploy, resource_label,
                                 shorten)
from datamap.inventory import Inventory, Resource, thaw
from datamap.matrix import AccessMatrix
from infra import tags as tag_keys
from infra.errors import InputError
from infra.spec import PilotSpec

# Kinds whose planned ARN contains an id that AWS assigns on create: the id attribute, and the
# character before the id in the ARN.
PLACEHOLDER_IDS = {"kms_key": ("KeyId", "/"), "backup_plan": ("BackupPlanId", ":")}
# The AWS service behind each kind, as it starts the entries of Inventory.errors.
SERVICES = {"s3_bucket": "s3", "iam_role": "iam", "iam_user": "iam", "iam_policy": "iam", "kms_key": "kms",
            "backup_vault": "backup", "backup_plan": "backup", "cloudtrail_trail": "cloudtrail",
            "log_group": "logs"}
AWS_MANAGED_POLICY = ":iam::aws:policy/"

__all__ = ["DriftItem", "DriftReport", "Kind", "compare"]


def compare(planned: Inventory, deployed: Inventory, spec: PilotSpec | None = None) -> DriftReport:
    """Compare the planned inventory of a tenant with its deployed inventory.

    ``spec`` supplies the store and people names for messages, and the stores that hold
    exports for the access matrix. Raises InputError when the two inventories belong to different
    customers or accounts, because then every record would differ.
    """
    _check_same_tenant(planned, deployed)
    matching = _match_placeholders(planned, deployed)
    items = list(matching.items)
    planned, unresolved = _resolve_placeholders(planned, matching.renames)
    planned, notes = _borrow_aws_managed(planned, deployed)

    planned_matrix = build_matrix(planned, spec)
    deployed_matrix = build_matrix(deployed, spec)
    shared = {r.arn for r in planned.resources} & {r.arn for r in deployed.resources}
    people = {person.id: person.name for person in spec.people} if spec is not None else {}

    items += _presence_items(planned, deployed, shared, matching.ambiguous, planned_matrix, deployed_matrix)
    pairs = [(record, deployed.by_arn(record.arn)) for record in planned.resources if record.arn in shared]
    pending: dict[str, list[str]] = {placeholder: [] for placeholder in unresolved}
    items += drift_settings.compare_settings(pairs, planned, deployed, pending)
    differences = drift_policies.policy_differences(pairs, planned, deployed, pending)
    access, explained = drift_access.access_items(planned_matrix, deployed_matrix, planned, deployed, shared,
                                                  people, differences)
    items += access
    items += drift_policies.policy_items(differences, explained, planned.customer)
    items += _pending_items(pending, unresolved)
    items += _tenant_errors(planned, shared, matching.ambiguous, deployed)
    items.sort(key=lambda item: (ORDER[item.kind], item.resource, item.setting, item.message))
    return DriftReport(customer=planned.customer, items=tuple(items), planned_source=planned.source,
                       deployed_source=deployed.source, notes=tuple(notes))


def _check_same_tenant(planned: Inventory, deployed: Inventory) -> None:
    if planned.customer != deployed.customer:
        raise InputError(f"the planned inventory is of customer {planned.customer!r} and the deployed one of "
                         f"{deployed.customer!r}; compare inventories of one tenant")
    if planned.account_id and deployed.account_id and planned.account_id != deployed.account_id:
        raise InputError(f"the plan puts tenant {planned.customer} in account {planned.account_id}, but the "
                         f"deployed inventory is of account {deployed.account_id}; plan with "
                         f"--account-id {deployed.account_id}")


def _placeholder_id(record: Resource) -> str | None:
    """Return the id in the record's ARN when the plan did not know it, else None."""
    entry = PLACEHOLDER_IDS.get(record.kind)
    if entry is None or entry[0] not in record.errors:
        return None
    return record.arn.rsplit(entry[1], 1)[-1]


@dataclass
class Matching:
    """Planned records with placeholder ids, matched to deployed records by name or tags."""

    renames: dict[str, str] = field(default_factory=dict)  # placeholder id -> deployed id
    ambiguous: set[str] = field(default_factory=set)       # ARNs, on either side, of records with rival matches
    items: list[DriftItem] = field(default_factory=list)   # an unknown item per ambiguous planned record


def _candidates(record: Resource, unmatched: list[Resource]) -> list[Resource]:
    if record.kind == "backup_plan":
        return [other for other in unmatched if other.name == record.name]
    aliases = set(record.get("Aliases") or ())
    by_alias = [other for other in unmatched if aliases & set(other.get("Aliases") or ())]
    if by_alias:
        return by_alias
    return [other for other in unmatched if dict(other.tags) == dict(record.tags)]


def _match_placeholders(planned: Inventory, deployed: Inventory) -> Matching:
    planned_arns = {r.arn for r in planned.resources}
    deployed_arns = {r.arn for r in deployed.resources}
    matching = Matching()
    taken: set[str] = set()
    for record in planned.resources:
        placeholder = _placeholder_id(record)
        if placeholder is None or record.arn in deployed_arns:
            continue
        unmatched = [other for other in deployed.of_kind(record.kind)
                     if other.arn not in planned_arns and other.arn not in taken]
        found = _candidates(record, unmatched)
        taken.update(other.arn for other in found)
        if len(found) == 1:
            separator = PLACEHOLDER_IDS[record.kind][1]
            matching.renames[placeholder] = found[0].arn.rsplit(separator, 1)[-1]
        elif found:
            matching.ambiguous.update([record.arn, *(other.arn for other in found)])
            matching.items.append(DriftItem(
                Kind.UNKNOWN, record.arn, "", describe(record), [other.arn for other in found],
                f"{resource_label(record)} has no id in the plan, and {len(found)} deployed records match its "
                f"name or tags ({', '.join(other.arn for other in found)}), so it is compared with none of them",
                "delete or retag the extra deployed resources, so that one of them matches the plan"))
    return matching


def _resolve_placeholders(planned: Inventory, renames: Mapping[str, str]
                          ) -> tuple[Inventory, dict[str, tuple[str, str]]]:
    """Replace matched placeholder ids by the deployed ids in every planned value.

    Returns the new inventory and ``{placeholder id: (ARN, label)}`` for the placeholders
    left, so that a value which still contains one is reported unknown.
    """
    unresolved = {}
    for record in planned.resources:
        placeholder = _placeholder_id(record)
        if placeholder is not None and placeholder not in renames:
            unresolved[placeholder] = (record.arn, resource_label(record))
    if not renames:
        return planned, unresolved

    def rewrite(value: Any) -> Any:
        if isinstance(value, str):
            for old, new in renames.items():
                value = value.replace(old, new)
            return value
        if isinstance(value, Mapping):
            return {key: rewrite(item) for key, item in value.items()}
        if isinstance(value, (list, tuple)):
            return [rewrite(item) for item in value]
        return value

    resources = []
    for record in planned.resources:
        attributes, errors = rewrite(thaw(record.attributes)), dict(record.errors)
        placeholder = _placeholder_id(record)
        if placeholder in renames:
            id_attribute = PLACEHOLDER_IDS[record.kind][0]
            attributes[id_attribute] = renames[placeholder]
            del errors[id_attribute]
        resources.append(replace(record, arn=rewrite(record.arn), name=rewrite(record.name),
                                 attributes=attributes, errors=errors))
    return replace(planned, resources=tuple(resources)), unresolved


def _borrow_aws_managed(planned: Inventory, deployed: Inventory) -> tuple[Inventory, list[str]]:
    notes = []
    resources = []
    for record in planned.resources:
        other = deployed.by_arn(record.arn)
        if (record.kind == "iam_policy" and AWS_MANAGED_POLICY in record.arn and not record.known("Document")
                and other is not None and other.known("Document")):
            errors = {key: value for key, value in record.errors.items() if key != "Document"}
            record = replace(record, attributes={**thaw(record.attributes), "Document": thaw(other.get("Document"))},
                             errors=errors)
            notes.append(f"AWS managed policy {record.arn}: the plan attaches it by ARN and AWS decides its "
                         "document, so the plan side uses the document read from the account")
        resources.append(record)
    return replace(planned, resources=tuple(resources)), notes


def _pending_items(pending: Mapping[str, list[str]], unresolved: Mapping[str, tuple[str, str]]) -> list[DriftItem]:
    """Return one unknown item per unmatched placeholder, listing the planned values that refer to it."""
    items = []
    for placeholder, where in pending.items():
        if not where:
            continue
        arn, label = unresolved[placeholder]
        items.append(DriftItem(
            Kind.UNKNOWN, arn, "references", None, None,
            f"{label} has no deployed match, so the id that AWS would give it is unknown, and these planned values "
            f"that refer to it are not compared: {shorten(sorted(where), limit=12)}",
            "deploy the missing resource (see its missing item), then compare again"))
    return items


def _tenant_tagged(record: Resource) -> bool:
    return record.kind != "iam_policy" or tag_keys.CUSTOMER in record.tags


def _presence_items(planned: Inventory, deployed: Inventory, shared: set[str], ambiguous: set[str],
                    planned_matrix: AccessMatrix, deployed_matrix: AccessMatrix) -> list[DriftItem]:
    """Return missing and undeclared items, each with who can reach the resource on its side."""
    failed = _failed_services(deployed.errors)
    items: list[DriftItem] = []
    for record in planned.resources:
        if record.arn in shared or record.arn in ambiguous or not _tenant_tagged(record):
            continue
        if SERVICES[record.kind] in failed:
            continue  # the unknown item of the failed listing names it
        reach = drift_access.reach_summary(planned_matrix, record)
        where = f" (declared at {record.declared_at})" if record.declared_at else ""
        items.append(DriftItem(
            Kind.MISSING, record.arn, "", describe(record), None,
            f"{resource_label(record)}{where} is in the plan but not in the account"
            + (f"; in the plan, {reach}" if reach else ""),
            fix_by_deploy(planned.customer, "create it") + ", and find out from CloudTrail who deleted it"))
    for record in deployed.resources:
        if record.arn in shared or record.arn in ambiguous or not _tenant_tagged(record):
            continue
        reach = drift_access.reach_summary(deployed_matrix, record)
        items.append(DriftItem(
            Kind.UNDECLARED, record.arn, "", None, describe(record),
            f"{resource_label(record)} is tagged {tag_keys.CUSTOMER}={deployed.customer} in the account, but the "
            "program does not declare it" + (f"; in the account, {reach}" if reach else ""),
            "declare it in the program (pulumi import) if the tenant needs it; otherwise move its data and "
            "delete it, or remove the tenant tag if it belongs to no tenant"))
    return items


def _failed_services(errors: Iterable[str]) -> dict[str, list[str]]:
    failed: dict[str, list[str]] = {}
    for error in errors:
        failed.setdefault(error.split(":", 1)[0], []).append(error)
    return failed


def _tenant_errors(planned: Inventory, shared: set[str], ambiguous: set[str], deployed: Inventory
                   ) -> list[DriftItem]:
    """Return one unknown item per tenant-wide error of either side."""
    tenant = f"tenant {planned.customer}"
    items = []
    for service, errors in sorted(_failed_services(deployed.errors).items()):
        unseen = [resource_label(r) for r in planned.resources if SERVICES[r.kind] == service
                  and r.arn not in shared and r.arn not in ambiguous and _tenant_tagged(r)]
        also = f"; the plan's {', '.join(unseen)} were not found, so whether they are missing is unknown" \
            if unseen else ""
        items.append(DriftItem(
            Kind.UNKNOWN, tenant, f"{service} listing", None, None,
            f"the scan could not read {'; '.join(errors)}, so undeclared {service} resources cannot be ruled out"
            + also, "grant the scanner the read permission named in the error and scan again"))
    for error in planned.errors:
        items.append(DriftItem(
            Kind.UNKNOWN, tenant, "plan conversion", None, None,
            f"the plan could not translate {error}, so drift in what it declares is not checked",
            "extend datamap.sources.declared to translate that resource type, or compare a stack export"))
    return items
