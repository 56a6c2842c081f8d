"""Shared pytest fixtures of pilotctl.

Emulator fixtures (tests marked ``moto_server`` use them):

- ``emulator`` (session scope): one private moto server with pilotctl's extension, started in
  a temporary state directory for the whole test session and stopped at its end. It yields an
  ``infra.sandbox.emulator.Emulator`` with ``endpoint``, ``port`` and ``pid``. The server is
  shared, so give resources names unique to the test, or call ``emulator.reset()`` (it deletes
  every resource for all tests that run after it).
- ``aws_env`` (function scope): returns ``client_env(emulator.endpoint)``, the dict of
  ``AWS_ENDPOINT_URL``, fake credentials and region. For the duration of the test it also
  removes every other ``AWS_*`` variable from ``os.environ`` and sets these, so a plain
  ``boto3.client("s3")`` reaches the emulator and not a real account. Pass the dict on to
  subprocesses, or use ``infra.sandbox.emulator.subprocess_env``.
"""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

from infra.sandbox import emulator as sandbox


@pytest.fixture(scope="session")
def emulator(tmp_path_factory: pytest.TempPathFactory) -> Iterator[sandbox.Emulator]:
    state_dir = tmp_path_factory.mktemp("sandbox")
    with sandbox.running(state_dir) as running_emulator:
        yield running_emulator


@pytest.fixture
def aws_env(emulator: sandbox.Emulator, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    for name in list(os.environ):
        if name.startswith("AWS_"):
            monkeypatch.delenv(name)
    env = sandbox.client_env(emulator.endpoint)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    return env
