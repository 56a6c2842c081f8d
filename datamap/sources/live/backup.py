"""AWS Backup: the tenant's vaults (with Vault Lock settings) and plans (with rules and selections)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from datamap.inventory import Resource
from datamap.sources.live.calls import Reader, ScanContext
from datamap.sources.live.common import Collected, Failure, Read, belongs, build_fields, membership_error


@dataclass(frozen=True)
class VaultReads:
    listed: Mapping[str, Any]  # the entry of list_backup_vaults, which carries the lock settings
    tags: Mapping[str, str]


@dataclass(frozen=True)
class PlanReads:
    listed: Mapping[str, Any]  # the entry of list_backup_plans
    tags: Mapping[str, str]
    plan: Read        # get_backup_plan body
    selections: Read  # {"Selections": [get_backup_selection body]}


def fetch(ctx: ScanContext) -> tuple[list[VaultReads], list[PlanReads], list[str], int]:
    reader = ctx.reader
    errors: list[str] = []

    pages, failure = reader.pages("backup", "list_backup_vaults", "the account")
    if failure:
        errors.append(str(failure))
    vaults = []
    listed_vaults = [vault for page in pages for vault in page.get("BackupVaultList", [])]
    for vault in listed_vaults:
        tags = _tenant_tags(ctx, vault["BackupVaultArn"], f"vault {vault['BackupVaultName']}", errors)
        if tags is not None:
            vaults.append(VaultReads(vault, tags))

    pages, failure = reader.pages("backup", "list_backup_plans", "the account")
    if failure:
        errors.append(str(failure))
    plans = []
    listed_plans = [plan for page in pages for plan in page.get("BackupPlansList", [])]
    for plan in listed_plans:
        target = f"plan {plan['BackupPlanName']}"
        tags = _tenant_tags(ctx, plan["BackupPlanArn"], target, errors)
        if tags is None:
            continue
        plan_id = plan["BackupPlanId"]
        plans.append(PlanReads(plan, tags,
                               plan=reader.read("backup", "get_backup_plan", target, BackupPlanId=plan_id),
                               selections=_selections(reader, plan_id, target)))
    return vaults, plans, errors, len(listed_vaults) + len(listed_plans)


def _tenant_tags(ctx: ScanContext, arn: str, target: str, errors: list[str]) -> dict[str, str] | None:
    """Return the resource's tags when it belongs to the tenant, else None (recording a failed read)."""
    pages, failure = ctx.reader.pages("backup", "list_tags", target, ResourceArn=arn)
    if failure:
        errors.append(membership_error(failure, target, ctx.customer))
        return None
    tags = {key: value for page in pages for key, value in (page.get("Tags") or {}).items()}
    return tags if belongs(tags, ctx.customer) else None


def _selections(reader: Reader, plan_id: str, target: str) -> Read:
    """Read every selection of a plan. One failed read makes them all unknown."""
    listed = reader.items("backup", "list_backup_selections", target, "BackupSelectionsList", BackupPlanId=plan_id)
    if isinstance(listed, Failure):
        return listed
    bodies = []
    for selection in listed["BackupSelectionsList"]:
        body = reader.read("backup", "get_backup_selection", target, BackupPlanId=plan_id,
                           SelectionId=selection["SelectionId"])
        if isinstance(body, Failure):
            return body
        bodies.append(body)
    return {"Selections": bodies}


def vault_to_resource(reads: VaultReads, region: str) -> Resource:
    vault = reads.listed
    attributes = {
        "BackupVaultName": vault["BackupVaultName"],
        "EncryptionKeyArn": vault.get("EncryptionKeyArn"),
        # Absent fields become None (not configured), as for an unlocked vault without retention limits.
        "Locked": vault.get("Locked"),
        "MinRetentionDays": vault.get("MinRetentionDays"),
        "MaxRetentionDays": vault.get("MaxRetentionDays"),
    }
    return Resource(kind="backup_vault", arn=vault["BackupVaultArn"], name=vault["BackupVaultName"], region=region,
                    tags=reads.tags, attributes=attributes)


def plan_to_resource(reads: PlanReads, region: str) -> Resource:
    plan = reads.listed
    attributes, errors = build_fields({
        "Rules": (reads.plan, lambda body: body["BackupPlan"]["Rules"]),
        "Selections": (reads.selections,
                       lambda body: [selection["BackupSelection"] for selection in body["Selections"]]),
    })
    attributes = {"BackupPlanId": plan["BackupPlanId"], "BackupPlanName": plan["BackupPlanName"], **attributes}
    return Resource(kind="backup_plan", arn=plan["BackupPlanArn"], name=plan["BackupPlanName"], region=region,
                    tags=reads.tags, attributes=attributes, errors=errors)


def collect(ctx: ScanContext) -> Collected:
    vaults, plans, errors, listed = fetch(ctx)
    region = ctx.reader.region
    resources = [vault_to_resource(reads, region) for reads in vaults]
    resources += [plan_to_resource(reads, region) for reads in plans]
    return Collected(resources=resources, errors=errors, seen=listed)
