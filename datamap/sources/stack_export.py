"""Read a tenant from the files the Pulumi CLI writes: ``pulumi stack export`` and ``pulumi preview --json``.

Both files hold resources in the engine's state shape (type token, URN, camelCase
``inputs`` and ``outputs``, ``propertyDependencies``, ``provider``), which the plan
source's converter (``datamap.sources.program.convert``) turns into inventory records:

- ``read_stack_export``: the deployed state, source "stack-export", from
  ``{"version": 3, "deployment": {"manifest", "resources": [...]}}``. A resource's
  ``outputs`` (with the ARNs AWS assigned) win over its ``inputs``.
- ``read_preview``: the state ``pulumi up`` would leave, source "preview", from the
  ``newState`` of each step in ``{"steps": [...], "changeSummary": {...}}``, except the
  steps that delete a resource.

Values pilotctl cannot read become ``errors`` entries, never guesses. In a stack export,
a secret is an object with the signature key ``4dabf18193072939515e22adb298388d`` and a
``ciphertext`` (or, with ``--show-secrets``, a ``plaintext``). In a preview it is the
string ``[secret]``. pilotctl reads neither form, so no secret reaches the inventory or
a log. A value computed at deploy time is the string ``04da6b54-80e4-46f7-96ec-b56ff0331ba9``.

A preview without ``--show-sames`` lists only the resources that change, and a failed
preview only some, so both are rejected: a missing resource could turn a failure into a
pass.

NOTE: These shapes come from Pulumi's REST API schema (ResourceV3, DeploymentV3) and the
pulumi/pulumi source (pkg/resource/stack, pkg/backend/display/json.go). The example
files in tests/sources/data are written by hand from them, not produced by a Pulumi
CLI, so details those sources leave open are untested: which outputs the newState of a
create step carries, and how pulumi-aws 7 stores unset nested blocks in state.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import re
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from datamap.inventory import Inventory
from datamap.sources.declared.values import Unknown
from datamap.sources.program import COVERED_MODULES, convert
from infra import tags as tag_keys
from infra.errors import InputError
from infra.spec import PilotSpec

log = logging.getLogger(__name__)

STACK_EXPORT, PREVIEW = "stack-export", "preview"
# Pulumi's REST API schema: "both deployment schema versions 3 and 4 can be unmarshaled into DeploymentV3".
DEPLOYMENT_VERSIONS = (3, 4)
_VERSIONS_TEXT = " or ".join(str(version) for version in DEPLOYMENT_VERSIONS)
# The engine's serialization of a value it does not know yet (pkg/resource/stack in pulumi/pulumi).
UNKNOWN_VALUE = "04da6b54-80e4-46f7-96ec-b56ff0331ba9"
# A serialized secret is an object whose SIGNATURE_KEY entry is SECRET_SIGNATURE.
SIGNATURE_KEY = "4dabf18193072939515e22adb298388d"
SECRET_SIGNATURE = "1b47061264138c4ac30d75fd1eb44270"
# The string `pulumi preview --json` writes in place of every secret.
PREVIEW_SECRET = "[secret]"
# Preview steps after which the resource no longer exists.
REMOVING_OPS = frozenset({"delete", "delete-replaced", "discard", "discard-replaced", "read-discard",
                          "remove-pending-replace"})

_ARN_ACCOUNT = re.compile(r"^arn:(?P<partition>[a-z-]+):[a-z0-9-]+:[a-z0-9-]*:(?P<account>\d{12}):")


@dataclass(frozen=True)
class FileResource:
    """One custom resource of a file, in the shape ``convert`` reads (``DeclaredResource``)."""

    type: str
    name: str
    urn: str
    inputs: Mapping[str, Any]
    outputs: Mapping[str, Any]
    id: str = ""
    dependencies: Mapping[str, Sequence[str]] = field(default_factory=dict)
    provider: str = ""              # "<provider URN>::<provider id>"


class _Properties:
    """A copier of property bags into plain values, with an ``Unknown`` for each unknown or secret part.

    It records where each secret sat, so that the errors ``convert`` writes for it can
    name the secret. ``secrets`` contains "<resource>.<property path>" strings, and
    ``secret_tags`` maps a resource name to its secret tag keys ("*" for all its tags).
    """

    def __init__(self, preview: bool):
        self.preview = preview
        self.secrets: set[str] = set()
        self.secret_tags: dict[str, set[str]] = {}

    def plain(self, value: Any, where: str) -> Any:
        if _is_secret(value, self.preview):
            self.secrets.add(where)
            return Unknown(where)
        if value == UNKNOWN_VALUE:
            return Unknown(where)
        if isinstance(value, Mapping):
            return {str(key): self.plain(item, f"{where}.{key}") for key, item in value.items()}
        if isinstance(value, list):
            return [self.plain(item, f"{where}[{index}]") for index, item in enumerate(value)]
        return value

    def inputs_and_outputs(self, state: Mapping[str, Any], name: str) -> tuple[dict[str, Any], dict[str, Any]]:
        """Return a resource's plain inputs and outputs.

        ``convert`` lets outputs win over inputs, so an output whose input is secret is
        replaced by the input's marker, because a plaintext copy must not reach the inventory.
        """
        inputs = self.plain(state.get("inputs") or {}, name)
        outputs = self.plain(state.get("outputs") or {}, name)
        for key, value in inputs.items():
            if self._secret(value) and key in outputs:
                outputs[key] = value
        for tags in (inputs.get("tags"), outputs.get("tagsAll")):
            if self._secret(tags):
                self.secret_tags.setdefault(name, set()).add("*")
            elif isinstance(tags, Mapping):
                self.secret_tags.setdefault(name, set()).update(key for key, tag in tags.items() if self._secret(tag))
        return inputs, outputs

    def _secret(self, value: Any) -> bool:
        return isinstance(value, Unknown) and value.where in self.secrets


def _is_secret(value: Any, preview: bool) -> bool:
    if preview and value == PREVIEW_SECRET:
        return True
    return isinstance(value, Mapping) and value.get(SIGNATURE_KEY) == SECRET_SIGNATURE


def read_stack_export(path: str | Path, spec: PilotSpec | None = None) -> Inventory:
    """Read a ``pulumi stack export`` file into the inventory of tenant ``spec.customer``.

    Without a spec, the tenant is the one customer the resources are tagged for.
    Raises InputError naming the file and the JSON path of the first invalid part.
    """
    path = Path(path)
    data = _load(path, "`pulumi stack export`")
    if "steps" in data and "version" not in data:
        raise InputError(f"{path}: version: missing; expected {_VERSIONS_TEXT} (this file looks like the output of "
                         "`pulumi preview --json`: use --preview)")
    version = data.get("version")
    if version not in DEPLOYMENT_VERSIONS or isinstance(version, bool):
        problem = "missing" if version is None else f"invalid value {version!r}"
        raise InputError(f"{path}: version: {problem}; expected {_VERSIONS_TEXT}, the deployment format that "
                         "`pulumi stack export` writes")
    deployment = data.get("deployment")
    if not isinstance(deployment, Mapping):
        problem = "missing" if deployment is None else f"invalid value of type {type(deployment).__name__}"
        raise InputError(f"{path}: deployment: {problem}; expected the object with the stack's resources")

    states = [(f"deployment.resources[{index}]", state)
              for index, state in enumerate(_list(deployment, "resources", path, "deployment"))]
    values = _Properties(preview=False)
    resources = _custom_resources(states, values, path)
    inventory = _inventory(resources, values, path, spec, STACK_EXPORT, _pending_operations(deployment, path))
    manifest = deployment.get("manifest")
    written = manifest.get("time") if isinstance(manifest, Mapping) else None
    if isinstance(written, str) and written:
        inventory = dataclasses.replace(inventory, taken_at=written)
    return inventory


def read_preview(path: str | Path, spec: PilotSpec | None = None) -> Inventory:
    """Read a ``pulumi preview --json --show-sames`` file into the inventory the update would leave.

    Raises InputError for a preview that lists only part of the stack: one that ran
    without ``--show-sames``, one that failed, and one without a change summary.
    """
    path = Path(path)
    data = _load(path, "`pulumi preview --json`")
    if "steps" not in data and "deployment" in data:
        raise InputError(f"{path}: steps: missing; expected the steps of `pulumi preview --json` (this file looks "
                         "like the output of `pulumi stack export`: use --stack-export)")
    steps = list(enumerate(_list(data, "steps", path)))
    for index, step in steps:
        op = _object(step, path, f"steps[{index}]").get("op")
        if not isinstance(op, str) or not op:
            raise InputError(f"{path}: steps[{index}].op: missing; expected the step's operation, such as \"create\"")
    _check_complete(data, [step for _, step in steps], path)

    states = [(f"steps[{index}].newState", step["newState"]) for index, step in steps
              if step["op"] not in REMOVING_OPS and step.get("newState") is not None]
    values = _Properties(preview=True)
    resources = _custom_resources(states, values, path)
    config = data.get("config")
    region = config.get("aws:region") if isinstance(config, Mapping) else None
    return _inventory(resources, values, path, spec, PREVIEW, [], region if isinstance(region, str) else "")


def load_external(path: str | Path, kind: str, spec: PilotSpec | None) -> Inventory:
    """Read a file of kind ``STACK_EXPORT`` ("stack-export") or ``PREVIEW`` ("preview")."""
    if kind == STACK_EXPORT:
        return read_stack_export(path, spec)
    if kind == PREVIEW:
        return read_preview(path, spec)
    raise ValueError(f"unknown file kind {kind!r}; expected {STACK_EXPORT!r} or {PREVIEW!r}")


def _load(path: Path, producer: str) -> Mapping[str, Any]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise InputError(f"{path}: file not found") from None
    except UnicodeDecodeError:
        raise InputError(f"{path}: invalid JSON (not UTF-8 text); expected the output of {producer}") from None
    except json.JSONDecodeError as exc:
        raise InputError(f"{path}: line {exc.lineno}: invalid JSON ({exc.msg}); expected the output of "
                         f"{producer}") from None
    if not isinstance(data, Mapping):
        raise InputError(f"{path}: top level: invalid value of type {type(data).__name__}; expected an object, "
                         f"the output of {producer}")
    return data


def _object(value: Any, path: Path, where: str) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        raise InputError(f"{path}: {where}: invalid value of type {type(value).__name__}; expected an object")
    return value


def _list(parent: Mapping[str, Any], key: str, path: Path, prefix: str = "") -> list[Any]:
    """Return ``parent[key]`` as a list. A missing key is an error at the top level and an empty list below it."""
    where = f"{prefix}.{key}" if prefix else key
    value = parent.get(key)
    if value is None and prefix:
        return []  # Pulumi leaves out empty lists, such as the resources of an empty stack.
    if value is None:
        raise InputError(f"{path}: {where}: missing; expected a list")
    if not isinstance(value, list):
        raise InputError(f"{path}: {where}: invalid value of type {type(value).__name__}; expected a list")
    return value


def _check_complete(data: Mapping[str, Any], steps: list[Mapping[str, Any]], path: Path) -> None:
    """Raise InputError unless the preview finished and lists every resource of the stack."""
    summary = data.get("changeSummary")
    if not isinstance(summary, Mapping):
        raise InputError(f"{path}: changeSummary: missing; expected the summary that a finished `pulumi preview "
                         "--json` writes")
    for index, diagnostic in enumerate(data.get("diagnostics") or ()):
        if isinstance(diagnostic, Mapping) and diagnostic.get("severity") == "error":
            lines = str(diagnostic.get("message", "")).strip().splitlines() or ["no message"]
            raise InputError(f"{path}: diagnostics[{index}]: the preview failed ({lines[0]}); expected a preview "
                             "that succeeded")
    # `pulumi preview --json` lists unchanged resources only with --show-sames, but counts them all.
    listed = sum(1 for step in steps if step.get("op") == "same")
    unchanged = summary.get("same", 0)
    if isinstance(unchanged, int) and unchanged > listed:
        raise InputError(f"{path}: steps: {unchanged - listed} of the {unchanged} unchanged resources are not "
                         "listed; expected every resource: run `pulumi preview --json --show-sames`")


def _custom_resources(states: list[tuple[str, Any]], values: _Properties, path: Path) -> list[FileResource]:
    """Return the custom resources other than providers, each with its provider's region when it has none.

    ``states`` pairs each resource state with its JSON path, for error messages.
    """
    for where, state in states:
        _object(state, path, where)
        if not isinstance(state.get("urn"), str) or "::" not in state["urn"]:
            raise InputError(f"{path}: {where}.urn: missing; expected the resource's URN")
        if not isinstance(state.get("type"), str) or not state["type"]:
            raise InputError(f"{path}: {where}.type: missing; expected the resource's type token")
        for key in ("inputs", "outputs", "propertyDependencies"):
            if state.get(key) is not None:
                _object(state[key], path, f"{where}.{key}")
    regions = _provider_regions(state for _, state in states)

    resources: list[FileResource] = []
    for _, state in states:
        token, urn = state["type"], state["urn"]
        if not state.get("custom") or token.startswith("pulumi:providers:"):
            continue
        # NOTE: A resource with "delete": true still exists in AWS until the engine deletes it, so it is
        # kept, although its replacement has the same URN and dependents may be matched to either.
        name = urn.rsplit("::", 1)[-1]
        inputs, outputs = values.inputs_and_outputs(state, name)
        provider = state.get("provider") if isinstance(state.get("provider"), str) else ""
        region = regions.get(provider.rsplit("::", 1)[0])
        if region and "region" not in outputs and "region" not in inputs:
            inputs["region"] = region
        dependencies = {str(key): [item for item in urns if isinstance(item, str)]
                        for key, urns in (state.get("propertyDependencies") or {}).items() if isinstance(urns, list)}
        physical_id = state.get("id")
        resources.append(FileResource(type=token, name=name, urn=urn, inputs=inputs, outputs=outputs,
                                      id=physical_id if isinstance(physical_id, str) else "",
                                      dependencies=dependencies, provider=provider))
    return resources


def _provider_regions(states: Iterable[Mapping[str, Any]]) -> dict[str, str]:
    """Return provider URN -> the region its resources go to, for AWS providers whose region is known."""
    regions: dict[str, str] = {}
    for state in states:
        if state["type"] != "pulumi:providers:aws":
            continue
        for key in ("outputs", "inputs"):
            region = (state.get(key) or {}).get("region")
            if isinstance(region, str) and region not in ("", UNKNOWN_VALUE, PREVIEW_SECRET):
                regions[state["urn"]] = region
                break
    return regions


def _pending_operations(deployment: Mapping[str, Any], path: Path) -> list[str]:
    """Return one tenant-wide error per operation the engine had started but not finished."""
    errors = []
    for index, operation in enumerate(_list(deployment, "pending_operations", path, "deployment")):
        operation = _object(operation, path, f"deployment.pending_operations[{index}]")
        state = operation.get("resource") if isinstance(operation.get("resource"), Mapping) else {}
        token = str(state.get("type", ""))
        module = token.split(":", 2)[1].split("/", 1)[0] if token.count(":") == 2 else ""
        name = str(state.get("urn", "")).rsplit("::", 1)[-1]
        service = COVERED_MODULES.get(module, module or "pulumi")
        errors.append(f"{service}:{token.rsplit(':', 1)[-1]}: the engine was {operation.get('type', 'changing')} "
                      f"{name} ({token}) when the state was written, so the account may hold a version of it that "
                      "the file does not show")
    return errors


def _inventory(resources: list[FileResource], values: _Properties, path: Path, spec: PilotSpec | None, source: str,
               errors: list[str], region: str = "") -> Inventory:
    customer = _customer(resources, spec, path)
    account_id, partition = _account_and_partition(resources)
    if spec is not None:
        region = spec.region
    elif not region:
        found: Counter[str] = Counter(_text(resource, "region") for resource in resources)
        found.pop("", None)
        region = found.most_common(1)[0][0] if found else ""
    inventory = convert(resources, customer, account_id, region, partition=partition, source=source,
                        ids_from_aws=True).inventory
    inventory = _name_secrets(inventory, values, "stack" if source == STACK_EXPORT else "preview")
    if errors:
        inventory = dataclasses.replace(inventory, errors=(*inventory.errors, *errors))
    unknown = sum(len(record.errors) for record in inventory.resources)
    if values.secrets or unknown:
        log.warning("%s: %d inventory attributes are unknown and %d values of the file are secret (each record's "
                    "errors give the reasons)", path, unknown, len(values.secrets))
    log.info("read %s: %d inventory records from %d custom resources", path, len(inventory.resources), len(resources))
    return inventory


def _customer(resources: list[FileResource], spec: PilotSpec | None, path: Path) -> str:
    """Return the tenant's customer id: the spec's, or the one the resources are tagged for."""
    found: Counter[str] = Counter()
    for resource in resources:
        for tags in (resource.outputs.get("tagsAll"), resource.inputs.get("tags")):
            owner = tags.get(tag_keys.CUSTOMER) if isinstance(tags, Mapping) else None
            if isinstance(owner, str) and owner:
                found[owner] += 1
                break
    tagged = ", ".join(f"{name} ({count})" for name, count in sorted(found.items())) or "none"
    if spec is not None:
        if found[spec.customer] == 0:
            raise InputError(f"{path}: no resource is tagged {tag_keys.CUSTOMER}={spec.customer}; expected the stack "
                             f"of tenant {spec.customer} (resources per tagged customer: {tagged})")
        return spec.customer
    if len(found) != 1:
        raise InputError(f"{path}: the resources are tagged {tag_keys.CUSTOMER} for {len(found)} customers "
                         f"({tagged}); expected exactly one, or give the customer's pilot spec")
    return next(iter(found))


def _text(resource: FileResource, key: str) -> str:
    """Return a known string property, from the outputs first, or "" when it is absent or unknown."""
    for bag in (resource.outputs, resource.inputs):
        if isinstance(bag.get(key), str):
            return bag[key]
    return ""


def _account_and_partition(resources: Iterable[FileResource]) -> tuple[str, str]:
    """Return the account id and partition that most known ARNs name, or ("", "aws") when none is known."""
    found: Counter[tuple[str, str]] = Counter()
    for resource in resources:
        match = _ARN_ACCOUNT.match(_text(resource, "arn"))
        if match:
            found[(match["account"], match["partition"])] += 1
    return found.most_common(1)[0][0] if found else ("", "aws")


def _name_secrets(inventory: Inventory, values: _Properties, file_noun: str) -> Inventory:
    """Reword the errors that secrets caused, which ``convert`` words as values not known before deploy.

    ``convert`` writes "<where> is not known before deploy" for an unknown value, "the
    tags of <resource> are not known before deploy" for unknown tags, and "tags of
    <resource> not known before deploy: <keys>" for unknown tag values.
    """
    reason = f"a secret value in the {file_noun} file, which pilotctl does not decrypt"

    def reword(text: str) -> str:
        for where in sorted(values.secrets, key=len, reverse=True):
            text = text.replace(f"{where} is not known before deploy", f"{where} is {reason}")
        for resource, keys in values.secret_tags.items():
            if "*" in keys:
                text = text.replace(f"the tags of {resource} are not known before deploy",
                                    f"the tags of {resource} are {reason}")
            prefix = f"tags of {resource} not known before deploy: "
            start = text.find(prefix)
            rest = text[start + len(prefix):]
            # In Inventory.errors the list is followed by ", so whether <resource> belongs ...".
            end = rest.find(", so whether") if ", so whether" in rest else len(rest)
            if start >= 0 and set(rest[:end].split(", ")) <= keys:
                text = (f"{text[:start]}the tags {rest[:end]} of {resource} are secret values in the {file_noun} "
                        f"file, which pilotctl does not decrypt{rest[end:]}")
        return text

    records = [dataclasses.replace(record, errors={name: reword(text) for name, text in record.errors.items()})
               for record in inventory.resources]
    return dataclasses.replace(inventory, resources=tuple(records),
                               errors=tuple(reword(text) for text in inventory.errors))
