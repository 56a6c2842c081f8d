"""Pure helpers shared by the service modules: read outcomes, tags and attribute building.

Nothing here calls AWS. A fetch step returns each read as a ``Read``: the response
body, None when AWS returned an error code that means "not configured", or a ``Failure``.
The transform step turns reads into attributes and errors with ``build_fields``.
"""

from __future__ import annotations

import datetime
import json
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, TypeAlias

from datamap.inventory import Resource
from infra import tags as tag_keys


@dataclass(frozen=True)
class Failure:
    """A read that failed, so the value it would have returned is unknown."""

    operation: str  # "service:Operation", for example "s3:GetBucketPolicy"
    reason: str     # "AccessDenied: Access Denied", "HTTP 500 (after 4 retries)", ...

    def __str__(self) -> str:
        return f"{self.operation}: {self.reason}"


# The outcome of one read: the response body (without ResponseMetadata), None when AWS
# returned a "not configured" error code, or the failure.
Read: TypeAlias = Mapping[str, Any] | None | Failure

# An attribute's source: the read it comes from and the function that extracts the value
# from that read's body.
Field: TypeAlias = tuple[Read, Callable[[Mapping[str, Any]], Any]]


@dataclass
class Collected:
    """Result of one service module: tenant resources, tenant-wide errors and the count listed."""

    resources: list[Resource] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    seen: int = 0  # candidates listed, in or out of the tenant


def jsonable(value: Any) -> Any:
    """Return a copy of a boto3 value in which datetimes are ISO 8601 strings.

    Inventories are written as JSON, and a few fields (for example a lifecycle rule's
    ``Expiration.Date``) come back from boto3 as datetimes.
    """
    if isinstance(value, Mapping):
        return {key: jsonable(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [jsonable(item) for item in value]
    if isinstance(value, (datetime.datetime, datetime.date)):
        return value.isoformat()
    return value


def build_fields(fields: Mapping[str, Field]) -> tuple[dict[str, Any], dict[str, str]]:
    """Extract each attribute from its read and return (attributes, errors).

    A failed read puts the failure under the attribute's name in errors and leaves the
    attribute out. A "not configured" read (None) gives the value None. An extractor that
    raises KeyError, TypeError or ValueError on a malformed body also makes the attribute
    unknown, because guessing a value could turn a failed check into a pass.
    """
    attributes: dict[str, Any] = {}
    errors: dict[str, str] = {}
    for name, (read, extract) in fields.items():
        if isinstance(read, Failure):
            errors[name] = str(read)
            continue
        if read is None:
            attributes[name] = None
            continue
        try:
            attributes[name] = jsonable(extract(read))
        except (KeyError, TypeError, ValueError) as exc:
            errors[name] = f"invalid response body ({type(exc).__name__}: {exc})"
    return attributes, errors


def key_value_tags(pairs: Iterable[Mapping[str, str]], key: str = "Key", value: str = "Value") -> dict[str, str]:
    """Turn boto3's ``[{"Key": k, "Value": v}, ...]`` tag lists into a dict."""
    return {pair[key]: pair.get(value, "") for pair in pairs}


# The customer value that selects the resources of every tenant: those with a non-empty
# ``pilot:customer`` tag. ``scanner.scan`` rejects an empty customer, so a scan of one
# tenant never selects every tenant.
ANY_TENANT = ""


def belongs(tags: Mapping[str, str], customer: str) -> bool:
    """Return True when the tags put the resource in the customer's tenant, or in any tenant for ``ANY_TENANT``."""
    if customer == ANY_TENANT:
        return bool(tags.get(tag_keys.CUSTOMER))
    return tags.get(tag_keys.CUSTOMER) == customer


def membership_error(failure: Failure, target: str, customer: str) -> str:
    """Describe a tag read that failed, for ``Inventory.errors``."""
    if customer == ANY_TENANT:
        return f"{failure} (on {target}, so which tenant it belongs to is unknown)"
    return f"{failure} (on {target}, so whether it belongs to tenant {customer} is unknown)"


def parse_policy(text: str | Mapping[str, Any]) -> Any:
    """Parse a policy document that AWS returns as a JSON string. boto3 already parses some into dicts."""
    if isinstance(text, Mapping):
        return dict(text)
    return json.loads(text)


def body_without_metadata(body: Mapping[str, Any]) -> dict[str, Any]:
    return {key: value for key, value in body.items() if key != "ResponseMetadata"}
