"""Create the program's resources in the local emulator: the sandbox's stand-in for ``pulumi up``.

The Pulumi program runs unchanged under mocks (``infra.sandbox.program``); each resource it
registers is created here with boto3 against the emulator's endpoint. Every handler first
reads what exists and writes only what differs, so a second run reports every resource
unchanged. This is NOT how production deploys: there, ``pulumi up -s <customer>`` runs the
same program with the real AWS provider.
"""

from __future__ import annotations

import json
import logging
import threading
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import boto3
from botocore.config import Config
from botocore.exceptions import ClientError

from infra.errors import SandboxError
from infra.sandbox.program import Hooks, Registered, run_program
from infra.sandbox.translate import (bucket_lifecycle, bucket_sse, camel_tags, event_selectors,
                                     plan_rules, selection_body)
from infra.spec import PilotSpec

log = logging.getLogger(__name__)

CREATED, UPDATED, UNCHANGED = "created", "updated", "unchanged"


@dataclass
class DeployResult:
    customer: str
    endpoint: str
    actions: dict[str, str] = field(default_factory=dict)  # resource name -> created/updated/unchanged
    outputs: dict[str, Any] = field(default_factory=dict)

    def counts(self) -> Counter:
        return Counter(self.actions.values())


class SandboxHooks(Hooks):
    """Create each registered resource in the emulator and return what it reports."""

    def __init__(self, endpoint: str, region: str, account_id: str = "123456789012"):
        self.endpoint, self.region, self.account_id = endpoint, region, account_id
        self.actions: dict[str, str] = {}
        self._lock = threading.Lock()
        session = boto3.session.Session(aws_access_key_id="testing", aws_secret_access_key="testing",
                                        region_name=region)
        config = Config(retries={"mode": "standard", "max_attempts": 3})
        # Clients are made up front: boto3 client creation is not thread-safe and the
        # mocks call create() from several threads.
        self.clients = {name: session.client(name, endpoint_url=endpoint, config=config)
                        for name in ("s3", "iam", "kms", "logs", "backup", "cloudtrail", "sts")}
        self.handlers: dict[str, Callable[[Registered], tuple[str, str, dict[str, Any]]]] = {
            "aws:s3/bucket:Bucket": self._bucket,
            "aws:s3/bucketVersioning:BucketVersioning": self._bucket_versioning,
            "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration":
                self._bucket_encryption,
            "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock": self._bucket_public_access,
            "aws:s3/bucketOwnershipControls:BucketOwnershipControls": self._bucket_ownership,
            "aws:s3/bucketPolicy:BucketPolicy": self._bucket_policy,
            "aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration": self._bucket_lifecycle,
            "aws:kms/key:Key": self._key,
            "aws:kms/alias:Alias": self._alias,
            "aws:iam/user:User": self._user,
            "aws:iam/role:Role": self._role,
            "aws:iam/rolePolicy:RolePolicy": self._role_policy,
            "aws:iam/userPolicy:UserPolicy": self._user_policy,
            "aws:iam/rolePolicyAttachment:RolePolicyAttachment": self._role_policy_attachment,
            "aws:cloudwatch/logGroup:LogGroup": self._log_group,
            "aws:backup/vault:Vault": self._vault,
            "aws:backup/plan:Plan": self._plan,
            "aws:backup/selection:Selection": self._selection,
            "aws:cloudtrail/trail:Trail": self._trail,
        }

    def create(self, resource: Registered) -> tuple[str, dict[str, Any]]:
        handler = self.handlers.get(resource.type)
        if handler is None:
            raise SandboxError(f"the sandbox cannot create {resource.type} ({resource.name})")
        try:
            action, physical_id, outputs = handler(resource)
        except ClientError as exc:
            raise SandboxError(f"creating {resource.type} {resource.name} in the emulator failed: {exc}") from exc
        with self._lock:
            self.actions[resource.name] = action
        log.debug("%s %s %s", action, resource.type, physical_id)
        return physical_id, outputs

    # S3 ------------------------------------------------------------------------------------

    def _bucket(self, r: Registered) -> tuple[str, str, dict]:
        s3, name = self.clients["s3"], r.inputs["bucket"]
        arn = f"arn:aws:s3:::{name}"
        wanted_tags = camel_tags(r.inputs.get("tags"))
        try:
            s3.head_bucket(Bucket=name)
            exists = True
        except ClientError:
            exists = False
        if not exists:
            kwargs: dict[str, Any] = {"Bucket": name}
            if self.region != "us-east-1":
                kwargs["CreateBucketConfiguration"] = {"LocationConstraint": self.region}
            s3.create_bucket(**kwargs)
            s3.put_bucket_tagging(Bucket=name, Tagging={"TagSet": wanted_tags})
            return CREATED, name, {"arn": arn, "bucket": name}
        try:
            current = s3.get_bucket_tagging(Bucket=name)["TagSet"]
        except ClientError:
            current = []
        if _tag_dict(current) == _tag_dict(wanted_tags):
            return UNCHANGED, name, {"arn": arn, "bucket": name}
        s3.put_bucket_tagging(Bucket=name, Tagging={"TagSet": wanted_tags})
        return UPDATED, name, {"arn": arn, "bucket": name}

    def _s3_setting(self, r: Registered, read: Callable[[], Any], wanted: Any,
                    write: Callable[[], Any], missing: tuple[str, ...]) -> tuple[str, str, dict]:
        try:
            current = read()
        except ClientError as exc:
            if exc.response["Error"]["Code"] not in missing:
                raise
            current = None
        if current == wanted:
            return UNCHANGED, r.inputs["bucket"], {}
        write()
        return (CREATED if current is None else UPDATED), r.inputs["bucket"], {}

    def _bucket_versioning(self, r: Registered) -> tuple[str, str, dict]:
        s3, bucket = self.clients["s3"], r.inputs["bucket"]
        status = r.inputs["versioningConfiguration"]["status"]
        return self._s3_setting(
            r, lambda: s3.get_bucket_versioning(Bucket=bucket).get("Status"), status,
            lambda: s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": status}), ())

    def _bucket_encryption(self, r: Registered) -> tuple[str, str, dict]:
        s3, bucket = self.clients["s3"], r.inputs["bucket"]
        wanted = bucket_sse(r.inputs["rules"])
        return self._s3_setting(
            r, lambda: s3.get_bucket_encryption(Bucket=bucket)["ServerSideEncryptionConfiguration"], wanted,
            lambda: s3.put_bucket_encryption(Bucket=bucket, ServerSideEncryptionConfiguration=wanted),
            ("ServerSideEncryptionConfigurationNotFoundError",))

    def _bucket_public_access(self, r: Registered) -> tuple[str, str, dict]:
        s3, bucket = self.clients["s3"], r.inputs["bucket"]
        wanted = {key: bool(r.inputs.get(camel, False)) for key, camel in (
            ("BlockPublicAcls", "blockPublicAcls"), ("IgnorePublicAcls", "ignorePublicAcls"),
            ("BlockPublicPolicy", "blockPublicPolicy"), ("RestrictPublicBuckets", "restrictPublicBuckets"))}
        return self._s3_setting(
            r, lambda: s3.get_public_access_block(Bucket=bucket)["PublicAccessBlockConfiguration"], wanted,
            lambda: s3.put_public_access_block(Bucket=bucket, PublicAccessBlockConfiguration=wanted),
            ("NoSuchPublicAccessBlockConfiguration",))

    def _bucket_ownership(self, r: Registered) -> tuple[str, str, dict]:
        s3, bucket = self.clients["s3"], r.inputs["bucket"]
        wanted = {"Rules": [{"ObjectOwnership": r.inputs["rule"]["objectOwnership"]}]}
        return self._s3_setting(
            r, lambda: s3.get_bucket_ownership_controls(Bucket=bucket)["OwnershipControls"], wanted,
            lambda: s3.put_bucket_ownership_controls(Bucket=bucket, OwnershipControls=wanted),
            ("OwnershipControlsNotFoundError",))

    def _bucket_policy(self, r: Registered) -> tuple[str, str, dict]:
        s3, bucket = self.clients["s3"], r.inputs["bucket"]
        wanted = json.loads(r.inputs["policy"])
        return self._s3_setting(
            r, lambda: json.loads(s3.get_bucket_policy(Bucket=bucket)["Policy"]), wanted,
            lambda: s3.put_bucket_policy(Bucket=bucket, Policy=json.dumps(wanted)), ("NoSuchBucketPolicy",))

    def _bucket_lifecycle(self, r: Registered) -> tuple[str, str, dict]:
        s3, bucket = self.clients["s3"], r.inputs["bucket"]
        wanted = bucket_lifecycle(r.inputs["rules"])
        return self._s3_setting(
            r, lambda: {"Rules": s3.get_bucket_lifecycle_configuration(Bucket=bucket)["Rules"]}, wanted,
            lambda: s3.put_bucket_lifecycle_configuration(Bucket=bucket, LifecycleConfiguration=wanted),
            ("NoSuchLifecycleConfiguration",))

    # KMS -----------------------------------------------------------------------------------

    def _key(self, r: Registered) -> tuple[str, str, dict]:
        kms = self.clients["kms"]
        wanted_tags = camel_tags(r.inputs.get("tags"), key="TagKey", value="TagValue")
        existing = self._find_key(wanted_tags)
        action = UNCHANGED
        if existing is None:
            existing = kms.create_key(Description=r.inputs.get("description", ""), Policy=r.inputs["policy"],
                                      Tags=wanted_tags)["KeyMetadata"]
            action = CREATED
        key_id = existing["KeyId"]
        if action != CREATED:
            current = json.loads(kms.get_key_policy(KeyId=key_id, PolicyName="default")["Policy"])
            if current != json.loads(r.inputs["policy"]):
                kms.put_key_policy(KeyId=key_id, PolicyName="default", Policy=r.inputs["policy"])
                action = UPDATED
        if r.inputs.get("enableKeyRotation") and not kms.get_key_rotation_status(KeyId=key_id)["KeyRotationEnabled"]:
            kms.enable_key_rotation(KeyId=key_id)
            action = UPDATED if action == UNCHANGED else action
        return action, key_id, {"arn": existing["Arn"], "keyId": key_id}

    def _find_key(self, wanted_tags: list[dict]) -> dict | None:
        """Return the enabled key whose tags match, so a second run reuses it."""
        kms, wanted = self.clients["kms"], _tag_dict(wanted_tags, "TagKey", "TagValue")
        for page in kms.get_paginator("list_keys").paginate():
            for entry in page["Keys"]:
                metadata = kms.describe_key(KeyId=entry["KeyId"])["KeyMetadata"]
                if metadata.get("KeyState") != "Enabled":
                    continue
                tags = kms.list_resource_tags(KeyId=entry["KeyId"]).get("Tags", [])
                if _tag_dict(tags, "TagKey", "TagValue") == wanted:
                    return metadata
        return None

    def _alias(self, r: Registered) -> tuple[str, str, dict]:
        kms, name, target = self.clients["kms"], r.inputs["name"], r.inputs["targetKeyId"]
        aliases = {a["AliasName"]: a.get("TargetKeyId") for page in kms.get_paginator("list_aliases").paginate()
                   for a in page["Aliases"]}
        arn = f"arn:aws:kms:{self.region}:{self.account_id}:{name}"
        if name not in aliases:
            kms.create_alias(AliasName=name, TargetKeyId=target)
            return CREATED, name, {"arn": arn}
        if aliases[name] != target:
            kms.update_alias(AliasName=name, TargetKeyId=target)
            return UPDATED, name, {"arn": arn}
        return UNCHANGED, name, {"arn": arn}

    # IAM -----------------------------------------------------------------------------------

    def _user(self, r: Registered) -> tuple[str, str, dict]:
        iam, name = self.clients["iam"], r.inputs["name"]
        tags = camel_tags(r.inputs.get("tags"))
        try:
            user = iam.get_user(UserName=name)["User"]
        except iam.exceptions.NoSuchEntityException:
            user = iam.create_user(UserName=name, Path=r.inputs.get("path", "/"), Tags=tags)["User"]
            return CREATED, name, {"arn": user["Arn"], "uniqueId": user["UserId"]}
        if _tag_dict(iam.list_user_tags(UserName=name)["Tags"]) == _tag_dict(tags):
            return UNCHANGED, name, {"arn": user["Arn"], "uniqueId": user["UserId"]}
        iam.tag_user(UserName=name, Tags=tags)
        return UPDATED, name, {"arn": user["Arn"], "uniqueId": user["UserId"]}

    def _role(self, r: Registered) -> tuple[str, str, dict]:
        iam, name = self.clients["iam"], r.inputs["name"]
        tags, trust = camel_tags(r.inputs.get("tags")), r.inputs["assumeRolePolicy"]
        try:
            role = iam.get_role(RoleName=name)["Role"]
        except iam.exceptions.NoSuchEntityException:
            role = iam.create_role(RoleName=name, Path=r.inputs.get("path", "/"), AssumeRolePolicyDocument=trust,
                                   Description=r.inputs.get("description", ""),
                                   MaxSessionDuration=int(r.inputs.get("maxSessionDuration", 3600)),
                                   Tags=tags)["Role"]
            return CREATED, name, {"arn": role["Arn"], "uniqueId": role["RoleId"]}
        action = UNCHANGED
        if _policy(role["AssumeRolePolicyDocument"]) != json.loads(trust):
            iam.update_assume_role_policy(RoleName=name, PolicyDocument=trust)
            action = UPDATED
        if _tag_dict(iam.list_role_tags(RoleName=name)["Tags"]) != _tag_dict(tags):
            iam.tag_role(RoleName=name, Tags=tags)
            action = UPDATED
        return action, name, {"arn": role["Arn"], "uniqueId": role["RoleId"]}

    def _inline_policy(self, r: Registered, owner_key: str, get: Callable, put: Callable) -> tuple[str, str, dict]:
        owner, name, document = r.inputs[owner_key], r.inputs["name"], r.inputs["policy"]
        physical_id = f"{owner}:{name}"
        try:
            current = _policy(get(owner, name)["PolicyDocument"])
        except self.clients["iam"].exceptions.NoSuchEntityException:
            current = None
        if current == json.loads(document):
            return UNCHANGED, physical_id, {}
        put(owner, name, document)
        return (CREATED if current is None else UPDATED), physical_id, {}

    def _role_policy(self, r: Registered) -> tuple[str, str, dict]:
        iam = self.clients["iam"]
        return self._inline_policy(
            r, "role", lambda o, n: iam.get_role_policy(RoleName=o, PolicyName=n),
            lambda o, n, d: iam.put_role_policy(RoleName=o, PolicyName=n, PolicyDocument=d))

    def _user_policy(self, r: Registered) -> tuple[str, str, dict]:
        iam = self.clients["iam"]
        return self._inline_policy(
            r, "user", lambda o, n: iam.get_user_policy(UserName=o, PolicyName=n),
            lambda o, n, d: iam.put_user_policy(UserName=o, PolicyName=n, PolicyDocument=d))

    def _role_policy_attachment(self, r: Registered) -> tuple[str, str, dict]:
        iam, role, arn = self.clients["iam"], r.inputs["role"], r.inputs["policyArn"]
        physical_id = f"{role}/{arn}"
        attached = {p["PolicyArn"] for page in iam.get_paginator("list_attached_role_policies").paginate(RoleName=role)
                    for p in page["AttachedPolicies"]}
        if arn in attached:
            return UNCHANGED, physical_id, {}
        iam.attach_role_policy(RoleName=role, PolicyArn=arn)
        return CREATED, physical_id, {}

    # Logs, Backup, CloudTrail --------------------------------------------------------------

    def _log_group(self, r: Registered) -> tuple[str, str, dict]:
        logs, name = self.clients["logs"], r.inputs["name"]
        arn = f"arn:aws:logs:{self.region}:{self.account_id}:log-group:{name}"
        groups = logs.describe_log_groups(logGroupNamePrefix=name)["logGroups"]
        current = next((g for g in groups if g["logGroupName"] == name), None)
        action = UNCHANGED
        if current is None:
            kwargs = {"logGroupName": name, "tags": dict(r.inputs.get("tags") or {})}
            if r.inputs.get("kmsKeyId"):
                kwargs["kmsKeyId"] = r.inputs["kmsKeyId"]
            logs.create_log_group(**kwargs)
            current, action = {}, CREATED
        days = r.inputs.get("retentionInDays")
        if days and current.get("retentionInDays") != days:
            logs.put_retention_policy(logGroupName=name, retentionInDays=int(days))
            action = UPDATED if action == UNCHANGED else action
        return action, name, {"arn": arn}

    def _vault(self, r: Registered) -> tuple[str, str, dict]:
        backup, name = self.clients["backup"], r.inputs["name"]
        try:
            vault = backup.describe_backup_vault(BackupVaultName=name)
            return UNCHANGED, name, {"arn": vault["BackupVaultArn"]}
        except ClientError as exc:
            if exc.response["Error"]["Code"] not in ("ResourceNotFoundException", "AccessDeniedException"):
                raise
        vault = backup.create_backup_vault(BackupVaultName=name, EncryptionKeyArn=r.inputs.get("kmsKeyArn"),
                                           BackupVaultTags=dict(r.inputs.get("tags") or {}))
        return CREATED, name, {"arn": vault["BackupVaultArn"]}

    def _plan(self, r: Registered) -> tuple[str, str, dict]:
        backup, name = self.clients["backup"], r.inputs["name"]
        wanted = {"BackupPlanName": name, "Rules": plan_rules(r.inputs["rules"])}
        existing = next((p for p in backup.list_backup_plans()["BackupPlansList"] if p["BackupPlanName"] == name),
                        None)
        if existing is None:
            plan = backup.create_backup_plan(BackupPlan=wanted, BackupPlanTags=dict(r.inputs.get("tags") or {}))
            return CREATED, plan["BackupPlanId"], {"arn": plan["BackupPlanArn"], "version": plan["VersionId"]}
        plan_id = existing["BackupPlanId"]
        current = backup.get_backup_plan(BackupPlanId=plan_id)
        outputs = {"arn": current["BackupPlanArn"], "version": current["VersionId"]}
        if _plan_rules_equal(current["BackupPlan"]["Rules"], wanted["Rules"]):
            return UNCHANGED, plan_id, outputs
        # NOTE: moto 5.2.5 has no UpdateBackupPlan; the sandbox replaces the plan instead.
        raise SandboxError(f"backup plan {name} differs from the program; run 'pilotctl sandbox down' and up again")

    def _selection(self, r: Registered) -> tuple[str, str, dict]:
        backup, plan_id = self.clients["backup"], r.inputs["planId"]
        body = selection_body(r.inputs)
        listed = backup.list_backup_selections(BackupPlanId=plan_id)["BackupSelectionsList"]
        existing = next((s for s in listed if s["SelectionName"] == body["SelectionName"]), None)
        if existing is not None:
            return UNCHANGED, existing["SelectionId"], {}
        created = backup.create_backup_selection(BackupPlanId=plan_id, BackupSelection=body)
        return CREATED, created["SelectionId"], {}

    def _trail(self, r: Registered) -> tuple[str, str, dict]:
        ct, name = self.clients["cloudtrail"], r.inputs["name"]
        # moto ignores trailNameList and returns every trail, so filter by name here.
        trails = [t for t in ct.describe_trails(trailNameList=[name])["trailList"] if t["Name"] == name]
        settings = {
            "S3BucketName": r.inputs["s3BucketName"],
            "EnableLogFileValidation": bool(r.inputs.get("enableLogFileValidation")),
            "IsMultiRegionTrail": bool(r.inputs.get("isMultiRegionTrail")),
            "IncludeGlobalServiceEvents": bool(r.inputs.get("includeGlobalServiceEvents", True)),
            "KmsKeyId": r.inputs.get("kmsKeyId"),
            "CloudWatchLogsLogGroupArn": r.inputs.get("cloudWatchLogsGroupArn"),
            "CloudWatchLogsRoleArn": r.inputs.get("cloudWatchLogsRoleArn"),
        }
        settings = {k: v for k, v in settings.items() if v is not None}
        selectors = event_selectors(r.inputs.get("eventSelectors") or [])
        if not trails:
            trail = ct.create_trail(Name=name, TagsList=camel_tags(r.inputs.get("tags")), **settings)
            action, arn = CREATED, trail["TrailARN"]
        else:
            action, arn = UNCHANGED, trails[0]["TrailARN"]
        if selectors and ct.get_event_selectors(TrailName=name).get("EventSelectors") != selectors:
            ct.put_event_selectors(TrailName=name, EventSelectors=selectors)
            action = UPDATED if action == UNCHANGED else action
        logging_wanted = r.inputs.get("enableLogging", True)
        if ct.get_trail_status(Name=name)["IsLogging"] != logging_wanted:
            (ct.start_logging if logging_wanted else ct.stop_logging)(Name=name)
            action = UPDATED if action == UNCHANGED else action
        return action, name, {"arn": arn, "homeRegion": self.region}


def _tag_dict(tags: list[Mapping], key: str = "Key", value: str = "Value") -> dict[str, str]:
    return {t[key]: t[value] for t in tags}


def _policy(document: Any) -> Any:
    """IAM returns policy documents URL-encoded or parsed depending on the client; normalise."""
    if isinstance(document, str):
        from urllib.parse import unquote
        return json.loads(unquote(document))
    return document


def _plan_rules_equal(current: list[Mapping], wanted: list[Mapping]) -> bool:
    keys = ("RuleName", "TargetBackupVaultName", "ScheduleExpression", "Lifecycle")
    def project(rules: list[Mapping]) -> list[dict]:
        return sorted(({k: rule.get(k) for k in keys} for rule in rules), key=lambda x: x["RuleName"])
    return project(current) == project(wanted)


def deploy(spec: PilotSpec, endpoint: str) -> DeployResult:
    """Run the program and create or update its resources in the emulator at ``endpoint``."""
    hooks = SandboxHooks(endpoint, spec.region)
    try:
        account = hooks.clients["sts"].get_caller_identity()["Account"]
    except Exception as exc:  # any failure here means the emulator is not usable
        raise SandboxError(f"the emulator at {endpoint} did not respond: {exc}") from exc
    hooks.account_id = account
    resources = run_program(spec, hooks)
    result = DeployResult(customer=spec.customer, endpoint=endpoint, actions=dict(hooks.actions))
    for resource in resources:
        if resource.type == "pilotctl:tenant:PilotTenant":
            result.outputs = {k: v for k, v in resource.outputs.items()}
    log.info("sandbox deploy of %s: %s", spec.customer, dict(result.counts()))
    return result
