"""The explicit list of command modules; nothing registers itself on import."""

from __future__ import annotations

MODULES: list = []
