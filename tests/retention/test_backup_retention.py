"""AWS Backup plan retention, cold storage and Vault Lock limits."""

from __future__ import annotations

import pytest

from datamap.retention import (
    backup_job_allowed, backup_plan_retention, cold_storage_minimum_met, continuous_backup_retention,
    copy_retention, lifecycle_retention, rule_retention,
)

DR_VAULT = "arn:aws:backup:us-west-2:111122223333:backup-vault:dr"


def backup_rule(name: str = "daily", lifecycle: dict | None = None, continuous: bool = False, copies=(),
                vault: str = "main") -> dict:
    out = {"RuleName": name, "TargetBackupVaultName": vault, "EnableContinuousBackup": continuous}
    if lifecycle is not None:
        out["Lifecycle"] = lifecycle
    if copies:
        out["CopyActions"] = list(copies)
    return out


def plan(*rules: dict) -> dict:
    return {"BackupPlan": {"BackupPlanName": "p", "Rules": list(rules)}}


@pytest.mark.parametrize("lifecycle, expected", [
    (None, "forever"),
    ({}, "forever"),
    ({"MoveToColdStorageAfterDays": 10}, "forever"),
    ({"DeleteAfterDays": -1, "MoveToColdStorageAfterDays": -1}, "forever"),
    ({"DeleteAfterDays": 0}, "unknown"),
    ({"DeleteAfterDays": 30.0}, "30 days"),
])
def test_lifecycle_retention(lifecycle, expected):
    assert str(lifecycle_retention(lifecycle, "backup rule x")) == expected


def test_continuous_rule_within_limit():
    result = rule_retention(backup_rule(lifecycle={"DeleteAfterDays": 14}, continuous=True))

    assert result.days == 14
    assert result.decided_by == ("backup rule daily",)


def test_continuous_rule_capped_at_35():
    result = rule_retention(backup_rule(continuous=True))

    assert result.days == 35
    assert result.notes


def test_copy_with_own_lifecycle():
    rule = backup_rule(lifecycle={"DeleteAfterDays": 7})
    copy = {"DestinationBackupVaultArn": DR_VAULT, "Lifecycle": {"DeleteAfterDays": 90}}

    assert copy_retention(rule, copy).days == 90


def test_copy_without_lifecycle_inherits():
    rule = backup_rule(lifecycle={"DeleteAfterDays": 7})
    result = copy_retention(rule, {"DestinationBackupVaultArn": DR_VAULT})

    assert result.days == 7
    assert "keeps the rule's" in result.reason


def test_copy_of_continuous_backup_without_lifecycle_unknown():
    rule = backup_rule(lifecycle={"DeleteAfterDays": 7}, continuous=True)

    assert copy_retention(rule, {"DestinationBackupVaultArn": DR_VAULT}).is_unknown


def test_plan_retention_takes_longest():
    result = backup_plan_retention(plan(backup_rule("a", {"DeleteAfterDays": 30}),
                                        backup_rule("b", {"DeleteAfterDays": 60})))

    assert result.days == 60
    assert result.decided_by == ("backup rule b",)


def test_plan_retention_forever_wins():
    assert backup_plan_retention(plan(backup_rule("a", {"DeleteAfterDays": 30}), backup_rule("b"))).is_forever


def test_plan_without_rules():
    assert backup_plan_retention(plan()).days == 0


def test_plan_without_rules_list_unknown():
    assert backup_plan_retention({"BackupPlan": {}}).is_unknown
    assert continuous_backup_retention({"BackupPlan": {}}).is_unknown
    assert cold_storage_minimum_met({"BackupPlan": {}}).value is None


def test_plan_body_without_wrapper():
    assert backup_plan_retention({"Rules": [backup_rule(lifecycle={"DeleteAfterDays": 3})]}).days == 3


def test_continuous_retention():
    assert continuous_backup_retention(plan(backup_rule(lifecycle={"DeleteAfterDays": 3}))).days == 0
    result = continuous_backup_retention(plan(backup_rule(lifecycle={"DeleteAfterDays": 20}, continuous=True)))
    assert result.days == 20


@pytest.mark.parametrize("lifecycle, expected", [
    ({"MoveToColdStorageAfterDays": 30, "DeleteAfterDays": 150}, True),
    ({"MoveToColdStorageAfterDays": 30, "DeleteAfterDays": 100}, False),
    ({"MoveToColdStorageAfterDays": 30, "DeleteAfterDays": 120}, None),
    ({"MoveToColdStorageAfterDays": 30}, True),
    ({"MoveToColdStorageAfterDays": -1, "DeleteAfterDays": -1}, True),
    ({"DeleteAfterDays": 10}, True),
])
def test_cold_storage_minimum(lifecycle, expected):
    assert cold_storage_minimum_met(plan(backup_rule(lifecycle=lifecycle))).value is expected


def test_cold_storage_checks_copy_actions():
    copy = {"DestinationBackupVaultArn": DR_VAULT,
            "Lifecycle": {"MoveToColdStorageAfterDays": 10, "DeleteAfterDays": 20}}
    verdict = cold_storage_minimum_met(plan(backup_rule(lifecycle={"DeleteAfterDays": 5}, copies=[copy])))

    assert verdict.value is False
    assert "copy to" in verdict.reason


def vault(name: str = "main", minimum: int | None = None, maximum: int | None = None) -> dict:
    out = {"BackupVaultName": name, "Locked": True}
    if minimum is not None:
        out["MinRetentionDays"] = minimum
    if maximum is not None:
        out["MaxRetentionDays"] = maximum
    return out


@pytest.mark.parametrize("lifecycle, minimum, maximum, expected", [
    ({"DeleteAfterDays": 35}, None, None, True),
    ({"DeleteAfterDays": 35}, 365, None, False),
    ({"DeleteAfterDays": 400}, None, 365, False),
    (None, None, 365, False),
    (None, 30, None, None),
    ({"DeleteAfterDays": 100}, 30, 365, True),
    ({"DeleteAfterDays": 30}, 30, 30, True),
])
def test_vault_lock_limits(lifecycle, minimum, maximum, expected):
    verdict = backup_job_allowed(plan(backup_rule(lifecycle=lifecycle)), "daily", vault(minimum=minimum,
                                                                                       maximum=maximum))
    assert verdict.value is expected


def test_vault_lock_applies_to_copy_destination():
    copy = {"DestinationBackupVaultArn": DR_VAULT, "Lifecycle": {"DeleteAfterDays": 10}}
    verdict = backup_job_allowed(plan(backup_rule(lifecycle={"DeleteAfterDays": 400}, copies=[copy])), "daily",
                                 vault("dr", minimum=30))

    assert verdict.value is False
    assert "MinRetentionDays 30" in verdict.reason


def test_vault_lock_continuous_rule_unknown():
    verdict = backup_job_allowed(plan(backup_rule(lifecycle={"DeleteAfterDays": 7}, continuous=True)), "daily",
                                 vault(minimum=30))
    assert verdict.value is None


def test_vault_lock_unknown_retention_unknown():
    verdict = backup_job_allowed(plan(backup_rule(lifecycle={"DeleteAfterDays": 0})), "daily", vault(minimum=1))
    assert verdict.value is None


def test_vault_lock_rejects_unknown_rule_or_vault():
    with pytest.raises(ValueError, match="no rule named"):
        backup_job_allowed(plan(backup_rule()), "weekly", vault())
    with pytest.raises(ValueError, match="does not write to vault"):
        backup_job_allowed(plan(backup_rule()), "daily", vault("other"))


def test_cold_storage_skips_rules_without_lifecycle():
    verdict = cold_storage_minimum_met(plan(backup_rule()))

    assert verdict.value is True
    assert "no lifecycle in the plan" in verdict.reason
