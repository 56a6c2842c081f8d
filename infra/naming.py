"""Names and ARNs of a tenant's resources, shared by the program, the sandbox and the tests.

Names are fixed (not Pulumi auto-names) so that a buyer's data map, the scanner and
the trail's records all show the same readable name.
"""

from __future__ import annotations


def bucket(customer: str, store: str, account_id: str) -> str:
    """S3 bucket name; the account id makes it globally unique (at most 58 characters)."""
    return f"{customer}-{store}-{account_id}"


def audit_bucket(customer: str, account_id: str) -> str:
    return f"{customer}-audit-{account_id}"


def log_group(customer: str, store: str) -> str:
    return f"/pilot/{customer}/{store}"


def audit_log_group(customer: str) -> str:
    return f"/pilot/{customer}/audit-trail"


def iam_path(customer: str) -> str:
    return f"/pilot/{customer}/"


def role(customer: str, role_name: str) -> str:
    return f"{customer}-{role_name}"


def user(customer: str, person_id: str) -> str:
    return f"{customer}-{person_id}"


def service_role(customer: str, service: str) -> str:
    return f"{customer}-{service}-service"


def key_alias(customer: str) -> str:
    return f"alias/pilot/{customer}"


def backup_vault(customer: str) -> str:
    return f"pilot-{customer}"


def backup_plan(customer: str) -> str:
    return f"pilot-{customer}"


def trail(customer: str) -> str:
    return f"pilot-{customer}"


def bucket_arn(name: str, partition: str = "aws") -> str:
    return f"arn:{partition}:s3:::{name}"


def role_arn(account_id: str, customer: str, name: str, partition: str = "aws") -> str:
    return f"arn:{partition}:iam::{account_id}:role{iam_path(customer)}{name}"


def user_arn(account_id: str, customer: str, name: str, partition: str = "aws") -> str:
    return f"arn:{partition}:iam::{account_id}:user{iam_path(customer)}{name}"


def log_group_arn(region: str, account_id: str, name: str, partition: str = "aws") -> str:
    return f"arn:{partition}:logs:{region}:{account_id}:log-group:{name}"
