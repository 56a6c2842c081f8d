"""Inventory: frozen records of one tenant's resources, the seam between sources and rules.

Every source (the live scanner, the Pulumi program under mocks, a stack export)
produces this shape, and everything after it (graph, rules, reports) reads only
this shape. Attributes keep the AWS API's own field names and value shapes, as
boto3 returns them, so a reader can check any value against the AWS docs.

Kinds and their attributes:

- ``s3_bucket``: Name, Region, Versioning (``get_bucket_versioning`` body, ``{}`` if
  never enabled), LifecycleConfiguration (``{"Rules": [...]}`` or None), Encryption
  (``ServerSideEncryptionConfiguration`` or None), Policy (parsed document or None),
  PublicAccessBlock (``PublicAccessBlockConfiguration`` or None),
  ReplicationConfiguration (or None), Logging (``LoggingEnabled`` or None),
  ObjectLockConfiguration (or None).
- ``iam_role``: RoleName, Path, AssumeRolePolicyDocument, InlinePolicies
  ``{name: document}``, AttachedPolicies ``[arn]``, PermissionsBoundary (arn or None).
- ``iam_user``: UserName, Path, InlinePolicies, AttachedPolicies, PermissionsBoundary,
  Groups ``[name]``, GroupPolicies ``{group: {"InlinePolicies": {...}, "AttachedPolicies":
  [...]}}`` (groups have no kind of their own, and their policies apply to the user),
  LoginProfile (bool), AccessKeys (count of active and inactive keys).
- ``iam_policy``: a managed policy: PolicyName, Document (default version).
- ``kms_key``: KeyId, Policy, KeyRotationEnabled, KeyState, Description, Aliases ``[name]``.
- ``backup_vault``: BackupVaultName, EncryptionKeyArn, Locked, MinRetentionDays,
  MaxRetentionDays.
- ``backup_plan``: BackupPlanId, BackupPlanName, Rules (``get_backup_plan`` shape),
  Selections (``get_backup_selection`` ``BackupSelection`` bodies).
- ``cloudtrail_trail``: Name, S3BucketName, LogFileValidationEnabled, IsLogging,
  IsMultiRegionTrail, KmsKeyId, EventSelectors, AdvancedEventSelectors,
  CloudWatchLogsLogGroupArn.
- ``log_group``: logGroupName, retentionInDays (absent: never expires), kmsKeyId.

A read that failed is recorded in ``errors`` under the attribute name, with the
reason, and the attribute is absent: rules that need it must report unknown.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Any

from infra.errors import InputError

FORMAT_VERSION = 1
KINDS = ("s3_bucket", "iam_role", "iam_user", "iam_policy", "kms_key", "backup_vault", "backup_plan",
         "cloudtrail_trail", "log_group")


def _freeze(value: Any) -> Any:
    if isinstance(value, Mapping):
        return MappingProxyType({k: _freeze(v) for k, v in value.items()})
    if isinstance(value, (list, tuple)):
        return tuple(_freeze(v) for v in value)
    return value


def thaw(value: Any) -> Any:
    """Return a plain JSON-compatible copy of a frozen value."""
    # Exact type checks first: rules thaw policy documents on every run, and an
    # isinstance check against the Mapping ABC costs several times more.
    kind = type(value)
    if kind is str or kind is int or kind is bool or kind is float or value is None:
        return value
    if kind is MappingProxyType or kind is dict or isinstance(value, Mapping):
        return {k: thaw(v) for k, v in value.items()}
    if kind is tuple:
        return [thaw(v) for v in value]
    return value


@dataclass(frozen=True)
class Resource:
    """One AWS resource as a source saw it."""

    kind: str
    arn: str
    name: str
    region: str = ""
    tags: Mapping[str, str] = field(default_factory=dict)
    attributes: Mapping[str, Any] = field(default_factory=dict)
    errors: Mapping[str, str] = field(default_factory=dict)
    # Where it was declared (for example "infra/components/storage.py:42"), when known.
    declared_at: str = ""

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"unknown resource kind {self.kind!r}; expected one of {', '.join(KINDS)}")
        object.__setattr__(self, "tags", _freeze(dict(self.tags)))
        object.__setattr__(self, "attributes", _freeze(dict(self.attributes)))
        object.__setattr__(self, "errors", _freeze(dict(self.errors)))

    def get(self, key: str, default: Any = None) -> Any:
        return self.attributes.get(key, default)

    def known(self, key: str) -> bool:
        """Return True when the attribute was read (it may still be None: "not configured")."""
        return key in self.attributes and key not in self.errors

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"kind": self.kind, "arn": self.arn, "name": self.name, "region": self.region,
                               "tags": thaw(self.tags), "attributes": thaw(self.attributes)}
        if self.errors:
            out["errors"] = thaw(self.errors)
        if self.declared_at:
            out["declared_at"] = self.declared_at
        return out


@dataclass(frozen=True)
class Inventory:
    """All resources of one tenant, with where and when they were read."""

    customer: str
    account_id: str
    source: str  # "live", "plan" or "stack-export"
    resources: tuple[Resource, ...]
    region: str = ""
    taken_at: str = ""
    # Reads that failed for the whole tenant rather than one resource (for example a
    # denied ListRoles), each "service:operation: reason".
    errors: tuple[str, ...] = ()

    def of_kind(self, kind: str) -> tuple[Resource, ...]:
        return tuple(r for r in self.resources if r.kind == kind)

    def by_arn(self, arn: str) -> Resource | None:
        return next((r for r in self.resources if r.arn == arn), None)

    def to_json(self) -> dict[str, Any]:
        return {"format": FORMAT_VERSION, "customer": self.customer, "account_id": self.account_id,
                "source": self.source, "region": self.region, "taken_at": self.taken_at,
                "errors": list(self.errors),
                "resources": [r.to_json() for r in sorted(self.resources, key=lambda r: (r.kind, r.arn))]}

    @classmethod
    def from_json(cls, data: Mapping[str, Any], origin: str = "<inventory>") -> Inventory:
        if not isinstance(data, Mapping) or data.get("format") != FORMAT_VERSION:
            found = data.get("format") if isinstance(data, Mapping) else type(data).__name__
            raise InputError(f"{origin}: format: invalid value {found!r}; expected {FORMAT_VERSION}")
        resources = []
        for i, raw in enumerate(data.get("resources", [])):
            try:
                resources.append(Resource(kind=raw["kind"], arn=raw["arn"], name=raw["name"],
                                          region=raw.get("region", ""), tags=raw.get("tags", {}),
                                          attributes=raw.get("attributes", {}), errors=raw.get("errors", {}),
                                          declared_at=raw.get("declared_at", "")))
            except (KeyError, TypeError, ValueError) as exc:
                raise InputError(f"{origin}: resources[{i}]: invalid resource record ({exc})") from None
        return cls(customer=data["customer"], account_id=data.get("account_id", ""), source=data["source"],
                   resources=tuple(resources), region=data.get("region", ""),
                   taken_at=data.get("taken_at", ""), errors=tuple(data.get("errors", ())))


def write(inventory: Inventory, path: str | Path) -> Path:
    """Write the inventory as indented JSON with sorted keys, so equal inventories give equal bytes."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(inventory.to_json(), indent=2, sort_keys=True) + "\n", encoding="utf-8")
    return path


def read(path: str | Path) -> Inventory:
    path = Path(path)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise InputError(f"{path}: inventory file not found") from None
    except json.JSONDecodeError as exc:
        raise InputError(f"{path}: line {exc.lineno}: invalid JSON ({exc.msg})") from None
    return Inventory.from_json(data, str(path))


def merge(resources: Iterable[Resource]) -> tuple[Resource, ...]:
    """Return resources sorted by kind and ARN, the order every report uses."""
    return tuple(sorted(resources, key=lambda r: (r.kind, r.arn)))
