"""Variants of the program's registered resources, for testing checks on broken tenants."""

from __future__ import annotations

import copy
from collections.abc import Callable

from infra.sandbox.program import Registered


def variant(resources: list[Registered], drop: tuple[str, ...] = (),
            change: dict[str, Callable[[Registered], None]] | None = None) -> list[Registered]:
    """Return a deep copy of ``resources`` without the ones named in ``drop``, edited by ``change``.

    ``change`` maps a Pulumi resource name to a function that edits that resource's copy.
    """
    known = {r.name for r in resources}
    unknown = sorted((set(drop) | set(change or {})) - known)
    if unknown:
        raise KeyError(f"no resources named {', '.join(unknown)} in the program")
    result = [copy.deepcopy(r) for r in resources if r.name not in drop]
    for resource in result:
        edit = (change or {}).get(resource.name)
        if edit is not None:
            edit(resource)
    return result
