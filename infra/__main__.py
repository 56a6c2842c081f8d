"""Pulumi entry point: read the pilot spec from stack config and build the tenant.

Run with ``pulumi up -s <customer>``; the spec is ``Pulumi.<customer>.yaml``.
"""

import pulumi

from infra.components.tenant import build
from infra.errors import SpecError
from infra.spec import config_values, parse_spec

_config = pulumi.Config("pilot")
try:
    _spec = parse_spec(config_values(_config.get), f"Pulumi.{pulumi.get_stack()}.yaml")
except SpecError as exc:
    # RunError ends the program with this one line instead of a traceback.
    raise pulumi.RunError(str(exc)) from None
build(_spec)
