"""The only code of the scanner that calls AWS: clients, single reads and listings.

Every call goes through ``Reader``, which turns each response into a ``Read`` outcome:
the response body, None for an error code that the caller lists as "not configured",
or a ``Failure`` for any other error (denied, throttled after retries, 5xx, connection
errors). Each client uses botocore's standard retry mode.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from typing import Any

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError, ParamValidationError

from datamap.sources.live.common import Failure, Read, body_without_metadata

LOG = logging.getLogger(__name__)

# Total attempts per call, the first one included. Standard mode retries throttling,
# 5xx and connection errors with exponential backoff.
DEFAULT_MAX_ATTEMPTS = 5

# Operation name prefixes of AWS read-only APIs. The reader rejects any other operation.
READ_PREFIXES = ("List", "Get", "Describe", "Head", "Lookup")

# Maximum number of characters of an AWS error message kept in a failure reason.
_MAX_MESSAGE = 200


class Reader:
    """Read-only access to one account: creates clients on demand and counts calls per service."""

    def __init__(self, session: boto3.Session, region: str, endpoint_url: str | None = None,
                 max_attempts: int = DEFAULT_MAX_ATTEMPTS):
        self.session = session
        self.region = region
        self.endpoint_url = endpoint_url
        self.calls: Counter[str] = Counter()
        self._config = Config(retries={"mode": "standard", "total_max_attempts": max_attempts})
        self._clients: dict[tuple[str, str], Any] = {}

    def client(self, service: str, region: str | None = None) -> Any:
        """Return the client for a service and region, created from the session on first use."""
        key = (service, region or self.region)
        if key not in self._clients:
            self._clients[key] = self.session.client(service, region_name=key[1], endpoint_url=self.endpoint_url,
                                                     config=self._config)
        return self._clients[key]

    def read(self, service: str, method: str, target: str, *, region: str | None = None,
             not_configured: Collection[str] = (), **params: Any) -> Read:
        """Call one read operation and return its body, None or a Failure.

        ``method`` is the boto3 method name (``get_bucket_policy``). An error whose code is
        in ``not_configured`` gives None. ``target`` names the resource in log lines.
        """
        client = self.client(service, region)
        operation = _operation(client, service, method)
        self.calls[service] += 1
        LOG.debug("%s on %s", operation, target)
        try:
            body = getattr(client, method)(**params)
        except ClientError as exc:
            if _error_code(exc) in not_configured:
                LOG.debug("%s on %s: not configured (%s)", operation, target, _error_code(exc))
                return None
            return self._failed(operation, target, _client_error_reason(exc))
        except ParamValidationError:
            raise  # a bug in the scanner, not a response from AWS
        except BotoCoreError as exc:
            return self._failed(operation, target, f"{type(exc).__name__}: {exc}")
        return body_without_metadata(body)

    def pages(self, service: str, method: str, target: str, *, region: str | None = None,
              **params: Any) -> tuple[list[dict[str, Any]], Failure | None]:
        """Read every page of a listing and return (pages, failure).

        Uses the boto3 paginator when the operation has one, and follows ``NextToken``
        otherwise. When a page fails, the pages before it are returned with the failure,
        and the caller must treat the listing as incomplete.
        """
        client = self.client(service, region)
        operation = _operation(client, service, method)
        if client.can_paginate(method):
            iterator = client.get_paginator(method).paginate(**params)
        else:
            iterator = _follow_next_token(client, method, params)
        pages: list[dict[str, Any]] = []
        try:
            for page in iterator:
                self.calls[service] += 1
                LOG.debug("%s on %s: page %d", operation, target, len(pages) + 1)
                pages.append(body_without_metadata(page))
        except ClientError as exc:
            self.calls[service] += 1
            return pages, self._failed(operation, target, _client_error_reason(exc))
        except ParamValidationError:
            raise
        except BotoCoreError as exc:
            self.calls[service] += 1
            return pages, self._failed(operation, target, f"{type(exc).__name__}: {exc}")
        return pages, None

    def items(self, service: str, method: str, target: str, key: str, *, region: str | None = None,
              **params: Any) -> Read:
        """Read every page of a listing and return ``{key: [all items]}``, or the Failure.

        For listings inside one resource, where a partial list would look complete.
        """
        pages, failure = self.pages(service, method, target, region=region, **params)
        if failure is not None:
            return failure
        return {key: [item for page in pages for item in page.get(key, [])]}

    @staticmethod
    def _failed(operation: str, target: str, reason: str) -> Failure:
        LOG.warning("%s on %s failed, so what it reads is unknown: %s", operation, target, reason)
        return Failure(operation, reason)


@dataclass(frozen=True)
class ScanContext:
    """Reader and tenant that every service module works with."""

    reader: Reader
    customer: str
    account_id: str
    partition: str = "aws"


def is_read_operation(name: str) -> bool:
    """Return True when an API operation name (``GetBucketPolicy``) starts with a read verb."""
    return name.startswith(READ_PREFIXES)


def _operation(client: Any, service: str, method: str) -> str:
    name = client.meta.method_to_api_mapping[method]
    if not is_read_operation(name):
        raise ValueError(f"{service}:{name} is not a read operation; the scanner only reads")
    return f"{service}:{name}"


def _follow_next_token(client: Any, method: str, params: Mapping[str, Any]):
    """Yield pages of an operation that has no boto3 paginator but takes ``NextToken``."""
    name = client.meta.method_to_api_mapping[method]
    members = client.meta.service_model.operation_model(name).input_shape.members
    request = dict(params)
    while True:
        page = getattr(client, method)(**request)
        yield page
        token = page.get("NextToken")
        if not token or "NextToken" not in members:
            return
        request["NextToken"] = token


def _error_code(exc: ClientError) -> str:
    return str(exc.response.get("Error", {}).get("Code", ""))


def _client_error_reason(exc: ClientError) -> str:
    """Summarise a ClientError in one line: code, message, and retries when there were some."""
    error = exc.response.get("Error", {})
    metadata = exc.response.get("ResponseMetadata", {})
    status = metadata.get("HTTPStatusCode")
    code = str(error.get("Code", ""))
    if not code or code.isdigit():
        code = f"HTTP {status}"
    message = str(error.get("Message", "")).strip()
    # Servers that fail badly (moto's unimplemented operations, a proxy) send an HTML page.
    if message.startswith("<"):
        message = ""
    message = message.splitlines()[0][:_MAX_MESSAGE] if message else ""
    reason = f"{code}: {message}" if message else code
    retries = metadata.get("RetryAttempts") or 0
    if retries:
        reason += f" (after {retries} retries)"
    return reason
