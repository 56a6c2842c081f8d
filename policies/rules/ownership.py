"""Ownership rules: the pilot spec names an accountable owner for each area, and how the customer reaches support.

These rules read only the pilot spec. The spec parser already requires the keys, so
these rules check that each value can be acted on: an owner with a way to reach them,
and one support channel with reply times. Without a spec every finding is unknown.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

from infra.spec import NAMESPACE, OWNER_KEYS
from policies.context import CheckContext
from policies.findings import Finding, ResourceRef, Severity, Status
from policies.rules.base import Rule, tenant_ref

EMAIL = re.compile(r"[^\s<>@,;]+@[^\s<>@,;]+\.[A-Za-z]{2,}")
URL = re.compile(r"https?://\S+")
PHONE = re.compile(r"\+?\d[\d ()-]{6,}\d")
# Words that join two contacts in one value, such as "ops@x.example or sec@x.example".
SEPARATORS = re.compile(r"[,;/|]|\s(?:or|and)\s")


def _contacts(text: str) -> list[str]:
    return EMAIL.findall(text) + URL.findall(text) + PHONE.findall(text)


def _spec_ref(context: CheckContext, key: str) -> ResourceRef:
    source = context.spec.source if context.spec and context.spec.source else f"Pulumi.{context.inventory.customer}.yaml"
    return ResourceRef(f"{source}#{NAMESPACE}:{key}", f"{NAMESPACE}:{key} in {source}")


def _no_spec(context: CheckContext, rule: Rule, expected: str) -> Finding:
    return rule.finding(Status.UNKNOWN, tenant_ref(context), "no pilot spec", expected,
                        f"There is no pilot spec for tenant {context.inventory.customer}, so {expected} cannot be "
                        "checked.", fix="Run the check with the tenant's pilot spec.")


def check_owners(context: CheckContext, rule: Rule) -> Iterator[Finding]:
    """Check that the spec names, for each area in ``areas``, an owner with one way to reach them."""
    areas = rule.parameters["areas"]
    if context.spec is None:
        yield _no_spec(context, rule, "an owner for " + ", ".join(areas))
        return
    for area in areas:
        value = (context.spec.owners.get(area) or "").strip()
        resource = _spec_ref(context, f"owners.{area}")
        expected = "a person's name and an email address, URL or phone number"
        fix = f"Set {NAMESPACE}:owners.{area} to one person's name and contact, such as \"Ana Silva <ana@example.com>\"."
        contacts = _contacts(value)
        if not value:
            yield rule.finding(Status.FAIL, resource, "missing", expected,
                               f"The pilot spec names no owner for {area}, so nobody answers for it. Fix: {fix}",
                               fix=fix)
        elif not contacts:
            yield rule.finding(Status.FAIL, resource, value, expected,
                               f"The owner of {area} is {value!r}, which gives no way to reach them. Fix: {fix}",
                               fix=fix)
        elif _several(value):
            yield rule.finding(Status.FAIL, resource, value, expected,
                               f"The owner of {area} is {value!r}, which names several people; one owner answers "
                               f"for an area. Fix: {fix}", fix=fix)
        elif not _strip(value, contacts).strip(" <>()-,"):
            yield rule.finding(Status.FAIL, resource, value, expected,
                               f"The owner of {area} is only a contact ({value}), with no person's name. Fix: {fix}",
                               fix=fix)
        else:
            yield rule.finding(Status.PASS, resource, value, expected,
                               f"The pilot spec names {value} as owner of {area}.", fix=fix)


def _several(text: str) -> bool:
    """Return whether the text lists more than one contact, each in its own part, such as "a@x.io or b@y.io"."""
    return len([part for part in SEPARATORS.split(text) if _contacts(part)]) > 1


def _strip(text: str, contacts: list[str]) -> str:
    for contact in contacts:
        text = text.replace(contact, "")
    return text


def check_support_path(context: CheckContext, rule: Rule) -> Iterator[Finding]:
    """Check that the spec gives one support channel with first-reply and update times within the maximums."""
    expected = "one support channel with firstReplyHours and updateHours"
    if context.spec is None:
        yield _no_spec(context, rule, expected)
        return
    support = context.spec.support
    resource = _spec_ref(context, "support")
    observed = (f"channel {support.channel!r}, first reply {support.first_reply_hours:g} h, "
                f"updates every {support.update_hours:g} h")

    limits = (("first reply", "firstReplyHours", support.first_reply_hours, rule.parameters["max_first_reply_hours"]),
              ("update", "updateHours", support.update_hours, rule.parameters["max_update_hours"]))
    problems = []

    channel = support.channel.strip()
    if not channel:
        problems.append("no channel is given")
    elif _several(channel) or len(_contacts(channel)) > 1:
        problems.append(f"channel {channel!r} lists several channels, so the customer cannot tell which one is "
                        "watched")
    for name, key, hours, maximum in limits:
        if not hours or hours <= 0:
            problems.append(f"no {name} time is given ({key})")
        elif maximum is not None and hours > maximum:
            problems.append(f"the {name} time of {hours:g} hours is longer than the maximum of {maximum:g} hours")

    fix = (f"Set {NAMESPACE}:support to one channel with firstReplyHours and updateHours, such as "
           "{channel: support@vendor.example, firstReplyHours: 4, updateHours: 24}.")
    if problems:
        yield rule.finding(Status.FAIL, resource, observed, expected,
                           f"The support path of the pilot spec is not usable: {'; '.join(problems)}. Fix: {fix}",
                           fix=fix, evidence=problems)
    else:
        yield rule.finding(Status.PASS, resource, observed, expected,
                           f"The customer reaches support at {channel}, with a first reply within "
                           f"{support.first_reply_hours:g} hours and updates every {support.update_hours:g} hours.",
                           fix=fix)


RULES = (
    Rule("PILOT-OWN-001", "The spec names an owner for permissions, audit logs, support and data", Severity.MEDIUM,
         "Each area needs one person who decides and can be reached: who approves access, who reads the audit "
         "logs, who runs support and who answers for the customer's data.",
         "Give each of owners.permissions, owners.auditLogs, owners.support and owners.data one person's name "
         "and contact.",
         check_owners, {"areas": OWNER_KEYS}),
    Rule("PILOT-OWN-002", "The spec gives one support channel with reply and update times", Severity.MEDIUM,
         "A customer with a problem must know the one place to ask and how soon to expect a reply and updates.",
         "Set support.channel to one channel and support.firstReplyHours and support.updateHours to the promised "
         "times.",
         check_support_path, {"max_first_reply_hours": None, "max_update_hours": None}),
)
