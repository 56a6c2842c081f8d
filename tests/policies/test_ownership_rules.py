"""Ownership rules: owners with contacts, one support channel with reply and update times."""

from __future__ import annotations

from builders import context, spec, spec_config
from policies.catalog import rule_by_id
from policies.findings import Status


def run(rule_id: str, **overrides) -> list:
    return rule_by_id(rule_id).evaluate(context(the_spec=spec(**overrides)))


def owners(**changes) -> dict:
    return {**spec_config()["owners"], **changes}


def support(**changes) -> dict:
    return {**spec_config()["support"], **changes}


def by_area(findings: list, area: str):
    (found,) = [f for f in findings if f.resource.name.startswith(f"pilot:owners.{area} ")]
    return found


# PILOT-OWN-001 owners

def test_owners_pass():
    findings = run("PILOT-OWN-001")

    assert len(findings) == 4
    assert {f.status for f in findings} == {Status.PASS}
    assert by_area(findings, "data").message == \
        "The pilot spec names Grace Lee <grace.lee@acme.example> as owner of data."
    assert by_area(findings, "data").resource.arn == "test-spec#pilot:owners.data"


def test_owner_without_contact_fails():
    finding = by_area(run("PILOT-OWN-001", owners=owners(support="Tom")), "support")

    assert finding.status is Status.FAIL
    assert "The owner of support is 'Tom', which gives no way to reach them" in finding.message


def test_owner_two_people_fails():
    two = "Hugo Berg <hugo@acme.example> or Ana Silva <ana@acme.example>"
    finding = by_area(run("PILOT-OWN-001", owners=owners(permissions=two)), "permissions")

    assert finding.status is Status.FAIL
    assert "names several people" in finding.message


def test_owner_contact_only_fails():
    finding = by_area(run("PILOT-OWN-001", owners=owners(auditLogs="security@vendor.example")), "auditLogs")

    assert finding.status is Status.FAIL
    assert "with no person's name" in finding.message


def test_owner_phone_and_url_pass():
    findings = run("PILOT-OWN-001", owners=owners(support="Tom Reyes, +44 20 7946 0958",
                                                 data="Grace Lee https://acme.example/grace"))

    assert by_area(findings, "support").status is Status.PASS
    assert by_area(findings, "data").status is Status.PASS


def test_owners_without_spec_unknown():
    (finding,) = rule_by_id("PILOT-OWN-001").evaluate(context(the_spec=None))

    assert finding.status is Status.UNKNOWN
    assert "no pilot spec" in finding.message


# PILOT-OWN-002 support path

def test_support_path_passes():
    (finding,) = run("PILOT-OWN-002")

    assert finding.status is Status.PASS
    assert finding.observed == "channel 'support@vendor.example', first reply 4 h, updates every 24 h"


def test_support_two_channels_fails():
    (finding,) = run("PILOT-OWN-002", support=support(channel="support@vendor.example, ops@vendor.example"))

    assert finding.status is Status.FAIL
    assert "lists several channels" in finding.message


def test_support_slack_channel_passes():
    (finding,) = run("PILOT-OWN-002", support=support(channel="#acme-pilot on the vendor Slack"))

    assert finding.status is Status.PASS


def test_support_reply_over_maximum_fails():
    strict = rule_by_id("PILOT-OWN-002").with_parameters(max_first_reply_hours=2)
    (finding,) = strict.evaluate(context())

    assert finding.status is Status.FAIL
    assert "the first reply time of 4 hours is longer than the maximum of 2 hours" in finding.message


def test_support_without_spec_unknown():
    (finding,) = rule_by_id("PILOT-OWN-002").evaluate(context(the_spec=None))

    assert finding.status is Status.UNKNOWN
