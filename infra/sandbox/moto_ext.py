"""Additions to moto 5.2.5 that a Pulumi-provisioned tenant and the read-only scanner need.

``install()`` patches moto's classes in the current process; ``infra.sandbox.server`` calls it
before it starts moto's server. It is idempotent.

Gaps found by calling each API of the tenant and the scanner against moto server 5.2.5 (the
APIs of S3, IAM, KMS, AWS Backup, CloudTrail and CloudWatch Logs that pilotctl uses):

Fixed here:

- AWS Backup selections. ``CreateBackupSelection``, ``GetBackupSelection``,
  ``ListBackupSelections`` and ``DeleteBackupSelection`` returned HTTP 500 (not implemented).
  They now follow botocore's ``backup`` model (rest-json, ``/backup/plans/{backupPlanId}/selections/``
  and ``.../selections/{selectionId}``) and store selections in moto's backup backend, so they
  are separate per account and region and are cleared by ``/moto-api/reset``.
- ``DeleteBackupPlan`` deleted a plan that still had selections. AWS rejects this with
  ``InvalidRequestException`` and the message "Related backup plan selections must be deleted
  prior to backup plan deletion." (AWS Backup developer guide, "Delete a backup plan"; the
  Terraform AWS provider retries on this exact message).
- ``UpdateBackupPlan`` returned HTTP 500; ``Get/Put/DeleteBackupVaultAccessPolicy`` and
  ``ListRecoveryPointsByBackupVault`` returned HTTP 404. The vault lists no recovery points
  because moto runs no backup jobs.
- S3 ``GetBucketLifecycleConfiguration`` dropped ``NoncurrentVersionExpiration.NewerNoncurrentVersions``
  and the ``ObjectSizeGreaterThan`` and ``ObjectSizeLessThan`` filters (top level and in ``And``).
- S3 ``GetBucketReplication`` returned every rule with ``Filter: {Prefix: ""}`` and
  ``DeleteMarkerReplication: Disabled`` whatever was put, and dropped ``SourceSelectionCriteria``
  (replication of SSE-KMS objects) and ``ExistingObjectReplication``.
- S3 ``GetObjectLockConfiguration`` returned ``Days`` and ``Years`` with 0 for the unset one;
  AWS returns only the one that is set.
- S3 ``PutBucketLogging`` accepted a target bucket policy only when ``Principal.Service``,
  ``Action`` and ``Resource`` were single strings with an exact resource. It rejected lists and
  wildcard patterns as missing permissions, although IAM allows both.
- IAM ``CreateLoginProfile`` ignored ``PasswordResetRequired``.
- KMS ``GetKeyPolicy`` and ``PutKeyPolicy`` without ``PolicyName`` failed with
  ``NotFoundException``; the name is optional and defaults to ``default``.
- CloudWatch Logs ``PutRetentionPolicy`` accepted any number of days (91, for example); AWS
  accepts only the values in ``LOG_RETENTION_DAYS``.

Found and not fixed, because they are outside the APIs listed above:

- AWS Backup ``GetBackupVaultNotifications`` returns HTTP 404.
- CloudWatch Logs ``GetDataProtectionPolicy`` returns HTTP 500.

Checked and already right in moto 5.2.5:

- S3: bucket tagging, versioning, SSE-KMS encryption, bucket policy and policy status, public
  access block, object lock settings.
- IAM: users, roles with paths and permissions boundaries, inline and attached policies, tags,
  ``List*Tags``, AWS managed policies.
- KMS: keys, aliases, tags, rotation status. AWS Backup: vaults with a KMS key, plans, ``ListTags``.
- CloudTrail: trails with log file validation, basic and advanced event selectors with data
  events, ``GetTrailStatus``, ``StartLogging``, ``ListTags``.
- CloudWatch Logs: log groups with a KMS key, tags, ``DescribeLogGroups``.

Behaviour chosen where AWS documents none:

- An unknown or deleted plan gives ``InvalidParameterValueException`` "Cannot find Backup plan
  with ID <id>", the error that the Terraform AWS provider handles from ``GetBackupSelection``.
  An unknown selection in a known plan gives ``ResourceNotFoundException``.
- A repeated ``CreatorRequestId`` in the same plan returns the first selection when the
  ``BackupSelection`` document is equal, and ``AlreadyExistsException`` when it differs.
- Selection names are not required to be unique within a plan, and no limit on the number of
  selections per plan is enforced.
"""

from __future__ import annotations

import fnmatch
import json
import logging
from collections.abc import Callable
from typing import Any

from moto.backup import urls as backup_urls
from moto.backup.models import BackupBackend
from moto.backup.responses import BackupResponse
from moto.core.responses import ActionResult
from moto.iam.responses import IamResponse
from moto.kms import responses as kms_responses
from moto.kms.exceptions import NotFoundException as KmsNotFoundException
from moto.logs.exceptions import InvalidParameterException as LogsInvalidParameterException
from moto.logs.models import LogsBackend
from moto.s3.exceptions import ReplicationConfigurationNotFoundError
from moto.s3.models import FakeBucket, S3Backend
from moto.s3.responses import S3Response
from moto.s3.utils import LOGGING_SERVICE_PRINCIPAL

from infra.sandbox import moto_backup

logger = logging.getLogger(__name__)

_INSTALLED_MARK = "_pilotctl_extension_installed"
# The retention values PutRetentionPolicy accepts (botocore's logs model documentation).
LOG_RETENTION_DAYS = (1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653)


# --- S3 --------------------------------------------------------------------------------------


def _wrap_set_lifecycle(original: Callable[..., Any]) -> Callable[..., Any]:
    """Keep the rule fields moto's parser drops, on each parsed rule as ``pilotctl_extra``."""

    def set_lifecycle(self: FakeBucket, rules: list[dict[str, Any]]) -> None:
        original(self, rules)
        for rule_input, rule in zip(rules, self.rules):
            extra: dict[str, Any] = {}
            newer = (rule_input.get("NoncurrentVersionExpiration") or {}).get("NewerNoncurrentVersions")
            if newer is not None:
                extra["NewerNoncurrentVersions"] = int(newer)
            lc_filter = rule_input.get("Filter") or {}
            extra["Filter"] = _object_size_fields(lc_filter)
            extra["And"] = _object_size_fields(lc_filter.get("And") or {})
            rule.pilotctl_extra = extra

    return set_lifecycle


def _object_size_fields(source: dict[str, Any]) -> dict[str, int]:
    return {key: int(source[key]) for key in ("ObjectSizeGreaterThan", "ObjectSizeLessThan") if source.get(key)}


def _wrap_get_bucket_lifecycle(original: Callable[..., Any]) -> Callable[..., Any]:
    def get_bucket_lifecycle(self: S3Response) -> Any:
        bucket = self.backend.get_bucket(self.bucket_name)
        serialize = self.serialized

        def serialize_with_extra(action_result: ActionResult) -> Any:
            # Errors such as NoSuchLifecycleConfiguration are serialized through here as well.
            result = action_result.result
            if not isinstance(result, dict) or "Rules" not in result:
                return serialize(action_result)
            # moto builds the response rules in the order of bucket.rules.
            for rule, output in zip(bucket.rules, result["Rules"]):
                extra = getattr(rule, "pilotctl_extra", {})
                if "NewerNoncurrentVersions" in extra and "NoncurrentVersionExpiration" in output:
                    output["NoncurrentVersionExpiration"]["NewerNoncurrentVersions"] = extra["NewerNoncurrentVersions"]
                if extra.get("Filter"):
                    output.setdefault("Filter", {}).update(extra["Filter"])
                if extra.get("And") and "And" in output.get("Filter", {}):
                    output["Filter"]["And"].update(extra["And"])
            return serialize(action_result)

        self.serialized = serialize_with_extra  # this response object serves one request only
        return original(self)

    return get_bucket_lifecycle


def _wrap_get_object_lock_configuration(original: Callable[..., Any]) -> Callable[..., Any]:
    def get_object_lock_configuration(self: S3Backend, bucket_name: str) -> tuple[Any, Any, Any, Any]:
        enabled, mode, days, years = original(self, bucket_name)
        return enabled, mode, days or None, years or None

    return get_object_lock_configuration


def _as_list(value: Any) -> list[Any]:
    if value is None:
        return []
    return value if isinstance(value, list) else [value]


def _log_delivery_allowed_by_policy(target_bucket: FakeBucket, target_prefix: str | None) -> bool:
    """Return whether the target bucket's policy lets the S3 logging service put objects under the prefix.

    NOTE: moto rejects PutBucketLogging without this grant. Whether AWS still checks it for
    buckets with ACLs disabled is not verified here.
    """
    if not target_bucket.policy:
        return False
    # A resource pattern grants the logging service access when it matches the ARN of a log
    # object under the prefix. The key name after the prefix is an arbitrary example.
    log_object_arn = f"arn:{target_bucket.partition}:s3:::{target_bucket.name}/{target_prefix or ''}example-log-object"
    for statement in _as_list(json.loads(target_bucket.policy.decode()).get("Statement")):
        principal = statement.get("Principal")
        services = _as_list(principal.get("Service")) if isinstance(principal, dict) else []
        if statement.get("Effect") != "Allow" or LOGGING_SERVICE_PRINCIPAL not in services:
            continue
        if not any(fnmatch.fnmatchcase("s3:PutObject", action) for action in _as_list(statement.get("Action"))):
            continue
        if any(fnmatch.fnmatchcase(log_object_arn, resource) for resource in _as_list(statement.get("Resource"))):
            return True
    return False


def _respond_get_bucket_replication(self: S3Response) -> Any:
    """Return the stored replication rules as they were put, where moto returns fixed filter values."""
    self.data["Action"] = "GetBucketReplication"
    replication = self.backend.get_bucket_replication(self.bucket_name)
    if not replication:
        raise ReplicationConfigurationNotFoundError(bucket_name=self.bucket_name)
    rules = [_replication_rule(rule) for rule in _as_list(replication["Rule"])]
    return self.serialized(ActionResult({"ReplicationConfiguration": {"Role": replication["Role"], "Rules": rules}}))


def _replication_rule(rule: dict[str, Any]) -> dict[str, Any]:
    keys = ("ID", "Priority", "Prefix", "Status", "SourceSelectionCriteria", "ExistingObjectReplication", "Destination")
    output = {key: rule[key] for key in keys if key in rule}
    if "Priority" in output:
        output["Priority"] = int(output["Priority"])
    # AWS defaults DeleteMarkerReplication to Disabled for rules with a Filter.
    output["DeleteMarkerReplication"] = rule.get("DeleteMarkerReplication") or {"Status": "Disabled"}
    if "Filter" in rule:
        output["Filter"] = _replication_filter(rule["Filter"] or {})
    elif "Prefix" not in rule:
        output["Filter"] = {"Prefix": ""}
    return output


def _replication_filter(lc_filter: dict[str, Any]) -> dict[str, Any]:
    """Convert a parsed XML filter to the response shape, where the tags of ``And`` are a list named ``Tags``."""
    output: dict[str, Any] = {}
    if "Prefix" in lc_filter:
        output["Prefix"] = lc_filter["Prefix"] or ""  # xmltodict parses an empty element as None
    if "Tag" in lc_filter:
        output["Tag"] = lc_filter["Tag"]
    if "And" in lc_filter:
        and_filter = lc_filter["And"] or {}
        output["And"] = {}
        if "Prefix" in and_filter:
            output["And"]["Prefix"] = and_filter["Prefix"] or ""
        if "Tag" in and_filter:
            output["And"]["Tags"] = _as_list(and_filter["Tag"])
    return output


# --- IAM, KMS, CloudWatch Logs ------------------------------------------------------------------


def _respond_create_login_profile(self: IamResponse) -> ActionResult:
    user_name = self._get_param("UserName")
    reset_required = str(self._get_param("PasswordResetRequired", "false")).lower() == "true"
    user = self.backend.create_login_profile(user_name, self._get_param("Password"))
    user.password_reset_required = reset_required
    return ActionResult(
        {
            "LoginProfile": {
                "UserName": user.name,
                "CreateDate": user.create_date,
                "PasswordResetRequired": user.password_reset_required,
            }
        }
    )


def _assert_key_policy_name(policy_name: str | None) -> None:
    # PolicyName is optional in GetKeyPolicy and PutKeyPolicy and defaults to "default".
    if policy_name not in (None, "default"):
        raise KmsNotFoundException("No such policy exists")


def _wrap_put_retention_policy(original: Callable[..., Any]) -> Callable[..., Any]:
    def put_retention_policy(self: LogsBackend, log_group_name: str, retention_in_days: Any) -> None:
        if retention_in_days not in LOG_RETENTION_DAYS:
            raise LogsInvalidParameterException(
                constraint=f"Member must satisfy enum value set: [{', '.join(map(str, LOG_RETENTION_DAYS))}]",
                parameter="retentionInDays",
                value=retention_in_days,
            )
        original(self, log_group_name, retention_in_days)

    return put_retention_policy


# --- install ---------------------------------------------------------------------------------


def install() -> None:
    """Patch moto's classes in this process; a second call does nothing."""
    if getattr(BackupResponse, _INSTALLED_MARK, False):
        return

    # moto dispatches a rest-json request to the response method named after the botocore
    # operation in snake case, so adding a method implements the operation once a URL pattern
    # routes its path to the service. /backup/plans/... is routed by moto already.
    BackupResponse.create_backup_selection = moto_backup.respond_create_backup_selection
    BackupResponse.get_backup_selection = moto_backup.respond_get_backup_selection
    BackupResponse.list_backup_selections = moto_backup.respond_list_backup_selections
    BackupResponse.delete_backup_selection = moto_backup.respond_delete_backup_selection
    BackupResponse.update_backup_plan = moto_backup.respond_update_backup_plan
    BackupResponse.put_backup_vault_access_policy = moto_backup.respond_put_backup_vault_access_policy
    BackupResponse.get_backup_vault_access_policy = moto_backup.respond_get_backup_vault_access_policy
    BackupResponse.delete_backup_vault_access_policy = moto_backup.respond_delete_backup_vault_access_policy
    BackupResponse.list_recovery_points_by_backup_vault = moto_backup.respond_list_recovery_points_by_backup_vault
    BackupBackend.delete_backup_plan = moto_backup.wrap_delete_backup_plan(BackupBackend.delete_backup_plan)
    # The server builds each service's URL map on that service's first request, from this dict.
    backup_urls.url_paths.update(
        {
            "{0}/backup-vaults/(?P<name>[^/]+)/access-policy$": BackupResponse.dispatch,
            "{0}/backup-vaults/(?P<name>[^/]+)/recovery-points/$": BackupResponse.dispatch,
        }
    )

    FakeBucket.set_lifecycle = _wrap_set_lifecycle(FakeBucket.set_lifecycle)
    FakeBucket._log_permissions_enabled_policy = staticmethod(_log_delivery_allowed_by_policy)
    S3Response.get_bucket_replication = _respond_get_bucket_replication
    S3Response.get_bucket_lifecycle = _wrap_get_bucket_lifecycle(S3Response.get_bucket_lifecycle)
    S3Backend.get_object_lock_configuration = _wrap_get_object_lock_configuration(
        S3Backend.get_object_lock_configuration
    )

    IamResponse.create_login_profile = _respond_create_login_profile
    kms_responses._assert_default_policy = _assert_key_policy_name
    LogsBackend.put_retention_policy = _wrap_put_retention_policy(LogsBackend.put_retention_policy)

    setattr(BackupResponse, _INSTALLED_MARK, True)
    logger.info("installed pilotctl moto extension (backup, s3, iam, kms and logs additions)")
