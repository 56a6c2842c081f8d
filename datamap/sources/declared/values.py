"""Declared resources, the stack that contains them, and the marker for values not known before deploy.

During ``pulumi preview`` the engine does not know the outputs of resources it has yet
to create, nor any input computed from them. The CrossGuard adapter replaces each such
value with an ``Unknown``. Any use of an ``Unknown`` except an identity test raises
``UnknownValue``, and ``Record.put`` turns that into an ``errors`` entry, so a converter
cannot make a guessed value out of it by accident.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, NoReturn

# Exceptions a converter raises on a malformed value, which Record.put turns into errors entries.
CONVERSION_ERRORS = (KeyError, TypeError, ValueError, AttributeError, IndexError)


class UnknownValue(Exception):
    """A converter used a value that is not known before deploy."""

    def __init__(self, where: str):
        super().__init__(f"{where or 'a value'} is not known before deploy")
        self.where = where


class NotConverted(Exception):
    """The program declares a value in a form the converter does not translate, so it stays unknown."""


class Unknown:
    """A property value the Pulumi engine does not know yet, with where it sits ("<resource>.<property>")."""

    __slots__ = ("where",)

    def __init__(self, where: str = ""):
        self.where = where

    def __repr__(self) -> str:
        return f"<unknown {self.where}>"

    def _raise(self, *args: Any, **kwargs: Any) -> NoReturn:
        raise UnknownValue(self.where)

    __bool__ = __str__ = __format__ = __int__ = __float__ = __index__ = _raise
    __iter__ = __len__ = __getitem__ = __contains__ = _raise
    __eq__ = __ne__ = __lt__ = __le__ = __gt__ = __ge__ = __add__ = __radd__ = _raise  # type: ignore[assignment]
    __hash__ = object.__hash__
    get = items = keys = values = _raise


def find_unknown(value: Any) -> Unknown | None:
    """Return the first Unknown inside a (nested) value, or None when every part is known."""
    if isinstance(value, Unknown):
        return value
    if isinstance(value, Mapping):
        parts: Iterable[Any] = value.values()
    elif isinstance(value, (list, tuple)):
        parts = value
    else:
        return None
    for part in parts:
        found = find_unknown(part)
        if found is not None:
            return found
    return None


def without_none(value: Any) -> Any:
    """Return a copy of a property value in which mapping entries whose value is None are left out.

    Pulumi state lists every optional property, set or not. Inputs list only those set.
    """
    if isinstance(value, Mapping):
        return {str(key): without_none(item) for key, item in value.items() if item is not None}
    if isinstance(value, (list, tuple)):
        return [without_none(item) for item in value]
    return value


def text(value: Any) -> str | None:
    """Return a declared string, or None for an absent or empty one (state has "" for unset strings)."""
    if value is None or value == "":
        return None
    if isinstance(value, str):
        return value
    raise TypeError(f"expected a string, got {type(value).__name__}")


@dataclass(frozen=True)
class Declared:
    """One resource as the program declares it: type token, logical name and properties."""

    type: str
    name: str
    urn: str
    values: Mapping[str, Any]            # camelCase inputs, plus outputs when known
    dependencies: Mapping[str, tuple[str, ...]] = field(default_factory=dict)  # property -> URNs
    physical_id: str = ""
    declared_at: str = ""                # "infra/components/storage.py:72", when known

    @property
    def module(self) -> str:
        """Return the provider module of the type token: "s3" for "aws:s3/bucket:Bucket"."""
        return self.type.split(":", 2)[1].split("/", 1)[0] if self.type.count(":") == 2 else ""

    @property
    def short_type(self) -> str:
        """Return the last part of the type token: "Bucket" for "aws:s3/bucket:Bucket"."""
        return self.type.rsplit(":", 1)[-1]

    def get(self, key: str, default: Any = None) -> Any:
        value = self.values.get(key)
        return default if value is None else value

    def refers_to(self, key: str, target: Declared, identifiers: Iterable[Any]) -> bool:
        """Return whether property ``key`` names ``target``.

        A known value must equal one of the target's identifiers (name, id or ARN).
        An unknown value names the target when the property depends on it, which is how
        Pulumi records an input taken from the target's outputs.
        """
        value = self.values.get(key)
        if value is None:
            return False
        if isinstance(value, Unknown):
            return target.urn in self.dependencies.get(key, ())
        known = {identifier for identifier in identifiers if isinstance(identifier, str) and identifier}
        return isinstance(value, str) and value in known


class Stack:
    """Every declared resource of one program run, looked up by type and by reference."""

    def __init__(self, resources: Iterable[Declared]):
        self.resources = tuple(resources)

    def of_type(self, token: str) -> list[Declared]:
        return [resource for resource in self.resources if resource.type == token]

    def attached(self, token: str, key: str, target: Declared, identifiers: Iterable[Any]) -> list[Declared]:
        """Return the resources of type ``token`` whose property ``key`` names ``target``."""
        identifiers = tuple(identifiers)
        return [resource for resource in self.of_type(token) if resource.refers_to(key, target, identifiers)]


class Record:
    """Attributes and errors of one inventory record, built one attribute at a time."""

    def __init__(self, resource: Declared):
        self.resource = resource
        self.attributes: dict[str, Any] = {}
        self.errors: dict[str, str] = {}

    def put(self, name: str, build: Callable[[], Any]) -> None:
        """Store ``build()`` under ``name``, or record the reason when the value is unknown or malformed."""
        try:
            value = build()
        except UnknownValue as exc:
            self.unknown(name, f"{exc.where or 'a value it depends on'} is not known before deploy")
            return
        except NotConverted as exc:
            self.unknown(name, str(exc))
            return
        except CONVERSION_ERRORS as exc:
            self.unknown(name, f"invalid declared value ({type(exc).__name__}: {exc})")
            return
        hidden = find_unknown(value)
        if hidden is not None:
            self.unknown(name, f"{hidden.where or 'a value it depends on'} is not known before deploy")
            return
        self.attributes[name] = value

    def unknown(self, name: str, reason: str) -> None:
        """Record that the value of ``name`` is unknown, and why."""
        self.attributes.pop(name, None)
        self.errors[name] = reason


def declared_tags(resource: Declared) -> tuple[dict[str, str], str]:
    """Return the resource's tags and, when some are not known before deploy, the reason.

    ``tagsAll`` (state and previews: the resource's tags plus the provider's default tags)
    wins over ``tags`` (program inputs).
    """
    source = resource.values.get("tagsAll")
    if source is None or isinstance(source, Unknown):
        source = resource.values.get("tags")
        source = {} if source is None else source
    if isinstance(source, Unknown):
        return {}, f"the tags of {resource.name} are not known before deploy"
    known = {str(key): value for key, value in source.items() if isinstance(value, str)}
    missing = sorted(str(key) for key, value in source.items() if not isinstance(value, str))
    if isinstance(resource.values.get("tagsAll"), Unknown):
        missing.append("the provider's default tags")
    if missing:
        return known, f"tags of {resource.name} not known before deploy: {', '.join(missing)}"
    return known, ""


@dataclass(frozen=True)
class Scope:
    """Account, partition and default region of the declared resources, for the ARNs a converter builds."""

    account_id: str
    partition: str
    region: str          # for resources without a known region property of their own
    # False for a plan: ids AWS assigns on create (KMS key ids, backup plan ids) are placeholders there.
    ids_from_aws: bool

    def region_of(self, resource: Declared) -> str:
        value = resource.values.get("region")
        if isinstance(value, str) and value:
            return value
        return self.region


# Day counts and version counts that AWS requires to be at least 1. Reading a 0 as
# "deleted after 0 days" would be wrong, because a 0 there can only mean "not set".
# NOTE: Terraform-bridged providers store an unset number as 0 in state. The state of a
# real pulumi-aws deploy was not observed for these blocks (no Pulumi CLI was available).
ZERO_MEANS_UNSET = frozenset({"days", "noncurrentDays", "newerNoncurrentVersions", "daysAfterInitiation",
                              "deleteAfter", "coldStorageAfter"})


def normalized(value: Any) -> Any:
    """Return a copy of a nested block without unset entries: None, "", and 0 for ZERO_MEANS_UNSET keys."""
    if isinstance(value, Mapping):
        out = {}
        for key, item in value.items():
            if item is None or (isinstance(item, str) and item == ""):
                continue
            if key in ZERO_MEANS_UNSET and isinstance(item, (int, float)) and not isinstance(item, bool) \
                    and item == 0:
                continue
            out[str(key)] = normalized(item)
        return out
    if isinstance(value, (list, tuple)):
        return [normalized(item) for item in value]
    return value


def meaningful(value: Any) -> bool:
    """Return whether a declared value sets anything other than None, "", False, 0 or an empty collection.

    Raises UnknownValue when the value, or a part of it, is unknown.
    """
    if isinstance(value, Unknown):
        raise UnknownValue(value.where)
    if isinstance(value, Mapping):
        return any(meaningful(item) for item in value.values())
    if isinstance(value, (list, tuple)):
        return any(meaningful(item) for item in value)
    if isinstance(value, bool):
        return value
    return value is not None and value != "" and value != 0
