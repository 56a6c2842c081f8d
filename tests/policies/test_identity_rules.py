"""Identity rules: user management, one person per user, no outside trust, time-boxed support access."""

from __future__ import annotations

import dataclasses
import datetime as dt

from builders import (
    ACCOUNT, STORE_ARNS, bucket, cell, compliant_cells, context, document, matrix, role,
    secured_tenant, spec, spec_config, statement, tenant_key, user,
)
from infra import naming, tags
from policies.catalog import rule_by_id
from policies.findings import Status

ANA_ARN = naming.user_arn(ACCOUNT, "acme", "acme-ana.silva")
HUGO_ARN = naming.user_arn(ACCOUNT, "acme", "acme-hugo.berg")
RECORDS = "acme-records-111122223333"


def run(rule_id: str, ctx) -> list:
    return rule_by_id(rule_id).evaluate(ctx)


def by_name(findings: list, name: str):
    (found,) = [f for f in findings if f.resource.name == name]
    return found


def secured(*extra, the_matrix=None, errors=(), the_spec=None, **replace):
    options = {"the_matrix": the_matrix} if the_matrix is not None else {}
    if the_spec is not None:
        options["the_spec"] = the_spec
    return context(secured_tenant(*extra, replace=replace), errors=errors, **options)


# PILOT-IDN-001 user management

def admin_cell(person: str, target: str, role_name: str, status: str = "allow"):
    found = cell(person, "records", "admin", status=status, role_name=role_name, sid="ManageTenantPeople")
    return dataclasses.replace(found, resource_arn=naming.user_arn(ACCOUNT, "acme", target), resource_name=target)


def test_user_management_admin_role_passes():
    ctx = secured(the_matrix=matrix(*compliant_cells(), admin_cell("hugo.berg", "acme-ana.silva", "it-admin")))
    (finding,) = run("PILOT-IDN-001", ctx)

    assert finding.status is Status.PASS
    assert "can manage the users and roles of tenant acme (1 admin grants checked)" in finding.message


def test_user_management_by_recorder_fails():
    ctx = secured(the_matrix=matrix(*compliant_cells(), admin_cell("ana.silva", "acme-hugo.berg", "recorder")))
    (finding,) = run("PILOT-IDN-001", ctx)

    assert finding.status is Status.FAIL
    assert finding.resource.arn == HUGO_ARN
    assert "Person ana.silva (role recorder) has admin on acme-hugo.berg" in finding.message


def test_user_management_ignores_store_admin():
    store_admin = cell("ana.silva", "records", "admin")
    (finding,) = run("PILOT-IDN-001", secured(the_matrix=matrix(*compliant_cells(), store_admin)))

    assert finding.status is Status.PASS


def test_user_management_undecided_unknown():
    ctx = secured(the_matrix=matrix(admin_cell("grace.lee", "acme-ana.silva", "reporting", status="unknown")))
    (finding,) = run("PILOT-IDN-001", ctx)

    assert finding.status is Status.UNKNOWN


def test_user_management_without_matrix_unknown():
    (finding,) = run("PILOT-IDN-001", context(secured_tenant(), the_matrix=None))

    assert finding.status is Status.UNKNOWN
    assert "no access matrix" in finding.message


# PILOT-IDN-002 one person per user

def test_users_one_person_each_pass():
    findings = run("PILOT-IDN-002", secured())

    assert len(findings) == 3
    assert {f.status for f in findings} == {Status.PASS}
    assert by_name(findings, "acme-ana.silva").message == "User acme-ana.silva belongs to Ana Silva (ana.silva) alone."


def test_user_without_person_fails():
    ctx = secured(user("", name="acme-ops"), the_matrix=matrix(
        *compliant_cells(), cell("", "records", "view", principal=naming.user_arn(ACCOUNT, "acme", "acme-ops"))))
    finding = by_name(run("PILOT-IDN-002", ctx), "acme-ops")

    assert finding.status is Status.FAIL
    assert "carries no pilot:person tag, so nobody answers for what it does, and it has view on records" \
        in finding.message


def test_person_with_two_users_fails():
    second = user("ana.silva", name="acme-ana-2")
    findings = run("PILOT-IDN-002", secured(second))

    assert by_name(findings, "acme-ana-2").status is Status.FAIL
    assert by_name(findings, "acme-ana.silva").status is Status.FAIL
    assert "Person ana.silva has 2 users (acme-ana.silva, acme-ana-2)" in by_name(findings, "acme-ana-2").message


def test_shared_person_tag_fails():
    shared = user("ana.silva,ben.okafor", name="acme-shared")
    finding = by_name(run("PILOT-IDN-002", secured(shared)), "acme-shared")

    assert finding.status is Status.FAIL
    assert "looks like several people in one tag" in finding.message


def test_person_not_in_spec_fails():
    finding = by_name(run("PILOT-IDN-002", secured(user("mallory"))), "acme-mallory")

    assert finding.status is Status.FAIL
    assert "who is not in the pilot spec" in finding.message


def test_users_without_spec_unknown():
    findings = run("PILOT-IDN-002", context(secured_tenant(), the_spec=None))

    assert {f.status for f in findings} == {Status.UNKNOWN}


def test_users_unlisted_unknown():
    findings = run("PILOT-IDN-002", secured(errors=["iam:ListUsers: AccessDenied"]))

    assert [f.status for f in findings].count(Status.UNKNOWN) == 1
    assert "iam:ListUsers: AccessDenied" in findings[0].message


# PILOT-IDN-003 no principal outside the tenant

def trust(principal, **extra):
    return document(statement("Trust", "sts:AssumeRole", "*", Principal=principal, **extra))


def outside(resource):
    """Return the finding for ``resource`` among those of the secured tenant plus it."""
    return by_name(run("PILOT-IDN-003", secured(resource)), resource.name)


def test_outside_trust_program_passes():
    findings = run("PILOT-IDN-003", secured())

    assert len(findings) == 7  # three roles, three buckets, one key
    assert {f.status for f in findings} == {Status.PASS}
    assert by_name(findings, "alias/pilot/acme").observed == \
        f"account root {ACCOUNT}, service cloudtrail.amazonaws.com, service logs.eu-west-1.amazonaws.com"
    assert by_name(findings, RECORDS).observed == "no Allow statement"


def test_outside_account_trusted_fails():
    finding = outside(role("partner", trust=trust({"AWS": "arn:aws:iam::444455556666:root"})))

    assert finding.status is Status.FAIL
    assert "admits arn:aws:iam::444455556666:root" in finding.message


def test_outside_star_bucket_grant_fails():
    public = document(statement("Public", "s3:GetObject", f"{STORE_ARNS['records']}/*", Principal="*"))
    finding = by_name(run("PILOT-IDN-003", secured(records=bucket("records", policy=public))), RECORDS)

    assert finding.status is Status.FAIL
    assert "admits any principal of another account" in finding.message


def test_outside_star_same_account_fails():
    account_wide = trust("*", Condition={"StringEquals": {"aws:PrincipalAccount": ACCOUNT}})
    finding = outside(role("wide", trust=account_wide))

    assert finding.status is Status.FAIL
    assert f"admits any principal of account {ACCOUNT} outside the tenant" in finding.message
    assert "another account" not in finding.message


def test_outside_star_tenant_path_passes():
    scoped = trust("*", Condition={"ArnLike": {"aws:PrincipalArn": f"arn:aws:iam::{ACCOUNT}:user/pilot/acme/*"}})
    finding = outside(role("scoped", trust=scoped))

    assert finding.status is Status.PASS


def test_outside_star_org_condition_unknown():
    org = trust("*", Condition={"StringEquals": {"aws:PrincipalOrgID": "o-example"}})
    finding = outside(role("org", trust=org))

    assert finding.status is Status.UNKNOWN
    assert "may admit any principal of another account" in finding.message


def test_outside_federated_fails():
    finding = outside(role("ci", trust=document(statement(
        "Ci", "sts:AssumeRoleWithWebIdentity", "*",
        Principal={"Federated": f"arn:aws:iam::{ACCOUNT}:oidc-provider/token.actions.githubusercontent.com"}))))

    assert finding.status is Status.FAIL
    assert "names Federated principal" in finding.message


def test_outside_other_principal_in_account_fails():
    finding = outside(role("peek", trust=trust({"AWS": f"arn:aws:iam::{ACCOUNT}:role/other-team"})))

    assert finding.status is Status.FAIL
    assert f"admits arn:aws:iam::{ACCOUNT}:role/other-team" in finding.message


def test_outside_deleted_principal_passes():
    finding = outside(role("old", trust=trust({"AWS": "AIDAJQABLZS4A3QDU576Q"})))

    assert finding.status is Status.PASS
    assert "deleted principal AIDAJQABLZS4A3QDU576Q" in finding.message


def test_outside_key_policy_unread_unknown():
    key = tenant_key()
    unread = dataclasses.replace(key, attributes={k: v for k, v in key.attributes.items() if k != "Policy"},
                                 errors={"Policy": "AccessDenied"})
    finding = by_name(run("PILOT-IDN-003", secured(key=unread)), "alias/pilot/acme")

    assert finding.status is Status.UNKNOWN
    assert "AccessDenied" in finding.message


def test_outside_invalid_trust_unknown():
    finding = outside(role("broken", trust={"Version": "2012-10-17", "Statement": [{"Effect": "Allow"}]}))

    assert finding.status is Status.UNKNOWN
    assert "cannot be judged" in finding.message


# PILOT-IDN-004 support access time-boxed

def support_role(condition=None):
    principal = {"AWS": naming.user_arn(ACCOUNT, "acme", "acme-hugo.berg")}
    extra = {"Condition": condition} if condition else {}
    return role("support", trust=trust(principal, **extra))


def with_support():
    config = spec_config()
    config["roles"] = config["roles"] + [{"name": "support", "capabilities": ["view"]}]
    return spec(roles=config["roles"])


def test_support_none_passes():
    (finding,) = run("PILOT-IDN-004", secured())

    assert finding.status is Status.PASS
    assert "has no support role" in finding.message


def test_support_time_boxed_passes():
    deadline = spec().data_deleted_by  # 2027-04-09 + 30 days
    boxed = support_role({"DateLessThan": {"aws:CurrentTime": f"{deadline.isoformat()}T23:59:59Z"}})
    (finding,) = run("PILOT-IDN-004", secured(boxed, the_spec=with_support()))

    assert deadline == dt.date(2027, 5, 9)
    assert finding.status is Status.PASS
    assert "Nobody can assume role acme-support after 2027-05-09" in finding.message


def test_support_epoch_time_passes():
    end = int(dt.datetime(2027, 5, 1, tzinfo=dt.timezone.utc).timestamp())
    (finding,) = run("PILOT-IDN-004", secured(support_role({"NumericLessThan": {"aws:EpochTime": str(end)}})))

    assert finding.status is Status.PASS


def test_support_open_ended_fails():
    (finding,) = run("PILOT-IDN-004", secured(support_role()))

    assert finding.status is Status.FAIL
    assert "has no aws:CurrentTime or aws:EpochTime condition" in finding.message
    assert '"aws:CurrentTime": "2027-05-10T00:00:00Z"' in finding.fix


def test_support_too_late_fails():
    late = support_role({"DateLessThan": {"aws:CurrentTime": "2028-01-01T00:00:00Z"}})
    (finding,) = run("PILOT-IDN-004", secured(late))

    assert finding.status is Status.FAIL
    assert "still allows access after 2027-05-09" in finding.message


def test_support_without_spec_unknown():
    boxed = support_role({"DateLessThan": {"aws:CurrentTime": "2027-05-01T00:00:00Z"}})
    (finding,) = run("PILOT-IDN-004", context(secured_tenant(boxed), the_spec=None))

    assert finding.status is Status.UNKNOWN
    assert "without a pilot spec the deadline is unknown" in finding.message


def test_support_trust_unread_unknown():
    listed = role("support", errors={"AssumeRolePolicyDocument": "AccessDenied"})
    unread = dataclasses.replace(listed, attributes={k: v for k, v in listed.attributes.items()
                                                     if k != "AssumeRolePolicyDocument"})
    (finding,) = run("PILOT-IDN-004", secured(unread))

    assert finding.status is Status.UNKNOWN
    assert "AccessDenied" in finding.message


def test_support_role_found_by_tag():
    tagged = support_role()
    renamed = dataclasses.replace(tagged, name="vendor-helpdesk", tags={tags.CUSTOMER: "acme", tags.ROLE: "support"})
    (finding,) = run("PILOT-IDN-004", secured(renamed))

    assert finding.resource.name == "vendor-helpdesk"
    assert finding.status is Status.FAIL



def test_support_one_second_late_fails():
    late = support_role({"DateLessThan": {"aws:CurrentTime": "2027-05-10T00:00:01Z"}})
    (finding,) = run("PILOT-IDN-004", secured(late))

    assert finding.status is Status.FAIL


def test_outside_star_in_list_fails():
    finding = outside(role("mixed", trust=trust({"AWS": [HUGO_ARN, "*"]})))

    assert finding.status is Status.FAIL
    assert "admits any principal of another account" in finding.message
