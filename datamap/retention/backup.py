"""How long AWS Backup keeps recovery points, from a backup plan as ``get_backup_plan`` returns it.

AWS Backup behaviour modelled here (AWS Backup Developer Guide: the Lifecycle and
CopyAction API types, Vault Lock, continuous backup retention):

- A rule's ``Lifecycle.DeleteAfterDays`` deletes its recovery points that many days
  after creation. A rule without a Lifecycle, or without DeleteAfterDays, or with
  -1 keeps them indefinitely.
- A copy action with its own Lifecycle keeps the copy for that long. Without one,
  the copy takes the lifecycle of the source recovery point.
- Cold storage keeps a recovery point for at least 90 days, so DeleteAfterDays must
  come at least 90 days after MoveToColdStorageAfterDays.
- Continuous backup (point-in-time restore) keeps 1 to 35 days of history.
- A vault with Vault Lock MinRetentionDays or MaxRetentionDays fails every backup or
  copy job whose retention is shorter than the minimum or longer than the maximum.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from datamap.retention.result import Retention, Verdict, longest
from datamap.retention.s3_scope import whole_number

CONTINUOUS_MAX_DAYS = 35
COLD_STORAGE_MIN_DAYS = 90


def plan_rules(plan: Mapping[str, Any]) -> Sequence[Mapping[str, Any]]:
    """Return the rules of a ``get_backup_plan`` response, its ``BackupPlan`` body, or an inventory record."""
    body = plan.get("BackupPlan", plan)
    rules = body.get("Rules")
    if rules is None or isinstance(rules, (str, bytes)) or not isinstance(rules, Sequence):
        raise ValueError("the backup plan has no Rules list")
    return rules


def rule_label(rule: Mapping[str, Any]) -> str:
    return f"backup rule {rule.get('RuleName') or rule.get('RuleId') or '?'}"


def lifecycle_retention(lifecycle: Mapping[str, Any] | None, owner: str) -> Retention:
    """Return how long a recovery point with ``lifecycle`` lives; ``owner`` names where it is set."""
    if not lifecycle:
        return Retention.forever(f"{owner} has no Lifecycle, so its recovery points never expire", (owner,))
    raw = lifecycle.get("DeleteAfterDays")
    if raw is None:
        return Retention.forever(f"{owner} has no DeleteAfterDays, so its recovery points never expire", (owner,))
    days = whole_number(raw)
    if days == -1:
        return Retention.forever(f"{owner} sets DeleteAfterDays to -1, which keeps recovery points indefinitely",
                                 (owner,))
    if days is None or days < 1:
        return Retention.unknown(f"{owner} has DeleteAfterDays {raw!r}, which AWS Backup does not accept",
                                 (owner,))
    return Retention.of_days(days, f"{owner} deletes recovery points {days} days after creation", (owner,))


def rule_retention(rule: Mapping[str, Any]) -> Retention:
    """Return how long the rule's own recovery points (in its target vault) live."""
    label = rule_label(rule)
    value = lifecycle_retention(rule.get("Lifecycle"), label)
    if not rule.get("EnableContinuousBackup"):
        return value
    if value.is_days and value.days <= CONTINUOUS_MAX_DAYS:
        return Retention.of_days(value.days, f"{label} keeps {value.days} days of continuous backup",
                                 value.decided_by)
    # AWS Backup rejects a continuous rule whose retention is outside 1-35 days, so
    # whatever the record holds, no continuous history outlives 35 days.
    return Retention.of_days(CONTINUOUS_MAX_DAYS,
                             f"{label} is a continuous backup rule, and AWS Backup keeps at most "
                             f"{CONTINUOUS_MAX_DAYS} days of continuous backup ({value.reason})",
                             (label,), (f"{label}: DeleteAfterDays is missing or above {CONTINUOUS_MAX_DAYS}",))


def copy_retention(rule: Mapping[str, Any], copy: Mapping[str, Any]) -> Retention:
    """Return how long a copy made by a rule's copy action lives."""
    destination = copy.get("DestinationBackupVaultArn", "?")
    label = f"{rule_label(rule)} copy to {destination}"
    if copy.get("Lifecycle"):
        return lifecycle_retention(copy["Lifecycle"], label)
    if rule.get("EnableContinuousBackup"):
        # NOTE: AWS documents that a copy without a Lifecycle takes the source's
        # lifecycle, but not what that means for a copy of a continuous backup.
        return Retention.unknown(f"{label} has no Lifecycle, and the source is a continuous backup",
                                 (label,))
    inherited = lifecycle_retention(rule.get("Lifecycle"), rule_label(rule))
    return Retention(inherited.kind, inherited.days,
                     f"{label} has no Lifecycle, so it keeps the rule's: {inherited.reason}",
                     (label,) + inherited.decided_by, inherited.notes)


def backup_plan_retention(plan: Mapping[str, Any]) -> Retention:
    """Return the longest time any recovery point the plan creates is kept, in any vault."""
    try:
        rules = plan_rules(plan)
    except ValueError as exc:
        return Retention.unknown(str(exc), ("BackupPlan.Rules",))
    if not rules:
        return Retention.of_days(0, "the backup plan has no rules, so it creates no recovery points",
                                 ("BackupPlan.Rules",))
    values = []
    for rule in rules:
        values.append(rule_retention(rule))
        values.extend(copy_retention(rule, copy) for copy in rule.get("CopyActions") or ())
    return longest(values)


def continuous_backup_retention(plan: Mapping[str, Any]) -> Retention:
    """Return the longest point-in-time restore history the plan keeps."""
    try:
        rules = [r for r in plan_rules(plan) if r.get("EnableContinuousBackup")]
    except ValueError as exc:
        return Retention.unknown(str(exc), ("BackupPlan.Rules",))
    if not rules:
        return Retention.of_days(0, "no rule of the backup plan enables continuous backup",
                                 ("EnableContinuousBackup",))
    return longest(rule_retention(r) for r in rules)


def cold_storage_minimum_met(plan: Mapping[str, Any]) -> Verdict:
    """Return whether every lifecycle keeps cold recovery points at least 90 days in cold storage.

    At exactly 90 days the result is unknown, because the Lifecycle API reference
    requires DeleteAfterDays "at least 90 days" after the move, while the Security Hub
    and .NET SDK pages require "greater than 90 days plus" MoveToColdStorageAfterDays.
    """
    try:
        rules = plan_rules(plan)
    except ValueError as exc:
        return Verdict(None, str(exc))
    checked = []
    boundary = []
    for rule in rules:
        owners = [(rule_label(rule), rule.get("Lifecycle"))]
        owners += [(f"{rule_label(rule)} copy to {c.get('DestinationBackupVaultArn', '?')}", c.get("Lifecycle"))
                   for c in rule.get("CopyActions") or ()]
        for owner, lifecycle in owners:
            if not lifecycle:
                continue
            move = whole_number(lifecycle.get("MoveToColdStorageAfterDays"))
            delete = whole_number(lifecycle.get("DeleteAfterDays"))
            if move is None or move < 0 or delete is None or delete < 0:
                continue
            checked.append(owner)
            if delete < move + COLD_STORAGE_MIN_DAYS:
                return Verdict(False, f"{owner} moves recovery points to cold storage after {move} days and "
                                      f"deletes them after {delete}, less than the {COLD_STORAGE_MIN_DAYS} days "
                                      "cold storage requires", (owner,))
            if delete == move + COLD_STORAGE_MIN_DAYS:
                boundary.append(owner)
    if boundary:
        return Verdict(None, f"{', '.join(boundary)} deletes exactly {COLD_STORAGE_MIN_DAYS} days after the move to "
                             "cold storage, and AWS pages disagree whether that is allowed", tuple(boundary))
    if not checked:
        return Verdict(True, "no lifecycle in the plan moves recovery points to cold storage and deletes them")
    return Verdict(True, f"{', '.join(checked)} keep{'s' if len(checked) == 1 else ''} recovery points at least "
                         f"{COLD_STORAGE_MIN_DAYS} days in cold storage", tuple(checked))


def backup_job_allowed(plan: Mapping[str, Any], rule_name: str, vault: Mapping[str, Any]) -> Verdict:
    """Return whether jobs of rule ``rule_name`` succeed in ``vault`` (a ``describe_backup_vault`` body).

    The vault must be the rule's target or a copy destination. Raises ValueError
    when the rule does not exist or does not write to that vault.
    """
    rules = [r for r in plan_rules(plan) if r.get("RuleName") == rule_name]
    if not rules:
        raise ValueError(f"the backup plan has no rule named {rule_name!r}")
    rule = rules[0]
    vault_name = vault.get("BackupVaultName", "")
    if rule.get("TargetBackupVaultName") == vault_name:
        retention = rule_retention(rule)
    else:
        copies = [c for c in rule.get("CopyActions") or ()
                  if str(c.get("DestinationBackupVaultArn", "")).endswith(f":backup-vault:{vault_name}")]
        if not copies:
            raise ValueError(f"backup rule {rule_name} does not write to vault {vault_name!r}")
        retention = copy_retention(rule, copies[0])

    minimum = whole_number(vault.get("MinRetentionDays"))
    maximum = whole_number(vault.get("MaxRetentionDays"))
    lock = f"vault {vault_name} Vault Lock"
    if minimum is None and maximum is None:
        return Verdict(True, f"vault {vault_name} has no Vault Lock retention limits", ("BackupVault",))
    if rule.get("EnableContinuousBackup"):
        # NOTE: the Vault Lock pages describe backup and copy jobs; how the limits
        # apply to continuous backups is not modelled.
        return Verdict(None, f"{rule_label(rule)} is a continuous backup rule, and how {lock} limits apply to "
                             "continuous backups is not modelled", (lock,))
    if retention.is_unknown:
        return Verdict(None, retention.reason, retention.decided_by + (lock,))
    if retention.is_forever and maximum is None:
        # NOTE: the Vault Lock pages require a job to "have a lifecycle policy" with enough
        # retention, which leaves open whether a job that never expires is accepted.
        return Verdict(None, f"{retention.reason}, and AWS does not document whether {lock} MinRetentionDays "
                             f"{minimum} accepts a job without a lifecycle", retention.decided_by + (lock,))
    if minimum is not None and retention.at_least(minimum) is False:
        return Verdict(False, f"{retention.reason}, shorter than {lock} MinRetentionDays {minimum}, so the "
                              "vault fails the job", retention.decided_by + (lock,))
    if maximum is not None and retention.at_most(maximum) is False:
        return Verdict(False, f"{retention.reason}, longer than {lock} MaxRetentionDays {maximum}, so the "
                              "vault fails the job", retention.decided_by + (lock,))
    return Verdict(True, f"{retention.reason}, within the limits of {lock}", retention.decided_by + (lock,))
