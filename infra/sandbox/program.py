"""Run the Pulumi program in-process under Pulumi's mocks, without the CLI or an account.

``run_program(spec, hooks)`` declares the tenant exactly as ``pulumi up`` would and
returns every registered resource with its inputs, parent and per-property
dependencies. ``hooks.create`` decides the computed outputs of each resource: the
plan source fabricates them, the sandbox creates the resource in the emulator and
returns what the emulator says.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import pulumi
from pulumi.runtime import mocks as pulumi_mocks

from infra.spec import PilotSpec

log = logging.getLogger(__name__)

# One program run at a time per process: Pulumi's runtime settings are global.
_RUN_LOCK = threading.Lock()


@dataclass
class Registered:
    """One resource the program declared."""

    type: str
    name: str
    inputs: dict[str, Any]
    outputs: dict[str, Any] = field(default_factory=dict)
    id: str = ""
    parent: str = ""                         # URN of the parent
    urn: str = ""
    dependencies: dict[str, list[str]] = field(default_factory=dict)  # input property -> URNs
    custom: bool = True                      # False for ComponentResources


class Hooks:
    """What happens when the program registers a resource or calls a function."""

    account_id = "123456789012"
    partition = "aws"

    def create(self, resource: Registered) -> tuple[str, dict[str, Any]]:
        """Return (physical id, output properties) for a custom resource."""
        raise NotImplementedError

    def call(self, token: str, args: Mapping[str, Any]) -> dict[str, Any]:
        if token == "aws:index/getCallerIdentity:getCallerIdentity":
            return {"accountId": self.account_id, "arn": f"arn:{self.partition}:iam::{self.account_id}:root",
                    "userId": self.account_id, "id": self.account_id}
        if token == "aws:index/getPartition:getPartition":
            return {"partition": self.partition, "dnsSuffix": "amazonaws.com", "id": self.partition,
                    "reverseDnsPrefix": "com.amazonaws"}
        raise KeyError(f"the program called {token}, which the mocks do not provide")


class _Mocks(pulumi.runtime.Mocks):
    def __init__(self, hooks: Hooks, registry: dict[str, Registered], lock: threading.Lock):
        self.hooks, self.registry, self.lock = hooks, registry, lock

    def new_resource(self, args: pulumi.runtime.MockResourceArgs) -> tuple[str | None, dict]:
        if args.typ.startswith("pulumi:providers:") or not args.custom:
            return f"{args.name}-id", dict(args.inputs)
        with self.lock:
            resource = self.registry.setdefault(args.name, Registered(type=args.typ, name=args.name, inputs={}))
            resource.type = args.typ
            resource.inputs = _plain(args.inputs)
        physical_id, outputs = self.hooks.create(resource)
        with self.lock:
            resource.id = physical_id
            resource.outputs = outputs
        return physical_id, {**args.inputs, **outputs}

    def call(self, args: pulumi.runtime.MockCallArgs) -> dict:
        return self.hooks.call(args.token, _plain(args.args))


class _Monitor(pulumi_mocks.MockMonitor):
    """Records parents and per-property dependency edges, which the Mocks interface does not see."""

    def __init__(self, mocks: _Mocks):
        super().__init__(mocks)
        self._mocks = mocks

    def RegisterResource(self, request):  # noqa: N802 (gRPC method name)
        urn = self.make_urn(request.parent, request.type, request.name)
        deps = {prop: sorted(value.urns) for prop, value in request.propertyDependencies.items()}
        with self._mocks.lock:
            entry = self._mocks.registry.setdefault(
                request.name, Registered(type=request.type, name=request.name, inputs={}))
            entry.type, entry.urn, entry.parent = request.type, urn, request.parent
            entry.custom = request.custom
            entry.dependencies = deps
        return super().RegisterResource(request)


def _plain(value: Any) -> Any:
    """Convert protobuf-decoded values to plain Python (floats that are whole become ints)."""
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


def run_program(spec: PilotSpec, hooks: Hooks, build: Callable[[PilotSpec], Any] | None = None,
                ) -> list[Registered]:
    """Declare the tenant under mocks and return every registered resource, in registration order."""
    if build is None:
        from infra.components.tenant import build
    registry: dict[str, Registered] = {}
    lock = threading.Lock()
    mocks = _Mocks(hooks, registry, lock)

    with _RUN_LOCK:
        monitor = _Monitor(mocks)
        pulumi.runtime.set_mocks(mocks, project="pilotctl", stack=spec.customer, preview=False,
                                 monitor=monitor)

        @pulumi.runtime.test
        def program():
            build(spec)
            return pulumi.Output.from_input(True)

        program()
    resources = list(registry.values())
    log.info("program declared %d resources for %s", len(resources), spec.customer)
    return resources
