"""Hand-built pilot tenants for fleet tests and the fleet benchmark: a few boto3 calls per resource.

A tenant built here is smaller than one the Pulumi program deploys, but every resource
carries the ``pilot:customer`` tag, so a scan finds it. With the default ``Shape`` a
tenant has 17 resources: 3 buckets, 6 users, 3 roles, 1 customer managed policy, 1 KMS
key, 2 log groups and 1 backup vault.

Accounts: moto 5.2.5 maps a request to an account by its access key. Credentials that
``sts:AssumeRole`` returns belong to the account in the role ARN, so ``account_session``
reaches any 12-digit account of one emulator.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

import boto3

from infra import tags

DEFAULT_ACCOUNT = "123456789012"  # moto's account for credentials it does not know
REGION = "us-east-1"


@dataclass(frozen=True)
class Shape:
    """How many resources of each kind a hand-built tenant gets."""

    buckets: int = 3
    people: int = 6
    roles: int = 3
    log_groups: int = 2

    @property
    def resources(self) -> int:
        return self.buckets + self.people + self.roles + self.log_groups + 3  # policy, key, vault


SMALL = Shape(buckets=2, people=2, roles=1, log_groups=1)
TINY = Shape(buckets=1, people=1, roles=1, log_groups=1)


def base_session(region: str = REGION) -> boto3.Session:
    """Return a session with the fake credentials that moto maps to DEFAULT_ACCOUNT."""
    return boto3.Session(aws_access_key_id="testing", aws_secret_access_key="testing", region_name=region)


def account_session(endpoint: str, account_id: str, region: str = REGION) -> boto3.Session:
    """Return a session whose calls land in ``account_id``, by assuming a role there."""
    sts = base_session(region).client("sts", endpoint_url=endpoint)
    credentials = sts.assume_role(RoleArn=f"arn:aws:iam::{account_id}:role/fleet-setup",
                                  RoleSessionName="fleet-setup")["Credentials"]
    return boto3.Session(aws_access_key_id=credentials["AccessKeyId"],
                         aws_secret_access_key=credentials["SecretAccessKey"],
                         aws_session_token=credentials["SessionToken"], region_name=region)


class TenantBuilder:
    """Builder of hand-built tenants in one account, with its clients created once."""

    def __init__(self, session: boto3.Session, endpoint: str, account_id: str):
        self.account_id = account_id
        self.s3, self.iam, self.kms, self.logs, self.backup = (
            session.client(name, endpoint_url=endpoint) for name in ("s3", "iam", "kms", "logs", "backup"))

    def build(self, customer: str, shape: Shape = Shape()) -> dict[str, list[str]]:
        """Create one tenant; return kind -> names of what was created."""
        tag_list = [{"Key": tags.CUSTOMER, "Value": customer}]
        created: dict[str, list[str]] = {"buckets": [], "users": [], "roles": [], "log_groups": []}

        for index in range(shape.buckets):
            name = f"{customer}-store{index}-{self.account_id}"
            self.s3.create_bucket(Bucket=name)
            self.s3.put_bucket_tagging(Bucket=name, Tagging={"TagSet": tag_list + [
                {"Key": tags.STORE, "Value": f"store{index}"}]})
            self.s3.put_bucket_versioning(Bucket=name, VersioningConfiguration={"Status": "Enabled"})
            self.s3.put_bucket_lifecycle_configuration(Bucket=name, LifecycleConfiguration={"Rules": [
                {"ID": "retention", "Status": "Enabled", "Filter": {"Prefix": ""}, "Expiration": {"Days": 90},
                 "NoncurrentVersionExpiration": {"NoncurrentDays": 30}}]})
            created["buckets"].append(name)

        policy = self.iam.create_policy(PolicyName=f"{customer}-read", Tags=tag_list, PolicyDocument=json.dumps({
            "Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "s3:GetObject",
                                                    "Resource": f"arn:aws:s3:::{customer}-*/*"}]}))
        trust = json.dumps({"Version": "2012-10-17", "Statement": [{
            "Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{self.account_id}:root"},
            "Action": "sts:AssumeRole"}]})
        for index in range(shape.roles):
            name = f"{customer}-role{index}"
            self.iam.create_role(RoleName=name, AssumeRolePolicyDocument=trust,
                                 Tags=tag_list + [{"Key": tags.ROLE, "Value": f"role{index}"}])
            self.iam.attach_role_policy(RoleName=name, PolicyArn=policy["Policy"]["Arn"])
            created["roles"].append(name)
        for index in range(shape.people):
            name = f"{customer}-person{index}"
            self.iam.create_user(UserName=name, Tags=tag_list + [{"Key": tags.PERSON, "Value": f"person{index}"}])
            created["users"].append(name)

        self.kms.create_key(Description=f"{customer} key", Tags=[{"TagKey": tags.CUSTOMER, "TagValue": customer}])
        for index in range(shape.log_groups):
            name = f"/pilot/{customer}/log{index}"
            self.logs.create_log_group(logGroupName=name, tags={tags.CUSTOMER: customer})
            self.logs.put_retention_policy(logGroupName=name, retentionInDays=30)
            created["log_groups"].append(name)
        self.backup.create_backup_vault(BackupVaultName=f"{customer}-vault", BackupVaultTags={tags.CUSTOMER: customer})
        return created
