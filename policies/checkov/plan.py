"""Convert the resources the Pulumi program registers into a Terraform plan document for checkov.

checkov 3.3.30 reads ``terraform show -json`` output with ``--framework terraform_plan``.
It requires ``terraform_version`` and ``planned_values`` and finds nothing without them.
It connects resources only through references: for each attribute of
``configuration.root_module.resources[].expressions`` that lists ``references`` and has
no value in ``planned_values``, checkov puts the first reference in place of the value
and draws a graph edge to the referenced resource. Its S3 checks (versioning, lifecycle,
public access block, encryption) look for such an edge from each split resource to its
``aws_s3_bucket``. Without the edge they fail falsely.

The conversion mirrors what Terraform itself writes. An input that the program took
from another resource's id or ARN (``bucket=bucket.id``) is unknown at plan time in
Terraform, so it is left out of ``planned_values`` and given as a reference such as
``aws_s3_bucket.pilot_acme_storage_records.id``. ``run_program`` records these links
as per-property dependencies. Values the program derived in other ways (policy
documents, nested blocks) keep their known value, so checkov can read them.

Example::

    plan = to_plan(run_program(spec, PlanHooks()))
    plan.write(Path("plan.json"))
    plan.resources["aws_s3_bucket.pilot_acme_storage_records"].pulumi_name
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from infra.sandbox.program import Registered
from policies.checkov.terraform_names import (
    MAP_PROPERTIES,
    TERRAFORM_TYPES,
    terraform_attribute,
    terraform_name,
)

log = logging.getLogger(__name__)

# checkov only checks that the key is present. No Terraform runs: this is the plan
# format version the document follows, and the Terraform release that writes it.
FORMAT_VERSION = "1.2"
TERRAFORM_VERSION = "1.9.8"
PROVIDER_NAME = "registry.terraform.io/hashicorp/aws"

# Pulumi's wire encoding of an unknown value and of a secret (pulumi/runtime/rpc.py,
# pulumi 3.272). Mocks with preview=False produce neither, but a preview run would.
PULUMI_UNKNOWN = "04da6b54-80e4-46f7-96ec-b56ff0331ba9"
PULUMI_SIGNATURE_KEY = "4dabf18193072939515e22adb298388d"
PULUMI_SECRET_SIGNATURE = "1b47061264138c4ac30d75fd1eb44270"


@dataclass(frozen=True)
class PlanResource:
    """The Pulumi resource behind one Terraform address in the plan."""

    address: str
    terraform_type: str
    pulumi_name: str
    pulumi_type: str
    urn: str


@dataclass(frozen=True)
class Unconverted:
    """A custom resource whose type has no Terraform name in ``TERRAFORM_TYPES``, so checkov does not check it."""

    pulumi_name: str
    pulumi_type: str
    urn: str


@dataclass(frozen=True)
class TerraformPlan:
    """A plan document, the Pulumi resource behind each address, and what was left out."""

    document: dict[str, Any]
    resources: dict[str, PlanResource]
    unconverted: tuple[Unconverted, ...]

    def address_of(self, pulumi_name: str) -> str:
        """Return the Terraform address of the Pulumi resource named ``pulumi_name``."""
        for address, resource in self.resources.items():
            if resource.pulumi_name == pulumi_name:
                return address
        raise KeyError(f"no resource named {pulumi_name!r} in the plan")

    def write(self, path: Path) -> Path:
        """Write the document as JSON to ``path`` and return the path."""
        path.write_text(json.dumps(self.document, indent=1, sort_keys=True), encoding="utf-8")
        return path


@dataclass(frozen=True)
class _Converted:
    registered: Registered
    terraform_type: str
    name: str

    @property
    def address(self) -> str:
        return f"{self.terraform_type}.{self.name}"


def to_plan(resources: Sequence[Registered]) -> TerraformPlan:
    """Convert registered resources into a Terraform plan document; the input is not changed.

    Component resources and providers are not cloud resources and are skipped. Custom
    resources of a type missing from ``TERRAFORM_TYPES`` are listed in ``unconverted``
    and logged, so a caller can report that checkov did not see them.
    """
    converted: list[_Converted] = []
    unconverted: list[Unconverted] = []
    used_names: set[str] = set()
    for resource in resources:
        if not resource.custom or resource.type.startswith("pulumi:providers:"):
            continue
        terraform_type = TERRAFORM_TYPES.get(resource.type)
        if terraform_type is None:
            unconverted.append(Unconverted(resource.name, resource.type, resource.urn))
            continue
        name = _unique(terraform_name(resource.name), used_names)
        converted.append(_Converted(resource, terraform_type, name))
    if unconverted:
        log.warning("checkov will not see %d resources of types with no Terraform name: %s",
                    len(unconverted), ", ".join(sorted({u.pulumi_type for u in unconverted})))

    by_urn = {item.registered.urn: item for item in converted if item.registered.urn}
    planned: list[dict[str, Any]] = []
    configured: list[dict[str, Any]] = []
    changes: list[dict[str, Any]] = []
    for item in sorted(converted, key=lambda c: c.address):
        values, expressions, unknown = _resource_values(item, by_urn)
        common = {"address": item.address, "mode": "managed", "type": item.terraform_type, "name": item.name}
        planned.append({**common, "provider_name": PROVIDER_NAME, "schema_version": 0,
                        "values": values, "sensitive_values": {}})
        configured.append({**common, "provider_config_key": "aws", "schema_version": 0,
                           "expressions": expressions})
        changes.append({**common, "provider_name": PROVIDER_NAME,
                        "change": {"actions": ["create"], "before": None, "after": values,
                                   "after_unknown": unknown}})

    document = {
        "format_version": FORMAT_VERSION,
        "terraform_version": TERRAFORM_VERSION,
        "planned_values": {"root_module": {"resources": planned}},
        "resource_changes": changes,
        "configuration": {"root_module": {"resources": configured}},
    }
    origins = {
        item.address: PlanResource(item.address, item.terraform_type, item.registered.name,
                                   item.registered.type, item.registered.urn)
        for item in converted
    }
    log.info("converted %d resources to a Terraform plan (%d unconverted)", len(converted), len(unconverted))
    return TerraformPlan(document=document, resources=origins, unconverted=tuple(unconverted))


def _unique(name: str, used: set[str]) -> str:
    candidate, suffix = name, 2
    while candidate in used:
        candidate = f"{name}_{suffix}"
        suffix += 1
    used.add(candidate)
    return candidate


def _resource_values(item: _Converted, by_urn: Mapping[str, _Converted],
                     ) -> tuple[dict[str, Any], dict[str, Any], dict[str, bool]]:
    """Return (planned values, configuration expressions, after_unknown) of one resource."""
    resource, terraform_type = item.registered, item.terraform_type
    values: dict[str, Any] = {}
    expressions: dict[str, Any] = {}
    unknown: dict[str, bool] = {}

    for prop, raw in resource.inputs.items():
        attribute = terraform_attribute(terraform_type, prop)
        value = _reveal(raw)
        dependencies = [by_urn[urn] for urn in resource.dependencies.get(prop, []) if urn in by_urn]
        reference = _reference(value, dependencies)
        if reference is not None:
            # Unknown at plan time in Terraform: checkov substitutes the reference and draws the edge.
            expressions[attribute] = {"references": list(reference)}
            unknown[attribute] = True
            continue
        if dependencies:
            expressions[attribute] = {"references": sorted(d.address for d in dependencies)}
        if _contains_unknown(value):
            # NOTE: checkov treats a missing attribute as absent, which passes some
            # checks (for example "must not be public"). Only a preview produces these.
            unknown[attribute] = True
            continue
        values[attribute] = _terraform_value(terraform_type, prop, value)

    # Outputs the hooks computed (ARNs, key ids): known in this plan, so kept for tracing.
    for prop, raw in resource.outputs.items():
        attribute = terraform_attribute(terraform_type, prop)
        value = _reveal(raw)
        if attribute in values or attribute in unknown or _contains_unknown(value):
            continue
        values[attribute] = _terraform_value(terraform_type, prop, value)
    return values, expressions, unknown


def _reference(value: Any, dependencies: Sequence[_Converted]) -> tuple[str, str] | None:
    """Return (``<address>.<attribute>``, ``<address>``) when ``value`` is a dependency's id, ARN or name.

    A value that only starts with a dependency's ARN and a colon (a log group ARN
    with ``:*``) counts too, because Terraform cannot know it before that ARN exists.
    """
    if not isinstance(value, str) or not value:
        return None
    for dependency in dependencies:
        resource = dependency.registered
        arn = resource.outputs.get("arn")
        candidates = (
            ("id", resource.id),
            ("arn", arn),
            ("key_id", resource.outputs.get("keyId")),
            ("name", resource.inputs.get("name")),
            ("bucket", resource.inputs.get("bucket")),
        )
        for attribute, candidate in candidates:
            if isinstance(candidate, str) and candidate and value == candidate:
                return f"{dependency.address}.{attribute}", dependency.address
        if isinstance(arn, str) and arn and value.startswith(arn + ":"):
            return f"{dependency.address}.arn", dependency.address
    return None


def _reveal(value: Any) -> Any:
    """Replace Pulumi's secret wrappers with the values they contain."""
    if isinstance(value, Mapping):
        if value.get(PULUMI_SIGNATURE_KEY) == PULUMI_SECRET_SIGNATURE:
            return _reveal(value.get("value"))
        return {key: _reveal(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_reveal(item) for item in value]
    return value


def _contains_unknown(value: Any) -> bool:
    if isinstance(value, Mapping):
        return any(_contains_unknown(item) for item in value.values())
    if isinstance(value, list):
        return any(_contains_unknown(item) for item in value)
    return value == PULUMI_UNKNOWN


def _terraform_value(terraform_type: str, prop: str, value: Any) -> Any:
    """Convert one property value: objects become one-element block lists, maps keep their keys."""
    if prop in MAP_PROPERTIES and isinstance(value, Mapping):
        return {str(key): item for key, item in value.items()}
    if isinstance(value, Mapping):
        return [_block(terraform_type, value)]
    if isinstance(value, list):
        return [_block(terraform_type, item) if isinstance(item, Mapping) else item for item in value]
    return value


def _block(terraform_type: str, body: Mapping[str, Any]) -> dict[str, Any]:
    return {terraform_attribute(terraform_type, key): _terraform_value(terraform_type, key, item)
            for key, item in body.items()}
