"""Fixtures of the checkov bridge tests; plan_variants.py edits copies of the resources."""

from __future__ import annotations

from pathlib import Path

import pytest

from infra.sandbox.fabricate import PlanHooks
from infra.sandbox.program import Registered, run_program
from infra.spec import load_stack_file

REPO_ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="session")
def acme_resources() -> list[Registered]:
    """The acme tenant as the program declares it; copy it before changing anything."""
    return run_program(load_stack_file(REPO_ROOT / "Pulumi.acme.yaml"), PlanHooks(region="eu-west-1"))
