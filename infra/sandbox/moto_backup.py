"""AWS Backup operations that moto 5.2.5 lacks: backup selections, plan updates, vault access policies.

``infra.sandbox.moto_ext.install()`` attaches the ``respond_*`` functions to moto's
``BackupResponse`` and wraps ``BackupBackend.delete_backup_plan``. The module docstring of
``moto_ext`` lists the AWS behaviour they follow and the choices made where AWS documents none.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from moto.backup.exceptions import (
    AlreadyExistsException,
    InvalidParameterValueException,
    InvalidRequestException,
    ResourceNotFoundException,
)
from moto.backup.models import BackupBackend, Plan
from moto.backup.responses import BackupResponse
from moto.core.utils import unix_time
from moto.moto_api._internal import mock_random

logger = logging.getLogger(__name__)

_SELECTIONS_ATTR = "pilotctl_backup_selections"
_VAULT_POLICY_ATTR = "pilotctl_access_policy"

# SelectionName and CreatorRequestId: 1 to 50 alphanumeric or '-_.' characters (botocore model docs).
_NAME_PATTERN = re.compile(r"^[A-Za-z0-9\-_.]{1,50}$")
_MAX_LIST_RESULTS = 1000
PLAN_HAS_SELECTIONS_MESSAGE = "Related backup plan selections must be deleted prior to backup plan deletion."

@dataclass
class BackupSelection:
    """One resource assignment of a backup plan, as AWS Backup stores it."""

    selection_id: str
    backup_plan_id: str
    document: dict[str, Any]
    creation_date: float
    creator_request_id: str | None

    def to_get_dict(self) -> dict[str, Any]:
        result: dict[str, Any] = {
            "BackupSelection": self.document,
            "SelectionId": self.selection_id,
            "BackupPlanId": self.backup_plan_id,
            "CreationDate": self.creation_date,
        }
        if self.creator_request_id is not None:
            result["CreatorRequestId"] = self.creator_request_id
        return result

    def to_list_dict(self) -> dict[str, Any]:
        result: dict[str, Any] = {
            "SelectionId": self.selection_id,
            "SelectionName": self.document["SelectionName"],
            "BackupPlanId": self.backup_plan_id,
            "CreationDate": self.creation_date,
            "IamRoleArn": self.document["IamRoleArn"],
        }
        if self.creator_request_id is not None:
            result["CreatorRequestId"] = self.creator_request_id
        return result


def _selections(backend: BackupBackend) -> dict[str, dict[str, BackupSelection]]:
    """Return the selections of one backend, keyed by plan id and then by selection id."""
    return backend.__dict__.setdefault(_SELECTIONS_ATTR, {})


def _existing_plan_id(backend: BackupBackend, backup_plan_id: str) -> str:
    plan = backend.plans.get(backup_plan_id)
    if plan is None or plan.deletion_date is not None:
        raise InvalidParameterValueException(msg=f"Cannot find Backup plan with ID {backup_plan_id}")
    return backup_plan_id


def _validate_selection(document: Any) -> dict[str, Any]:
    if not isinstance(document, dict):
        raise InvalidParameterValueException(msg="BackupSelection must be a JSON object")
    name = document.get("SelectionName")
    if not isinstance(name, str) or not _NAME_PATTERN.match(name):
        raise InvalidParameterValueException(
            msg=f"Invalid SelectionName {name!r}; expected 1 to 50 alphanumeric or '-_.' characters"
        )
    role_arn = document.get("IamRoleArn")
    if not isinstance(role_arn, str) or not role_arn.startswith("arn:"):
        raise InvalidParameterValueException(msg=f"Invalid IamRoleArn {role_arn!r}; expected an IAM role ARN")
    return document


def create_backup_selection(
    backend: BackupBackend, backup_plan_id: str, document: Any, creator_request_id: str | None
) -> BackupSelection:
    plan_id = _existing_plan_id(backend, backup_plan_id)
    document = _validate_selection(document)
    if creator_request_id is not None and not _NAME_PATTERN.match(creator_request_id):
        raise InvalidParameterValueException(
            msg=f"Invalid CreatorRequestId {creator_request_id!r}; expected 1 to 50 alphanumeric or '-_.' characters"
        )

    plan_selections = _selections(backend).setdefault(plan_id, {})
    if creator_request_id is not None:
        for existing in plan_selections.values():
            if existing.creator_request_id != creator_request_id:
                continue
            if existing.document == document:
                return existing
            raise AlreadyExistsException(
                msg=f"A different backup selection was already created with CreatorRequestId {creator_request_id}"
            )

    selection = BackupSelection(
        selection_id=str(mock_random.uuid4()),
        backup_plan_id=plan_id,
        document=document,
        creation_date=unix_time(),
        creator_request_id=creator_request_id,
    )
    plan_selections[selection.selection_id] = selection
    return selection


def get_backup_selection(backend: BackupBackend, backup_plan_id: str, selection_id: str) -> BackupSelection:
    plan_id = _existing_plan_id(backend, backup_plan_id)
    selection = _selections(backend).get(plan_id, {}).get(selection_id)
    if selection is None:
        raise ResourceNotFoundException(msg=f"Backup selection {selection_id} not found in backup plan {plan_id}")
    return selection


def list_backup_selections(
    backend: BackupBackend, backup_plan_id: str, max_results: int | None, next_token: str | None
) -> tuple[list[BackupSelection], str | None]:
    """Return one page of the plan's selections in creation order, and the token of the next page."""
    plan_id = _existing_plan_id(backend, backup_plan_id)
    selections = list(_selections(backend).get(plan_id, {}).values())

    page_size = _MAX_LIST_RESULTS if max_results is None else max_results
    if not 1 <= page_size <= _MAX_LIST_RESULTS:
        raise InvalidParameterValueException(msg=f"Invalid MaxResults {page_size}; expected 1 to {_MAX_LIST_RESULTS}")
    start = 0
    if next_token is not None:
        if not next_token.isdigit() or int(next_token) > len(selections):
            raise InvalidParameterValueException(msg=f"Invalid NextToken {next_token!r}")
        start = int(next_token)

    end = start + page_size
    token = str(end) if end < len(selections) else None
    return selections[start:end], token


def delete_backup_selection(backend: BackupBackend, backup_plan_id: str, selection_id: str) -> None:
    selection = get_backup_selection(backend, backup_plan_id, selection_id)
    del _selections(backend)[selection.backup_plan_id][selection_id]


def _uri_param(response: BackupResponse, name: str) -> str:
    return response.uri_match[name]


def _query_param(response: BackupResponse, name: str) -> str | None:
    values = response.querystring.get(name)
    return values[0] if values else None


def respond_create_backup_selection(self: BackupResponse) -> str:
    params = json.loads(self.body or "{}")
    selection = create_backup_selection(
        self.backup_backend,
        backup_plan_id=_uri_param(self, "backupPlanId"),
        document=params.get("BackupSelection"),
        creator_request_id=params.get("CreatorRequestId"),
    )
    logger.debug("created backup selection %s in plan %s", selection.selection_id, selection.backup_plan_id)
    return json.dumps(
        {
            "SelectionId": selection.selection_id,
            "BackupPlanId": selection.backup_plan_id,
            "CreationDate": selection.creation_date,
        }
    )


def respond_get_backup_selection(self: BackupResponse) -> str:
    selection = get_backup_selection(
        self.backup_backend, _uri_param(self, "backupPlanId"), _uri_param(self, "selectionId")
    )
    return json.dumps(selection.to_get_dict())


def respond_list_backup_selections(self: BackupResponse) -> str:
    max_results = _query_param(self, "maxResults")
    if max_results is not None and not max_results.isdigit():
        raise InvalidParameterValueException(msg=f"Invalid MaxResults {max_results!r}; expected an integer")
    selections, token = list_backup_selections(
        self.backup_backend,
        _uri_param(self, "backupPlanId"),
        max_results=None if max_results is None else int(max_results),
        next_token=_query_param(self, "nextToken"),
    )
    result: dict[str, Any] = {"BackupSelectionsList": [selection.to_list_dict() for selection in selections]}
    if token is not None:
        result["NextToken"] = token
    return json.dumps(result)


def respond_delete_backup_selection(self: BackupResponse) -> str:
    delete_backup_selection(self.backup_backend, _uri_param(self, "backupPlanId"), _uri_param(self, "selectionId"))
    return ""


def wrap_delete_backup_plan(original: Callable[..., Any]) -> Callable[..., Any]:
    def delete_backup_plan(self: BackupBackend, backup_plan_id: str) -> tuple[str, str, float, str]:
        if _selections(self).get(backup_plan_id):
            raise InvalidRequestException(msg=PLAN_HAS_SELECTIONS_MESSAGE)
        return original(self, backup_plan_id)

    return delete_backup_plan


def respond_update_backup_plan(self: BackupResponse) -> str:
    plan_id = _uri_param(self, "backupPlanId")
    document = json.loads(self.body or "{}").get("BackupPlan")
    plan = self.backup_backend.plans.get(plan_id)
    if plan is None or plan.deletion_date is not None:
        raise ResourceNotFoundException(msg=f"Backup plan {plan_id} not found")
    if not isinstance(document, dict) or not document.get("Rules"):
        raise InvalidParameterValueException(msg="BackupPlan must contain at least one rule")

    # A throwaway Plan fills in the rule defaults (schedule, windows, rule ids) the way moto's
    # CreateBackupPlan does. The stored plan keeps its id, ARN and creation date.
    updated = Plan(backup_plan=document, creator_request_id=plan.creator_request_id, backend=self.backup_backend)
    plan.backup_plan = updated.backup_plan
    plan.advanced_backup_settings = updated.advanced_backup_settings
    plan.version_id = updated.version_id
    result = {
        "BackupPlanId": plan.backup_plan_id,
        "BackupPlanArn": plan.backup_plan_arn,
        "CreationDate": plan.creation_date,
        "VersionId": plan.version_id,
    }
    if plan.advanced_backup_settings:
        result["AdvancedBackupSettings"] = plan.advanced_backup_settings
    return json.dumps(result)


def _vault(response: BackupResponse) -> Any:
    name = _uri_param(response, "backupVaultName")
    vault = response.backup_backend.vaults.get(name)
    if vault is None:
        raise ResourceNotFoundException(msg=f"Backup vault {name} not found")
    return vault


def respond_put_backup_vault_access_policy(self: BackupResponse) -> str:
    vault = _vault(self)
    policy = json.loads(self.body or "{}").get("Policy")
    try:
        json.loads(policy)
    except (TypeError, ValueError):
        raise InvalidParameterValueException(msg="Policy must be a JSON policy document")
    vault.__dict__[_VAULT_POLICY_ATTR] = policy
    return ""


def respond_get_backup_vault_access_policy(self: BackupResponse) -> str:
    vault = _vault(self)
    policy = vault.__dict__.get(_VAULT_POLICY_ATTR)
    if policy is None:
        raise ResourceNotFoundException(msg=f"Backup vault {vault.backup_vault_name} has no access policy")
    return json.dumps(
        {"BackupVaultName": vault.backup_vault_name, "BackupVaultArn": vault.backup_vault_arn, "Policy": policy}
    )


def respond_delete_backup_vault_access_policy(self: BackupResponse) -> str:
    _vault(self).__dict__.pop(_VAULT_POLICY_ATTR, None)
    return ""


def respond_list_recovery_points_by_backup_vault(self: BackupResponse) -> str:
    # moto 5.2.5 runs no backup jobs, so a vault never contains recovery points.
    _vault(self)
    return json.dumps({"RecoveryPoints": []})
