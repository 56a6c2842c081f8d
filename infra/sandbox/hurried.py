"""Build the globex demo tenant by hand, the way a team in a hurry would, without the program.

The scanner and checks must work on accounts pilotctl did not create. This tenant is
tagged the way the scanner expects, and carries four defects the checks must flag:

1. the observer role has the AWS managed policy AmazonS3ReadOnlyAccess, which can read
   the exports bucket (export, not view);
2. the sales bucket's only lifecycle rule has a prefix filter, so most objects never expire;
3. the exports bucket is versioned with no noncurrent-version expiration, so overwritten
   and deleted reports stay forever;
4. the log group has no retention, so events stay forever.
"""

from __future__ import annotations

import json
import logging

import boto3
from botocore.exceptions import ClientError

from infra import naming, tags
from infra.documents import assume_own_role_policy, role_trust_policy
from infra.spec import PilotSpec

log = logging.getLogger(__name__)

S3_READ_ONLY = "arn:aws:iam::aws:policy/AmazonS3ReadOnlyAccess"


def _tags(spec: PilotSpec, **extra: str) -> list[dict[str, str]]:
    values = {tags.CUSTOMER: spec.customer, **extra}
    return [{"Key": k, "Value": v} for k, v in sorted(values.items())]


def build_hurried_tenant(spec: PilotSpec, endpoint: str) -> dict[str, str]:
    """Create the tenant in the emulator at ``endpoint``; return {store name: bucket or group name}.

    Safe to run twice: resources that exist are left as they are.
    """
    session = boto3.session.Session(aws_access_key_id="testing", aws_secret_access_key="testing",
                                     region_name=spec.region)
    s3, iam, logs = (session.client(name, endpoint_url=endpoint) for name in ("s3", "iam", "logs"))
    account = session.client("sts", endpoint_url=endpoint).get_caller_identity()["Account"]

    names: dict[str, str] = {}
    for store in spec.stores:
        store_tags = _tags(spec, **{tags.STORE: store.name, tags.CLASSIFICATION: store.classification,
                                    tags.RETENTION_DAYS: str(store.retention_days),
                                    tags.PILOT_END: spec.end.isoformat()})
        if store.kind == "log_group":
            group = f"/{spec.customer}/{store.name}"
            try:
                logs.create_log_group(logGroupName=group, tags={t["Key"]: t["Value"] for t in store_tags})
            except logs.exceptions.ResourceAlreadyExistsException:
                pass
            names[store.name] = group  # defect 4: no put_retention_policy
            continue
        bucket = f"{spec.customer}-{store.name}-{account}"
        try:
            s3.create_bucket(Bucket=bucket, CreateBucketConfiguration={"LocationConstraint": spec.region})
        except ClientError as exc:
            if exc.response["Error"]["Code"] != "BucketAlreadyOwnedByYou":
                raise
        s3.put_bucket_tagging(Bucket=bucket, Tagging={"TagSet": store_tags})
        s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
        s3.put_bucket_encryption(Bucket=bucket, ServerSideEncryptionConfiguration={
            "Rules": [{"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"}}]})
        if store.holds_exports:
            # Defect 3: versioned, but nothing expires noncurrent versions.
            rule = {"ID": "expire-reports", "Status": "Enabled", "Filter": {},
                    "Expiration": {"Days": store.retention_days}}
        else:
            # Defect 2: the only rule covers keys under uploads/ and nothing else.
            rule = {"ID": "expire-uploads", "Status": "Enabled", "Filter": {"Prefix": "uploads/"},
                    "Expiration": {"Days": store.retention_days},
                    "NoncurrentVersionExpiration": {"NoncurrentDays": 1}}
        s3.put_bucket_lifecycle_configuration(Bucket=bucket, LifecycleConfiguration={"Rules": [rule]})
        names[store.name] = bucket

    user_arns: dict[str, str] = {}
    for person in spec.people:
        name = f"{spec.customer}-{person.id}"
        try:
            user = iam.create_user(UserName=name, Tags=_tags(spec, **{tags.PERSON: person.id}))["User"]
        except iam.exceptions.EntityAlreadyExistsException:
            user = iam.get_user(UserName=name)["User"]
        user_arns[person.id] = user["Arn"]

    for role in spec.roles:
        name = naming.role(spec.customer, role.name)
        members = [user_arns[p.id] for p in spec.people_in(role.name)]
        try:
            created = iam.create_role(RoleName=name, AssumeRolePolicyDocument=json.dumps(role_trust_policy(members)),
                                      Tags=_tags(spec, **{tags.ROLE: role.name}))["Role"]
        except iam.exceptions.EntityAlreadyExistsException:
            created = iam.get_role(RoleName=name)["Role"]
        if role.name == "observer":
            iam.attach_role_policy(RoleName=name, PolicyArn=S3_READ_ONLY)  # defect 1
        else:
            iam.put_role_policy(RoleName=name, PolicyName="analyst-access", PolicyDocument=json.dumps({
                "Version": "2012-10-17",
                "Statement": [
                    {"Sid": "ListSales", "Effect": "Allow", "Action": ["s3:ListBucket"],
                     "Resource": [f"arn:aws:s3:::{names['sales']}"]},
                    {"Sid": "ReadWriteSales", "Effect": "Allow", "Action": ["s3:GetObject", "s3:PutObject"],
                     "Resource": [f"arn:aws:s3:::{names['sales']}/*"]},
                ]}))
        for person in spec.people_in(role.name):
            iam.put_user_policy(UserName=f"{spec.customer}-{person.id}", PolicyName="assume-role",
                                PolicyDocument=json.dumps(assume_own_role_policy(created["Arn"])))
    log.info("hand-built tenant %s: %d stores, %d people", spec.customer, len(names), len(user_arns))
    return names
