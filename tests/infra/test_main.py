"""infra/__main__.py, the file ``pulumi up`` runs: it reads the spec from Pulumi config."""

from __future__ import annotations

import json
import runpy
from pathlib import Path

import pulumi
import pytest

from infra.sandbox.fabricate import PlanHooks
from infra.sandbox.program import run_program
from infra.spec import load_stack_file, to_pulumi_config

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture()
def pulumi_config(monkeypatch):
    """Set stack config the way the Pulumi CLI hands it to the program: one JSON variable."""
    def apply(values: dict[str, str]) -> None:
        monkeypatch.setenv("PULUMI_CONFIG", json.dumps(values))
    return apply


def run_main(spec):
    return run_program(spec, PlanHooks(region=spec.region),
                       build=lambda _spec: runpy.run_path(str(ROOT / "infra" / "__main__.py")))


def test_main_reads_config(pulumi_config):
    spec = load_stack_file(ROOT / "Pulumi.acme.yaml")
    pulumi_config(to_pulumi_config(ROOT / "Pulumi.acme.yaml"))
    resources = run_main(spec)
    users = sorted(r.inputs["name"] for r in resources if r.type == "aws:iam/user:User")
    assert users == sorted(f"acme-{p.id}" for p in spec.people)


def test_main_invalid_spec(pulumi_config):
    spec = load_stack_file(ROOT / "Pulumi.acme.yaml")
    values = to_pulumi_config(ROOT / "Pulumi.acme.yaml")
    values["pilot:dates"] = json.dumps({"start": "2027-01-11", "end": "2026-01-01", "retentionDaysAfterEnd": 30})
    pulumi_config(values)
    with pytest.raises(pulumi.RunError) as raised:
        run_main(spec)
    assert str(raised.value) == ("Pulumi.acme.yaml: pilot:dates.end: invalid value '2026-01-01'; "
                                 "expected a date after dates.start (2027-01-11)")
