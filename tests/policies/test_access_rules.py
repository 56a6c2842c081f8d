"""Access rules: capabilities within the spec, and no wildcards in the tenant's own policies."""

from __future__ import annotations

from builders import (
    ACCOUNT, STORE_ARNS, cell, compliant_cells, context, document, managed_policy, matrix, role, statement, tenant,
    user,
)
from policies.catalog import rule_by_id
from policies.findings import Status


def run(rule_id: str, ctx) -> list:
    return rule_by_id(rule_id).evaluate(ctx)


def not_passing(findings: list) -> list:
    return [f for f in findings if f.status is not Status.PASS]


# PILOT-ACC-001 people within their role

def test_people_within_roles_pass():
    findings = run("PILOT-ACC-001", context())

    assert len(findings) == 9  # three people times three stores
    assert {f.status for f in findings} == {Status.PASS}


def test_person_beyond_role_fails():
    ctx = context(the_matrix=matrix(*compliant_cells(), cell("ana.silva", "records", "delete", sid="OopsDelete")))
    (finding,) = not_passing(run("PILOT-ACC-001", ctx))

    assert finding.status is Status.FAIL
    assert finding.resource.arn == STORE_ARNS["records"]
    assert "Ana Silva (ana.silva) has delete on store records" in finding.message
    assert "role recorder declares only change, view" in finding.message
    assert "role policy access statement OopsDelete (Allow)" in finding.message


def test_person_not_in_spec_fails():
    ctx = context(the_matrix=matrix(*compliant_cells(), cell("mallory", "records", "view")))
    (finding,) = not_passing(run("PILOT-ACC-001", ctx))

    assert finding.status is Status.FAIL
    assert "Person mallory is not in the pilot spec" in finding.message


def test_undecided_extra_capability_unknown():
    undecided = cell("grace.lee", "records", "delete", status="unknown", conditions=["aws:SourceIp (IpAddress)"])
    (finding,) = not_passing(run("PILOT-ACC-001", context(the_matrix=matrix(*compliant_cells(), undecided))))

    assert finding.status is Status.UNKNOWN
    assert "aws:SourceIp (IpAddress)" in finding.message


def test_undecided_declared_capability_passes():
    undecided = cell("ana.silva", "records", "change", status="unknown")
    findings = run("PILOT-ACC-001", context(the_matrix=matrix(cell("ana.silva", "records", "view"), undecided)))

    assert not not_passing(findings)


def test_unclassified_actions_unknown():
    ctx = context(the_matrix=matrix(*compliant_cells(), unclassified=["s3:NewFancyAction"]))
    (finding,) = not_passing(run("PILOT-ACC-001", ctx))

    assert finding.status is Status.UNKNOWN
    assert "s3:NewFancyAction" in finding.message


def test_people_rule_needs_spec_and_matrix():
    (no_spec,) = run("PILOT-ACC-001", context(the_spec=None))
    (no_matrix,) = run("PILOT-ACC-001", context(the_matrix=None))

    assert no_spec.status is Status.UNKNOWN
    assert "no pilot spec" in no_spec.message
    assert no_matrix.status is Status.UNKNOWN
    assert "no access matrix" in no_matrix.message


# PILOT-ACC-002/003/004 high-risk capabilities only where declared

def test_declared_capabilities_pass():
    for rule_id in ("PILOT-ACC-002", "PILOT-ACC-003", "PILOT-ACC-004"):
        (finding,) = run(rule_id, context())
        assert finding.status is Status.PASS, rule_id


def test_role_with_undeclared_export_fails():
    ctx = context(the_matrix=matrix(*compliant_cells(), cell("", "reports", "export", role_name="recorder")))
    (finding,) = run("PILOT-ACC-002", ctx)

    assert finding.status is Status.FAIL
    assert finding.message.startswith("Role recorder has export on reports")


def test_person_with_undeclared_admin_fails():
    ctx = context(the_matrix=matrix(*compliant_cells(), cell("ana.silva", "kms-key", "admin")))
    (finding,) = run("PILOT-ACC-004", ctx)

    assert finding.status is Status.FAIL
    assert "person ana.silva (role recorder)" in finding.message.lower()


def test_role_not_in_spec_fails():
    ctx = context(the_matrix=matrix(cell("", "records", "delete", role_name="cleaner")))
    (finding,) = run("PILOT-ACC-003", ctx)

    assert finding.status is Status.FAIL
    assert finding.message.startswith("Role cleaner (not declared in the pilot spec) has delete on records")


def test_unmapped_principal_unknown():
    service = f"arn:aws:iam::{ACCOUNT}:role/pilot/acme/service/acme-backup-service"
    ctx = context(the_matrix=matrix(cell("", "records", "export", principal=service)))
    (finding,) = run("PILOT-ACC-002", ctx)

    assert finding.status is Status.UNKNOWN
    assert "(neither a spec person nor a spec role) may have export on records" in finding.message


def test_undecided_undeclared_capability_unknown():
    ctx = context(the_matrix=matrix(cell("ana.silva", "records", "delete", status="unknown")))
    (finding,) = run("PILOT-ACC-003", ctx)

    assert finding.status is Status.UNKNOWN


def test_capability_rule_needs_matrix():
    (finding,) = run("PILOT-ACC-003", context(the_matrix=None))

    assert finding.status is Status.UNKNOWN


# PILOT-ACC-005 wildcards

RECORDS_ARN = STORE_ARNS["records"]
LOG_ARN = STORE_ARNS["app-logs"]
PROGRAM_POLICY = document(
    statement("RecordsBucket", ["s3:ListBucket"], [RECORDS_ARN]),
    statement("RecordsObject", ["s3:GetObject", "s3:PutObject"], [f"{RECORDS_ARN}/*"]),
    statement("AppLogsStream", ["logs:PutLogEvents"], [f"{LOG_ARN}:log-stream:*"]),
    statement("ManageTenantPeople", ["iam:GetUser"], [f"arn:aws:iam::{ACCOUNT}:user/pilot/acme/*"]),
    statement("DenyEverything", "*", "*", effect="Deny"),
)


def test_program_shaped_policy_passes():
    ctx = context(tenant(role("recorder", {"access": PROGRAM_POLICY})))
    (finding,) = run("PILOT-ACC-005", ctx)

    assert finding.status is Status.PASS
    assert finding.resource.name == "role acme-recorder inline policy access"


def test_wildcards_fail():
    bad = document(statement("Everything", "s3:*", RECORDS_ARN),
                   statement("AnyResource", ["s3:GetObject"], "*"),
                   statement("OtherBuckets", ["s3:GetObject"], ["arn:aws:s3:::acme-*"]),
                   statement("Guess", ["s3:Get?bject"], [RECORDS_ARN]),
                   {"Sid": "AllBut", "Effect": "Allow", "NotAction": "iam:*", "NotResource": RECORDS_ARN})
    (finding,) = run("PILOT-ACC-005", context(tenant(role("recorder", {"access": bad}))))

    assert finding.status is Status.FAIL
    assert finding.evidence == (
        "statement Everything allows the wildcard action s3:*",
        "statement AnyResource allows every resource (*)",
        "statement OtherBuckets allows the wildcard resource arn:aws:s3:::acme-*",
        "statement Guess allows the wildcard action s3:Get?bject",
        "statement AllBut uses NotAction, which allows every action it does not list",
        "statement AllBut uses NotResource, which allows every resource it does not list",
    )


def test_bucket_name_wildcard_is_not_scoped():
    sneaky = document(statement("Prefix", ["s3:GetObject"], [f"{RECORDS_ARN}*"]))
    (finding,) = run("PILOT-ACC-005", context(tenant(role("recorder", {"access": sneaky}))))

    assert finding.status is Status.FAIL


def test_scoped_forms_are_a_parameter():
    strict = rule_by_id("PILOT-ACC-005").with_parameters(scoped_forms=())
    (finding,) = strict.evaluate(context(tenant(role("recorder", {"access": PROGRAM_POLICY}))))

    assert finding.status is Status.FAIL
    assert len(finding.evidence) == 3


def test_user_group_and_managed_policies_checked():
    wild = document(statement("All", "*", "*"))
    resources = tenant(user("ana.silva", group_policies={"editors": {"InlinePolicies": {"edit": wild}}}),
                       managed_policy("acme-custom", wild),
                       managed_policy("AdministratorAccess", wild,
                                      arn="arn:aws:iam::aws:policy/AdministratorAccess"))
    findings = run("PILOT-ACC-005", context(resources))

    assert sorted(f.resource.name for f in findings) == [
        "managed policy acme-custom document", "user acme-ana.silva group editors inline policy edit"]
    assert {f.status for f in findings} == {Status.FAIL}


def test_string_document_parsed():
    text = '{"Version": "2012-10-17", "Statement": {"Effect": "Allow", "Action": "s3:*", "Resource": "*"}}'
    (finding,) = run("PILOT-ACC-005", context(tenant(role("recorder", {"access": text}))))

    assert finding.status is Status.FAIL


def test_unread_or_malformed_policies_unknown():
    unread = role("reporting", errors={"InlinePolicies": "AccessDenied"})
    malformed = role("recorder", {"access": {"Version": "2012-10-17"}})
    findings = run("PILOT-ACC-005", context(tenant(unread, malformed)))

    assert {f.status for f in findings} == {Status.UNKNOWN}
    assert len(findings) == 2


def test_capability_rule_person_not_in_spec_fails():
    (finding,) = run("PILOT-ACC-003", context(the_matrix=matrix(cell("mallory", "records", "delete"))))

    assert finding.status is Status.FAIL
    assert finding.message.startswith("Person mallory (not in the pilot spec) has delete on records")


def test_unreadable_policy_records_unknown():
    from datamap.inventory import Resource

    group_error = user("ana.silva")
    group_error = Resource(kind="iam_user", arn=group_error.arn, name=group_error.name, tags=group_error.tags,
                           attributes={**group_error.attributes}, errors={"GroupPolicies": "AccessDenied"})
    unread_managed = Resource(kind="iam_policy", arn=f"arn:aws:iam::{ACCOUNT}:policy/p", name="p",
                              errors={"Document": "AccessDenied"})
    bad_json = role("recorder", {"access": "{not json"})
    not_a_list = role("reporting", {"access": {"Statement": "Allow everything"}})
    findings = run("PILOT-ACC-005", context(tenant(group_error, unread_managed, bad_json, not_a_list)))

    unknown = sorted(f.resource.name for f in findings if f.status is Status.UNKNOWN)
    assert unknown == ["managed policy p document", "role acme-recorder inline policy access",
                       "role acme-reporting inline policy access", "user acme-ana.silva group policies"]


def test_unlisted_iam_unknown():
    findings = run("PILOT-ACC-005", context(tenant(), errors=["iam:ListRoles: AccessDenied"]))

    assert [f.status for f in findings] == [Status.UNKNOWN]
    assert "could not list every IAM principal and policy" in findings[0].message


SERVICE_ROLE = "acme-backup-service"
SERVICE_ARN = f"arn:aws:iam::{ACCOUNT}:role/pilot/acme/{SERVICE_ROLE}"


def service_trust(principal) -> dict:
    return document({"Sid": "Assume", "Effect": "Allow", "Principal": principal, "Action": "sts:AssumeRole"})


def service_context(trust):
    resources = tenant(role("", trust=trust, full_name=SERVICE_ROLE))
    return context(resources, the_matrix=matrix(*compliant_cells(),
                                                cell("", "records", "export", principal=SERVICE_ARN)))


def test_service_only_role_not_counted():
    (finding,) = run("PILOT-ACC-002", service_context(service_trust({"Service": "backup.amazonaws.com"})))

    assert finding.status is Status.PASS
    assert finding.evidence == ("service role acme-backup-service",)


def test_role_people_can_assume_is_counted():
    people_trust = service_trust({"Service": "backup.amazonaws.com",
                                  "AWS": f"arn:aws:iam::{ACCOUNT}:user/pilot/acme/acme-ana.silva"})
    (finding,) = run("PILOT-ACC-002", service_context(people_trust))

    assert finding.status is Status.UNKNOWN


def test_service_role_exemption_is_a_parameter():
    strict = rule_by_id("PILOT-ACC-002").with_parameters(exempt_service_roles=False)
    (finding,) = strict.evaluate(service_context(service_trust({"Service": "backup.amazonaws.com"})))

    assert finding.status is Status.UNKNOWN


def test_service_role_with_unreadable_trust_counted():
    (wildcard,) = run("PILOT-ACC-002", service_context(service_trust("*")))
    (missing,) = run("PILOT-ACC-002", service_context(None))
    not_principal = document({"Effect": "Allow", "NotPrincipal": {"AWS": "x"}, "Principal": {"Service": "s"},
                              "Action": "sts:AssumeRole"})
    (excluded,) = run("PILOT-ACC-002", service_context(not_principal))

    assert wildcard.status is Status.UNKNOWN
    assert missing.status is Status.UNKNOWN
    assert excluded.status is Status.UNKNOWN
