"""Pilot spec validation: the shipped spec loads, and each invalid spec fails with one exact line."""

from __future__ import annotations

import copy
import datetime as dt
from pathlib import Path

import pytest
import yaml

from infra.capabilities import Capability
from infra.errors import SpecError
from infra.spec import load_stack_file

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture()
def acme_document() -> dict:
    return yaml.safe_load((ROOT / "Pulumi.acme.yaml").read_text())


def write_spec(tmp_path: Path, document: dict, name: str = "Pulumi.broken.yaml") -> Path:
    path = tmp_path / name
    path.write_text(yaml.safe_dump(document, sort_keys=False))
    return path


def test_acme_loads():
    spec = load_stack_file(ROOT / "Pulumi.acme.yaml")
    assert spec.customer == "acme"
    assert len(spec.people) == 8
    assert [p.role for p in spec.people].count("recorder") == 6
    assert spec.role("reporting").capabilities == {Capability.VIEW, Capability.EXPORT}
    assert spec.role("it-admin").capabilities == {Capability.ADMIN}
    assert not any(Capability.DELETE in r.capabilities for r in spec.roles)
    assert spec.data_deleted_by == dt.date(2027, 7, 8)


def mutate(document: dict, key: str, change) -> dict:
    changed = copy.deepcopy(document)
    change(changed["config"])
    return changed


INVALID = [
    ("missing customer", lambda c: c.pop("pilot:customer"),
     "Pulumi.broken.yaml: pilot:customer: invalid value <missing>; expected a value for this required key"),
    ("unknown role", lambda c: c["pilot:people"][0].update(role="observer"),
     "Pulumi.broken.yaml: pilot:people[0].role: invalid value 'observer'; "
     "expected a declared role, one of: it-admin, recorder, reporting"),
    ("person without role", lambda c: c["pilot:people"][3].pop("role"),
     "Pulumi.broken.yaml: pilot:people[3].role: invalid value <missing>; "
     "expected exactly one role, one of: it-admin, recorder, reporting"),
    ("two roles", lambda c: c["pilot:people"][1].update(role=["recorder", "reporting"]),
     "Pulumi.broken.yaml: pilot:people[1].role: invalid value ['recorder', 'reporting']; "
     "expected exactly one role, not a list"),
    ("retention zero", lambda c: c["pilot:stores"][0].update(retentionDays=0),
     "Pulumi.broken.yaml: pilot:stores[0].retentionDays: invalid value 0; "
     "expected a whole number of days from 1 to 36500"),
    ("retention text", lambda c: c["pilot:stores"][1].update(retentionDays="thirty"),
     "Pulumi.broken.yaml: pilot:stores[1].retentionDays: invalid value 'thirty'; "
     "expected a whole number of days from 1 to 36500"),
    ("retention negative", lambda c: c["pilot:dates"].update(retentionDaysAfterEnd=-5),
     "Pulumi.broken.yaml: pilot:dates.retentionDaysAfterEnd: invalid value -5; "
     "expected a whole number of days from 1 to 36500"),
    ("end before start", lambda c: c["pilot:dates"].update(end="2026-12-01"),
     "Pulumi.broken.yaml: pilot:dates.end: invalid value '2026-12-01'; expected a date after dates.start (2027-01-11)"),
    ("bad date", lambda c: c["pilot:dates"].update(start="11/01/2027"),
     "Pulumi.broken.yaml: pilot:dates.start: invalid value '11/01/2027'; expected a date in the form YYYY-MM-DD"),
    ("shared login", lambda c: c["pilot:people"][0].update(id="ops-team"),
     "Pulumi.broken.yaml: pilot:people[0].id: invalid value 'ops-team'; "
     "expected one identity per person (a personal id, not a shared login)"),
    ("duplicate person", lambda c: c["pilot:people"][1].update(id="ana.silva"),
     "Pulumi.broken.yaml: pilot:people[1].id: invalid value 'ana.silva'; "
     "expected an id used by exactly one person (no shared accounts)"),
    ("unknown capability", lambda c: c["pilot:roles"][0].update(capabilities=["view", "write"]),
     "Pulumi.broken.yaml: pilot:roles[0].capabilities[1]: invalid value 'write'; "
     "expected one of view, change, export, delete, admin"),
    ("unknown store kind", lambda c: c["pilot:stores"][0].update(kind="dynamodb"),
     "Pulumi.broken.yaml: pilot:stores[0].kind: invalid value 'dynamodb'; expected one of s3, log_group"),
    ("log retention off grid", lambda c: c["pilot:stores"][2].update(retentionDays=91),
     "Pulumi.broken.yaml: pilot:stores[2].retentionDays: invalid value 91; expected a CloudWatch Logs "
     "retention period: 1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, "
     "2557, 2922, 3288, 3653"),
    ("two support channels", lambda c: c["pilot:support"].update(channel=["email", "slack"]),
     "Pulumi.broken.yaml: pilot:support.channel: invalid value ['email', 'slack']; "
     "expected exactly one support channel, not a list"),
    ("missing owner", lambda c: c["pilot:owners"].pop("auditLogs"),
     "Pulumi.broken.yaml: pilot:owners.auditLogs: invalid value <missing>; expected a value for this required key"),
    ("region mismatch", lambda c: c.update({"aws:region": "us-east-1"}),
     "Pulumi.broken.yaml: aws:region: invalid value 'us-east-1'; expected the same region as pilot:region "
     "(eu-west-1)"),
    ("backup of a log group", lambda c: c["pilot:stores"][2].update(backup=True),
     "Pulumi.broken.yaml: pilot:stores[2].backup: invalid value True; "
     "expected false for a log_group store (AWS Backup covers only the s3 kind here)"),
    ("backed-up retention too short", lambda c: c["pilot:stores"][0].update(retentionDays=2),
     "Pulumi.broken.yaml: pilot:stores[0].retentionDays: invalid value 2; expected at least 3 days for a "
     "backed-up s3 store"),
    ("backup not boolean", lambda c: c["pilot:stores"][0].update(backup="yes"),
     "Pulumi.broken.yaml: pilot:stores[0].backup: invalid value 'yes'; expected true or false"),
]


@pytest.mark.parametrize("case, change, message", INVALID, ids=[c[0] for c in INVALID])
def test_invalid_spec(tmp_path, acme_document, case, change, message):
    path = write_spec(tmp_path, mutate(acme_document, case, change))
    with pytest.raises(SpecError) as raised:
        load_stack_file(path)
    assert str(raised.value) == message
    assert raised.value.exit_code == 2


def test_missing_file(tmp_path):
    with pytest.raises(SpecError, match="Pulumi.nobody.yaml: <file>"):
        load_stack_file(tmp_path / "Pulumi.nobody.yaml")


def test_invalid_yaml(tmp_path):
    path = tmp_path / "Pulumi.broken.yaml"
    path.write_text("config:\n  pilot:customer: [acme\n")
    with pytest.raises(SpecError, match=r"Pulumi.broken.yaml: line \d+: .*expected valid YAML"):
        load_stack_file(path)
