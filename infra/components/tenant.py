"""PilotTenant: one customer's pilot environment, built from the pilot spec."""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from infra import naming
from infra.components.access import AccessArgs, TenantAccess
from infra.components.audit import AuditArgs, TenantAudit
from infra.components.backup import BackupArgs, TenantBackup
from infra.components.storage import StorageArgs, TenantStorage
from infra.spec import PilotSpec


@dataclass
class PilotTenantArgs:
    spec: PilotSpec


class PilotTenant(pulumi.ComponentResource):
    """Storage, access, backup and audit of one tenant, all in the spec's region."""

    def __init__(self, name: str, args: PilotTenantArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("pilotctl:tenant:PilotTenant", name, None, opts)
        spec = args.spec

        provider = aws.Provider(f"{name}-aws", region=spec.region, opts=pulumi.ResourceOptions(parent=self))
        child = pulumi.ResourceOptions(parent=self, providers={"aws": provider})
        invoke = pulumi.InvokeOutputOptions(provider=provider, parent=self)
        account_id = aws.get_caller_identity_output(opts=invoke).account_id
        partition = aws.get_partition_output(opts=invoke).partition

        self.storage = TenantStorage(f"{name}-storage", StorageArgs(spec, account_id, partition), child)

        store_arns: dict[str, pulumi.Input[str]] = {}
        for store_name, bucket in self.storage.buckets.items():
            store_arns[store_name] = bucket.arn
        for store_name, group in self.storage.log_groups.items():
            store_arns[store_name] = group.arn
        self.access = TenantAccess(
            f"{name}-access",
            AccessArgs(spec, account_id, partition, self.storage.key.arn, store_arns), child)

        self.backup = None
        if any(store.backup for store in spec.stores):
            self.backup = TenantBackup(f"{name}-backup", BackupArgs(spec, self.storage.key.arn, partition), child)

        self.audit = TenantAudit(
            f"{name}-audit",
            AuditArgs(spec, account_id, partition, self.storage.key,
                      {n: b.id for n, b in self.storage.buckets.items()}),
            child)

        self.outputs = {
            "customer": spec.customer,
            "region": spec.region,
            "stores": {**{n: b.id for n, b in self.storage.buckets.items()},
                       **{n: g.name for n, g in self.storage.log_groups.items()}},
            "roles": {n: r.arn for n, r in self.access.roles.items()},
            "people": {n: u.arn for n, u in self.access.users.items()},
            "key": self.storage.key.arn,
            "key_alias": naming.key_alias(spec.customer),
            "backup_vault": self.backup.vault.name if self.backup else None,
            "trail": self.audit.trail.name,
            "audit_bucket": self.audit.bucket.id,
        }
        self.register_outputs(self.outputs)


def build(spec: PilotSpec) -> PilotTenant:
    """Declare the whole tenant and export its names as stack outputs."""
    tenant = PilotTenant(f"pilot-{spec.customer}", PilotTenantArgs(spec))
    for key, value in tenant.outputs.items():
        pulumi.export(key, value)
    return tenant
