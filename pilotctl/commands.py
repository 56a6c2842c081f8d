"""The explicit list of command modules; nothing registers itself on import."""

from __future__ import annotations

from pilotctl import iam_cmd

MODULES: list = [iam_cmd]
