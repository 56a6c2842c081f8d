"""The plan source: the inventory a tenant will have once the Pulumi program is deployed.

``plan_inventory(spec)`` runs the program under Pulumi's mocks (``infra.sandbox.program``)
with the computed outputs that ``infra.sandbox.fabricate.PlanHooks`` predicts, and turns
the declared resources into an ``Inventory`` with source "plan". The records have the
shape the live scanner produces (kinds, names, ARNs, attribute names and value shapes),
so ``policies.engine.run_checks`` judges a plan and a deployed tenant the same way.

A value the plan cannot know is recorded in the record's ``errors``, never guessed:

- ids AWS assigns on create (``KeyId`` of the key, ``BackupPlanId``). The ARNs of the key
  and the backup plan contain the placeholder ids of ``PlanHooks``, so compare those two
  records with a deployed tenant's by kind and name, not by ARN.
- the documents of AWS managed policies the program attaches (see
  ``datamap.sources.declared.iam``).
- settings the program leaves to AWS's defaults (bucket encryption and public access
  block, key policy, trail event selectors) or declares in a form the converters do not
  translate (see ``datamap.sources.declared``).

``convert`` does the same for any list of declared resources; the CrossGuard policy pack
uses it on the resources the Pulumi engine passes to stack policies.
"""

from __future__ import annotations

import logging
import traceback
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol

from datamap.inventory import Inventory, Resource, merge
from datamap.sources.declared import iam, s3, services
from datamap.sources.declared.values import Declared, Scope, Stack, declared_tags, without_none
from infra import tags as tag_keys
from infra.spec import PilotSpec

log = logging.getLogger(__name__)

# Type token -> the converter that makes its inventory record.
CONVERTERS: dict[str, Callable[[Stack, Declared, Scope], Resource]] = {
    s3.BUCKET: s3.to_resource,
    iam.ROLE: iam.role_to_resource,
    iam.USER: iam.user_to_resource,
    services.KEY: services.key_to_resource,
    services.LOG_GROUP: services.log_group_to_resource,
    services.VAULT: services.vault_to_resource,
    services.PLAN: services.plan_to_resource,
    services.TRAIL: services.trail_to_resource,
}
# Types read while converting another resource, or that set nothing the inventory records.
HANDLED = frozenset({*s3.TYPES, *iam.TYPES, *services.TYPES, "aws:s3/bucketOwnershipControls:BucketOwnershipControls"})
# pulumi-aws module -> the AWS service prefix of Inventory.errors, for the modules the inventory covers.
COVERED_MODULES = {"s3": "s3", "iam": "iam", "kms": "kms", "backup": "backup", "cloudtrail": "cloudtrail",
                   "cloudwatch": "logs"}

_PROJECT_ROOT = Path(__file__).resolve().parents[2]


class DeclaredResource(Protocol):
    """A declared resource with the attributes ``convert`` reads, such as ``infra.sandbox.program.Registered``."""

    type: str
    name: str
    urn: str
    inputs: Mapping[str, Any]
    outputs: Mapping[str, Any]
    id: str
    dependencies: Mapping[str, Sequence[str]]


@dataclass(frozen=True)
class Conversion:
    """The inventory built from declared resources, and the URN that declared each record's ARN."""

    inventory: Inventory
    urns: Mapping[str, str]


def plan_inventory(spec: PilotSpec, account_id: str = "123456789012", partition: str = "aws") -> Inventory:
    """Run the tenant's Pulumi program under mocks and return what it would deploy, as an inventory.

    Each record's ``declared_at`` names the line of ``infra/`` that declared it.
    """
    import pulumi

    from infra.components import tenant
    from infra.sandbox.fabricate import PlanHooks
    from infra.sandbox.program import run_program

    declared_at: dict[str, str] = {}

    def build(spec: PilotSpec) -> Any:
        pulumi.runtime.register_stack_transformation(_declaration_recorder(declared_at))
        return tenant.build(spec)

    resources = run_program(spec, PlanHooks(account_id=account_id, region=spec.region, partition=partition),
                            build=build)
    return convert(resources, spec.customer, account_id, spec.region, partition=partition, source="plan",
                   ids_from_aws=False, declared_at=declared_at).inventory


def _declaration_recorder(found: dict[str, str]) -> Callable[[Any], None]:
    """Return a stack transformation that records, per resource name, the project line that declared it.

    Pulumi runs stack transformations inside the resource's constructor, so the Python
    stack still contains the caller's frame.
    """
    def record(args: Any) -> None:
        for frame in reversed(traceback.extract_stack()):
            path = Path(frame.filename).resolve()
            if path.is_relative_to(_PROJECT_ROOT / "infra"):
                found[args.name] = f"{path.relative_to(_PROJECT_ROOT)}:{frame.lineno}"
                break
    return record


def convert(resources: Iterable[DeclaredResource], customer: str, account_id: str, region: str, *,
            partition: str = "aws", source: str = "plan", ids_from_aws: bool = False,
            declared_at: Mapping[str, str] | None = None) -> Conversion:
    """Turn declared resources into the inventory of tenant ``customer``.

    A resource belongs to the tenant when its ``pilot:customer`` tag equals ``customer``,
    as in the live scan. Managed policies belong when a tenant principal uses them.
    Two cases become ``Inventory.errors`` entries ("service:Type: reason"), so that rules
    which need a complete listing report unknown: a resource whose tags are not known
    before deploy, and a resource of a type the converters do not translate in a service
    the inventory covers. ``ids_from_aws`` is True when the ids AWS assigns on create are
    real (a stack after deploy), and False when they are placeholders (a plan under mocks).
    """
    declared_at = declared_at or {}
    stack = Stack(_declared(resource, declared_at) for resource in resources)
    scope = Scope(account_id=account_id, partition=partition, region=region, ids_from_aws=ids_from_aws)
    records: list[Resource] = []
    urns: dict[str, str] = {}
    errors: list[str] = []

    for declared in stack.resources:
        converter = CONVERTERS.get(declared.type)
        if converter is None:
            _note_unconverted(declared, errors)
            continue
        record = converter(stack, declared, scope)
        if _in_tenant(declared, customer, errors):
            records.append(record)
            urns[record.arn] = declared.urn

    records += _policies(stack, scope, records, customer, urns, errors)
    inventory = Inventory(customer=customer, account_id=account_id, source=source, resources=merge(records),
                          region=region, taken_at=datetime.now(UTC).isoformat(timespec="seconds"),
                          errors=tuple(errors))
    unknown = sum(len(record.errors) for record in records)
    log.info("%s inventory of tenant %s: %d resources from %d declared, %d values unknown, %d tenant-wide errors",
             source, customer, len(records), len(stack.resources), unknown, len(errors))
    return Conversion(inventory=inventory, urns=urns)


def _declared(resource: DeclaredResource, declared_at: Mapping[str, str]) -> Declared:
    values = without_none({**resource.inputs, **resource.outputs})
    dependencies = {key: tuple(urns) for key, urns in resource.dependencies.items()}
    return Declared(type=resource.type, name=resource.name, urn=resource.urn, values=values,
                    dependencies=dependencies, physical_id=resource.id or "",
                    declared_at=declared_at.get(resource.name, ""))


def _note_unconverted(declared: Declared, errors: list[str]) -> None:
    service = COVERED_MODULES.get(declared.module)
    relevant = service is not None and (declared.module != "cloudwatch" or declared.short_type.startswith("Log"))
    if declared.type in HANDLED or not declared.type.startswith("aws:") or not relevant:
        log.debug("no inventory record for %s %s", declared.type, declared.name)
        return
    errors.append(f"{service}:{declared.short_type}: {declared.name} ({declared.type}) is not converted, so the "
                  "inventory may miss what it changes")


def _in_tenant(declared: Declared, customer: str, errors: list[str]) -> bool:
    tags, tag_error = declared_tags(declared)
    owner = tags.get(tag_keys.CUSTOMER)
    if owner is None and tag_error:
        errors.append(f"{COVERED_MODULES.get(declared.module, declared.module)}:{declared.short_type}: "
                      f"{tag_error}, so whether {declared.name} belongs to tenant {customer} is unknown")
        return False
    if owner != customer:
        log.debug("%s %s is not tagged for tenant %s", declared.type, declared.name, customer)
    return owner == customer


def _policies(stack: Stack, scope: Scope, principals: list[Resource], customer: str, urns: dict[str, str],
              errors: list[str]) -> list[Resource]:
    """Return managed policy records: those tenant principals use, and declared ones tagged for the tenant."""
    used: set[str] = set()
    for principal in principals:
        if principal.kind not in ("iam_role", "iam_user"):
            continue
        if principal.known("AttachedPolicies"):
            used.update(principal.get("AttachedPolicies"))
        if principal.known("PermissionsBoundary") and principal.get("PermissionsBoundary"):
            used.add(principal.get("PermissionsBoundary"))

    found: list[Resource] = []
    for policy in stack.of_type(iam.POLICY):
        record = iam.policy_to_resource(policy, scope)
        if record.arn in used:
            used.discard(record.arn)
        elif not _in_tenant(policy, customer, errors):
            continue
        found.append(record)
        urns[record.arn] = policy.urn
    # What remains is attached by ARN but declared elsewhere, AWS managed policies included.
    found += [iam.referenced_policy(arn) for arn in sorted(used)]
    return found
