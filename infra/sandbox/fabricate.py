"""Computed outputs for a planned (not deployed) resource, derived from its inputs.

AWS computes ARNs and ids on create; a plan has to predict them. The predictions
follow AWS's documented ARN formats, so rules that match ARNs see the same strings
as after a real deploy. Values AWS generates at random (KMS key ids, backup plan
ids) get stable placeholders derived from the resource name.
"""

from __future__ import annotations

import hashlib
import uuid
from typing import Any

from infra.sandbox.program import Hooks, Registered


def stable_uuid(name: str) -> str:
    return str(uuid.UUID(hashlib.sha256(name.encode()).hexdigest()[:32]))


class PlanHooks(Hooks):
    """Fabricate the outputs AWS would compute, so the program runs without any account."""

    def __init__(self, account_id: str = "123456789012", region: str = "eu-west-1", partition: str = "aws"):
        self.account_id, self.region, self.partition = account_id, region, partition

    def create(self, resource: Registered) -> tuple[str, dict[str, Any]]:
        return predict(resource, self.account_id, self.region, self.partition)


def predict(resource: Registered, account: str, region: str, partition: str = "aws") -> tuple[str, dict[str, Any]]:
    """Return (id, outputs) the way AWS would assign them for ``resource``."""
    inputs, t = resource.inputs, resource.type
    p = partition
    if t == "aws:s3/bucket:Bucket":
        name = inputs["bucket"]
        return name, {"arn": f"arn:{p}:s3:::{name}", "bucket": name}
    if t.startswith("aws:s3/"):
        return inputs.get("bucket", resource.name), {}
    if t == "aws:kms/key:Key":
        key_id = stable_uuid(resource.name)
        return key_id, {"arn": f"arn:{p}:kms:{region}:{account}:key/{key_id}", "keyId": key_id}
    if t == "aws:kms/alias:Alias":
        return inputs["name"], {"arn": f"arn:{p}:kms:{region}:{account}:{inputs['name']}"}
    if t == "aws:iam/user:User":
        return inputs["name"], {"arn": f"arn:{p}:iam::{account}:user{inputs.get('path', '/')}{inputs['name']}",
                                "uniqueId": "AIDA" + stable_uuid(resource.name)[:16].upper()}
    if t == "aws:iam/role:Role":
        return inputs["name"], {"arn": f"arn:{p}:iam::{account}:role{inputs.get('path', '/')}{inputs['name']}",
                                "uniqueId": "AROA" + stable_uuid(resource.name)[:16].upper()}
    if t in ("aws:iam/rolePolicy:RolePolicy", "aws:iam/userPolicy:UserPolicy"):
        owner = inputs.get("role") or inputs.get("user")
        return f"{owner}:{inputs['name']}", {}
    if t == "aws:iam/rolePolicyAttachment:RolePolicyAttachment":
        return f"{inputs['role']}-{stable_uuid(resource.name)[:8]}", {}
    if t == "aws:cloudwatch/logGroup:LogGroup":
        name = inputs["name"]
        return name, {"arn": f"arn:{p}:logs:{region}:{account}:log-group:{name}"}
    if t == "aws:backup/vault:Vault":
        name = inputs["name"]
        return name, {"arn": f"arn:{p}:backup:{region}:{account}:backup-vault:{name}", "recoveryPoints": 0}
    if t == "aws:backup/plan:Plan":
        plan_id = stable_uuid(resource.name)
        return plan_id, {"arn": f"arn:{p}:backup:{region}:{account}:backup-plan:{plan_id}",
                         "version": stable_uuid(resource.name + "/version")}
    if t == "aws:backup/selection:Selection":
        return stable_uuid(resource.name), {}
    if t == "aws:cloudtrail/trail:Trail":
        name = inputs["name"]
        return name, {"arn": f"arn:{p}:cloudtrail:{region}:{account}:trail/{name}",
                      "homeRegion": region}
    raise KeyError(f"no prediction for resource type {t} ({resource.name}); add it to infra/sandbox/fabricate.py")
