"""The one exception family of pilotctl; the CLI turns each into a one-line message."""

from __future__ import annotations

from typing import Any


class PilotError(Exception):
    """Base class of every error pilotctl reports to its user."""

    exit_code = 1


class InputError(PilotError):
    """Invalid input from the user: a file, an option or a value. Exit code 2."""

    exit_code = 2


class SpecError(InputError):
    """An invalid pilot spec, naming the stack file, the key path, the value and the expected form."""

    def __init__(self, source: str, key: str, value: Any, expected: str):
        self.source, self.key, self.value, self.expected = source, key, value, expected
        shown = value if isinstance(value, str) and value.startswith("<") else repr(value)
        super().__init__(f"{source}: {key}: invalid value {shown}; expected {expected}")


class SandboxError(PilotError):
    """The local AWS emulator could not be started, reached or used."""


class ScanError(PilotError):
    """Reading the deployed account failed as a whole (not one read: those become unknown)."""
