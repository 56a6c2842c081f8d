"""The access matrix on small inventories: people, roles, stores, keys and what stays unknown."""

from __future__ import annotations

from pathlib import Path

import pytest
from iam_tenant import (ACCOUNT, KEY_ARN, allow, bucket, bucket_name, deny, inventory, key, log_group, managed,
                        may_assume, policy, role, role_arn, trust_account, user, user_arn)

import datamap.iam.grants as grants
from datamap.access import Assumptions, build_matrix
from datamap.iam.actions import ActionCatalog
from datamap.matrix import AccessMatrix
from infra.capabilities import Capability
from infra.spec import PilotSpec, load_stack_file

S3_READ_ONLY = "arn:aws:iam::aws:policy/AmazonS3ReadOnlyAccess"
READ_ONLY = "arn:aws:iam::aws:policy/ReadOnlyAccess"
POWER_USER = "arn:aws:iam::aws:policy/PowerUserAccess"
V, C, E, D, A = Capability.VIEW, Capability.CHANGE, Capability.EXPORT, Capability.DELETE, Capability.ADMIN


@pytest.fixture(scope="module")
def spec() -> PilotSpec:
    return load_stack_file(Path(__file__).parents[2] / "Pulumi.acme.yaml")


def observer(*attached: str, trust: dict | None = None, person_policy: dict | None = None):
    """Return grace (a person) who may assume an observer role with the given managed policies."""
    return (user("acme-grace.lee", "grace.lee", inline={"assume": person_policy or may_assume("acme-observer")}),
            role("acme-observer", "observer", trust or trust_account(), attached=attached))


def cells(matrix: AccessMatrix, person: str, store: str, status: str = "allow") -> dict[Capability, tuple[str, ...]]:
    return {c.capability: c.actions for c in matrix.cells
            if c.person == person and c.resource_name == store and c.status == status}


def test_s3_read_only_exports(spec):
    matrix = build_matrix(inventory(*observer(S3_READ_ONLY), managed(S3_READ_ONLY), bucket("reports")), spec)
    found = cells(matrix, "grace.lee", "reports")
    assert E in found
    assert "s3:GetObject" in found[E]
    assert V not in found


def test_s3_read_only_views_records(spec):
    matrix = build_matrix(inventory(*observer(S3_READ_ONLY), managed(S3_READ_ONLY), bucket("records")), spec)
    assert "s3:GetObject" in cells(matrix, "grace.lee", "records")[V]
    assert C not in cells(matrix, "grace.lee", "records")


def test_read_only_access_exports(spec):
    matrix = build_matrix(inventory(*observer(READ_ONLY), managed(READ_ONLY), bucket("reports")), spec)
    assert E in matrix.capabilities("grace.lee", "reports")


def test_power_user_not_iam_admin(spec):
    resources = (*observer(POWER_USER), managed(POWER_USER), bucket("records"),
                 user("acme-ana.silva", "ana.silva"))
    matrix = build_matrix(inventory(*resources), spec)
    assert A not in matrix.capabilities("grace.lee", "acme-ana.silva")
    assert A not in matrix.capabilities("grace.lee", "acme-observer")
    assert D in matrix.capabilities("grace.lee", "records")


def test_admin_policy_grants_iam_admin(spec):
    admin = "arn:aws:iam::aws:policy/AdministratorAccess"
    matrix = build_matrix(inventory(*observer(admin), managed(admin), user("acme-ana.silva", "ana.silva")), spec)
    assert A in matrix.capabilities("grace.lee", "acme-ana.silva")


def test_missing_managed_policy_unknown(spec):
    matrix = build_matrix(inventory(*observer(S3_READ_ONLY), bucket("records")), spec)
    unknown = [c for c in matrix.cells if c.person == "grace.lee" and c.resource_name == "records"]
    assert unknown
    assert all(c.status == "unknown" for c in unknown)
    assert any(S3_READ_ONLY in condition for c in unknown for condition in c.unknown_conditions)


def test_missing_policy_keeps_certain_deny(spec):
    blocked = policy(deny("s3:*"))
    resources = (user("acme-grace.lee", "grace.lee", inline={"block": blocked}, attached=(S3_READ_ONLY,)),
                 bucket("records"))
    matrix = build_matrix(inventory(*resources), spec)
    assert [c for c in matrix.cells if c.resource_name == "records"] == []


def test_trust_must_allow_person(spec):
    other = policy({"Effect": "Allow", "Principal": {"AWS": user_arn("acme-someone")}, "Action": "sts:AssumeRole"})
    matrix = build_matrix(inventory(*observer(S3_READ_ONLY, trust=other), managed(S3_READ_ONLY), bucket("records")),
                          spec)
    assert matrix.capabilities("grace.lee", "records") == frozenset()


def test_identity_must_allow_assume(spec):
    matrix = build_matrix(inventory(*observer(S3_READ_ONLY, person_policy=policy(allow("s3:ListAllMyBuckets"))),
                                    managed(S3_READ_ONLY), bucket("records")), spec)
    assert matrix.capabilities("grace.lee", "records") == frozenset()
    assert any(c.person == "" and c.role == "observer" for c in matrix.cells)


def test_mfa_trust_assumed_present(spec):
    matrix = build_matrix(inventory(*observer(S3_READ_ONLY, trust=trust_account(mfa=True)), managed(S3_READ_ONLY),
                                    bucket("records")), spec)
    assert V in matrix.capabilities("grace.lee", "records")
    via = {c.via for c in matrix.cells if c.person == "grace.lee"}
    assert via == {"user acme-grace.lee assumes role acme-observer"}


def test_mfa_trust_without_assumption(spec):
    assumptions = Assumptions(mfa_present=False)
    matrix = build_matrix(inventory(*observer(S3_READ_ONLY, trust=trust_account(mfa=True)), managed(S3_READ_ONLY),
                                    bucket("records")), spec, assumptions)
    assert matrix.capabilities("grace.lee", "records") == frozenset()


def test_bucket_policy_deny(spec):
    protect = policy({"Effect": "Deny", "Principal": "*", "Action": "s3:DeleteObject",
                      "Resource": f"arn:aws:s3:::{bucket_name('records')}/*"})
    admin = "arn:aws:iam::aws:policy/AdministratorAccess"
    matrix = build_matrix(inventory(*observer(admin), managed(admin), bucket("records", protect)), spec)
    assert "s3:DeleteObject" not in cells(matrix, "grace.lee", "records")[D]
    assert "s3:DeleteObjectVersion" in cells(matrix, "grace.lee", "records")[D]


def test_bucket_policy_grants_person(spec):
    grant = policy({"Effect": "Allow", "Principal": {"AWS": user_arn("acme-grace.lee")}, "Action": "s3:GetObject",
                    "Resource": f"arn:aws:s3:::{bucket_name('records')}/*"})
    matrix = build_matrix(inventory(user("acme-grace.lee", "grace.lee"), bucket("records", grant)), spec)
    found = [c for c in matrix.cells if c.person == "grace.lee"]
    assert [(c.capability, c.actions, c.via) for c in found] == [(V, ("s3:GetObject",), "own policies")]
    assert found[0].statements[0].policy == f"bucket {bucket_name('records')} bucket policy"


def test_prefix_grant_counts(spec):
    prefix = policy(allow("s3:GetObject", f"arn:aws:s3:::{bucket_name('records')}/weekly/*"))
    matrix = build_matrix(inventory(user("acme-grace.lee", "grace.lee", inline={"read": prefix}), bucket("records")),
                          spec)
    assert cells(matrix, "grace.lee", "records") == {V: ("s3:GetObject",)}


def test_prefix_deny_leaves_rest(spec):
    read = policy(allow("s3:GetObject", f"arn:aws:s3:::{bucket_name('records')}/*"),
                  deny("s3:GetObject", f"arn:aws:s3:::{bucket_name('records')}/secret/*"))
    matrix = build_matrix(inventory(user("acme-grace.lee", "grace.lee", inline={"read": read}), bucket("records")),
                          spec)
    assert V in matrix.capabilities("grace.lee", "records")


def test_source_ip_unknown(spec):
    office = policy(allow("s3:GetObject", "*", Condition={"IpAddress": {"aws:SourceIp": "203.0.113.0/24"}}))
    matrix = build_matrix(inventory(user("acme-grace.lee", "grace.lee", inline={"office": office}),
                                    bucket("records")), spec)
    unknown = cells(matrix, "grace.lee", "records", status="unknown")
    assert unknown == {V: ("s3:GetObject",)}
    cell = next(c for c in matrix.cells if c.person == "grace.lee")
    assert cell.unknown_conditions == ("aws:SourceIp (IpAddress)",)


def test_unread_bucket_policy_unknown(spec):
    read = policy(allow("s3:GetObject"))
    matrix = build_matrix(inventory(user("acme-grace.lee", "grace.lee", inline={"read": read}),
                                    bucket("records", errors={"Policy": "AccessDenied"})), spec)
    found = [c for c in matrix.cells if c.person == "grace.lee"]
    assert found
    assert {c.status for c in found} == {"unknown"}
    assert any("AccessDenied" in u for c in found for u in c.unknown_conditions)


def test_group_policies_count(spec):
    groups = {"readers": {"InlinePolicies": {"read": policy(allow("s3:GetObject"))}, "AttachedPolicies": []}}
    matrix = build_matrix(inventory(user("acme-grace.lee", "grace.lee", groups=groups), bucket("records")), spec)
    assert cells(matrix, "grace.lee", "records") == {V: ("s3:GetObject",)}


def key_policy(delegate: bool) -> dict:
    admin = {"Effect": "Allow", "Principal": {"AWS": role_arn("acme-key-admin")}, "Action": "kms:*", "Resource": "*"}
    root = {"Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{ACCOUNT}:root"}, "Action": "kms:*",
            "Resource": "*"}
    return policy(admin, root) if delegate else policy(admin)


def test_key_policy_delegates(spec):
    use = policy(allow(["kms:Decrypt", "kms:GenerateDataKey"], KEY_ARN))
    matrix = build_matrix(inventory(user("acme-grace.lee", "grace.lee", inline={"use": use}), key(key_policy(True))),
                          spec)
    found = {c.capability: c.actions for c in matrix.cells if c.person == "grace.lee"}
    assert found == {V: ("kms:Decrypt",), C: ("kms:GenerateDataKey",)}


def test_key_policy_without_delegation(spec):
    use = policy(allow(["kms:Decrypt", "kms:GenerateDataKey"], KEY_ARN))
    matrix = build_matrix(inventory(user("acme-grace.lee", "grace.lee", inline={"use": use}),
                                    key(key_policy(False))), spec)
    assert [c for c in matrix.cells if c.person == "grace.lee"] == []


def test_key_admin_role_cells(spec):
    resources = (role("acme-key-admin", "key-admin", trust_account()), key(key_policy(False)))
    matrix = build_matrix(inventory(*resources), spec)
    admin = [c for c in matrix.cells if c.role == "key-admin" and c.capability is A]
    assert admin
    assert admin[0].person == ""
    assert "kms:PutKeyPolicy" in admin[0].actions


class NewActionCatalog(ActionCatalog):
    """The real catalogue plus one log-group action that the capability table does not list."""

    def _service(self, service: str) -> dict[str, frozenset[str]]:
        actions = dict(super()._service(service))
        if service == "logs":
            actions["logs:PutImaginaryFeature"] = frozenset({"log-group"})
        return actions


def test_unclassified_reported(spec):
    logs = policy(allow("logs:*", "*"))
    matrix = build_matrix(inventory(user("acme-grace.lee", "grace.lee", inline={"logs": logs}),
                                    log_group("app-logs")), spec, catalog=NewActionCatalog())
    assert matrix.unclassified_actions == ("logs:PutImaginaryFeature",)
    assert D in matrix.capabilities("grace.lee", "app-logs")


def test_log_group_arn_forms(spec):
    bare = policy(allow("logs:FilterLogEvents", f"arn:aws:logs:eu-west-1:{ACCOUNT}:log-group:/pilot/acme/app-logs"))
    matrix = build_matrix(inventory(user("acme-grace.lee", "grace.lee", inline={"read": bare}),
                                    log_group("app-logs")), spec)
    assert matrix.capabilities("grace.lee", "app-logs") == frozenset()


def test_log_stream_read(spec):
    streams = policy(allow("logs:GetLogEvents", f"arn:aws:logs:eu-west-1:{ACCOUNT}:log-group:/pilot/acme/app-logs:*"))
    matrix = build_matrix(inventory(user("acme-grace.lee", "grace.lee", inline={"read": streams}),
                                    log_group("app-logs")), spec)
    assert V in matrix.capabilities("grace.lee", "app-logs")


def test_username_variable(spec):
    home = policy(allow("s3:PutObject", f"arn:aws:s3:::{bucket_name('records')}/home/${{aws:username}}/*"))
    resources = (user("acme-grace.lee", "grace.lee", inline={"home": home}),
                 role("acme-recorder", "recorder", trust_account(), inline={"home": home}), bucket("records"))
    matrix = build_matrix(inventory(*resources), spec)
    assert C in matrix.capabilities("grace.lee", "records")
    assert not [c for c in matrix.cells if c.role == "recorder"]


def test_assumptions_recorded(spec):
    matrix = build_matrix(inventory(bucket("records")), spec)
    assert any("aws:SecureTransport is true" in line for line in matrix.assumptions)


def test_untouched_buckets_not_evaluated(spec, monkeypatch):
    calls = []
    original = grants.decide

    def counting(*args, **kwargs):
        calls.append(args[3])
        return original(*args, **kwargs)

    monkeypatch.setattr(grants, "decide", counting)
    read = policy(allow("s3:GetObject", f"arn:aws:s3:::{bucket_name('store-0')}/*"))
    buckets = [bucket(f"store-{i}") for i in range(200)]
    build_matrix(inventory(user("acme-grace.lee", "grace.lee", inline={"read": read}), *buckets), spec)
    assert calls
    assert {arn.split("/")[0] for arn in calls} == {f"arn:aws:s3:::{bucket_name('store-0')}"}
