"""The error the IAM package raises for input AWS would reject."""

from __future__ import annotations

from infra.errors import InputError


class PolicyError(InputError):
    """A policy document or request that AWS would not accept, naming where it is invalid."""
