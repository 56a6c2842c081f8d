"""Build the arguments the Pulumi engine passes to stack policies, from acme's resources captured under mocks.

``capture`` runs the Pulumi program under mocks with the plan's predicted outputs, as a
stand-in for the state the engine has after ``pulumi up``. ``stack_args`` wraps each
resource in ``pulumi_policy``'s own classes, with the properties behind
``pulumi_policy.proxy.unknown_checking_proxy`` as the engine's servicer does.
``analyze_request`` builds the gRPC request that the real servicer receives.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Callable, Iterable

from google.protobuf import struct_pb2
from pulumi.runtime import proto
from pulumi_policy import PolicyCustomTimeouts, PolicyResource, PolicyResourceOptions, StackValidationArgs
from pulumi_policy.proxy import UNKNOWN_STRING_VALUE, unknown_checking_proxy

from infra.sandbox.fabricate import PlanHooks
from infra.sandbox.program import Registered, run_program
from infra.spec import PilotSpec

ACCOUNT = "123456789012"


def capture(spec: PilotSpec) -> list[Registered]:
    """Return every resource of the tenant's program, with the outputs a deploy would give them."""
    return run_program(spec, PlanHooks(account_id=ACCOUNT, region=spec.region))


def properties(resource: Registered) -> dict:
    """Return the resource's properties as stack state has them: inputs and outputs together."""
    return copy.deepcopy({**resource.inputs, **resource.outputs})


def stack_args(resources: Iterable[Registered], edit: Callable[[Registered, dict], dict | None] | None = None
               ) -> StackValidationArgs:
    """Return StackValidationArgs for ``resources``; ``edit(resource, props)`` may change or drop (None) one."""
    made: dict[str, PolicyResource] = {}
    kept = []
    for resource in resources:
        props = properties(resource)
        if edit is not None:
            props = edit(resource, props)
            if props is None:
                continue
        options = PolicyResourceOptions(protect=False, ignore_changes=[], delete_before_replace=None, aliases=[],
                                        custom_timeouts=PolicyCustomTimeouts(0, 0, 0), additional_secret_outputs=[],
                                        parent=resource.parent or None)
        made[resource.urn] = PolicyResource(resource.type, unknown_checking_proxy(props), resource.urn,
                                            resource.name, options, None, None, [], {})
        kept.append(resource)
    for resource in kept:
        policy_resource = made[resource.urn]
        policy_resource.parent = made.get(resource.parent)
        for key, urns in resource.dependencies.items():
            policy_resource.property_dependencies[key] = [made[urn] for urn in urns if urn in made]
    return StackValidationArgs(list(made.values()), config={}, stack_tags={})


def first_preview(resource: Registered, props: dict) -> dict:
    """Edit for ``stack_args``: the properties as a preview before the first deploy has them.

    Outputs the program did not set are unknown, and so is every input taken from another
    resource. Inputs from invokes (the account id in names and key policies) stay known.
    """
    for key in resource.outputs:
        if key not in resource.inputs:
            props[key] = UNKNOWN_STRING_VALUE
    for key, urns in resource.dependencies.items():
        if urns and key in props:
            props[key] = UNKNOWN_STRING_VALUE
    return props


def analyze_request(resources: Iterable[Registered]) -> proto.AnalyzeStackRequest:
    """Return the AnalyzeStack request the engine sends for ``resources``."""
    request = proto.AnalyzeStackRequest()
    for resource in resources:
        entry = request.resources.add()
        entry.type, entry.urn, entry.name = resource.type, resource.urn, resource.name
        entry.parent = resource.parent
        struct = struct_pb2.Struct()
        struct.update(json.loads(json.dumps(properties(resource))))
        entry.properties.CopyFrom(struct)
        for key, urns in resource.dependencies.items():
            entry.propertyDependencies[key].urns.extend(urns)
    return request


class Violations:
    """A report_violation callback that keeps what it was given."""

    def __init__(self) -> None:
        self.reported: list[tuple[str, str | None]] = []

    def __call__(self, message: str, urn: str | None = None) -> None:
        self.reported.append((message, urn))

    def messages(self) -> list[str]:
        return [message for message, _ in self.reported]
