"""Fixtures of the fleet tests: a private emulator per module, reached through AWS_ENDPOINT_URL."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

from infra.sandbox import emulator as sandbox


@pytest.fixture(scope="module")
def fleet_emulator(tmp_path_factory: pytest.TempPathFactory) -> Iterator[sandbox.Emulator]:
    """Run a private emulator for one module and point boto3 at it, without any other AWS_* variable."""
    with sandbox.running(tmp_path_factory.mktemp("fleet-sandbox")) as running, pytest.MonkeyPatch.context() as patch:
        for name in list(os.environ):
            if name.startswith("AWS_"):
                patch.delenv(name)
        for name, value in sandbox.client_env(running.endpoint).items():
            patch.setenv(name, value)
        yield running
