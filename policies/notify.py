"""Post a tenant's new failures to a Slack-compatible incoming webhook.

The payload is ``{"text": ..., "blocks": [...]}``: ``text`` is the plain fallback that
notifications and clients without Block Kit show, and ``blocks`` lists each new failure
with its rule, resource and message. Any endpoint that accepts Slack's incoming-webhook
JSON (Slack itself, Mattermost, a relay) works.

Webhook URLs usually carry their secret in the path, so errors and logs name only the
scheme and host of the URL.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterable
from dataclasses import dataclass

from infra.errors import InputError, PilotError

log = logging.getLogger(__name__)

WEBHOOK_ENV = "PILOTCTL_WEBHOOK_URL"
ATTEMPTS = 3
BACKOFF_SECONDS = 1.0
# Slack accepts at most 50 blocks per message and 3,000 characters per section text.
MAX_LISTED = 40
MAX_SECTION_CHARS = 3000
# HTTP statuses worth another attempt: rate limiting and server errors.
RETRY_STATUSES = frozenset({408, 429, 500, 502, 503, 504})


class NotifyError(PilotError):
    """The webhook rejected the notification or could not be reached after every attempt."""


@dataclass(frozen=True)
class FailureLine:
    """One new failure as the notification shows it."""

    rule_id: str
    severity: str
    resource: str
    message: str


def add_webhook_option(parser: argparse.ArgumentParser) -> None:
    """Add ``--webhook URL`` to a command that can report new failures."""
    parser.add_argument("--webhook", default=os.environ.get(WEBHOOK_ENV), metavar="URL",
                        help="post each tenant's new failures since its last recorded scan to this "
                             "Slack-compatible incoming webhook (http or https); default: the "
                             f"{WEBHOOK_ENV} environment variable, if set")


def notify_new_failures(new_failures: Iterable, url: str, customer: str, timeout: float = 10, *,
                        attempts: int = ATTEMPTS, backoff: float = BACKOFF_SECONDS) -> None:
    """Post the new failures of one tenant to the webhook at ``url``; post nothing when there are none.

    ``new_failures`` contains ``policies.history.FindingChange`` items (``Diff.new``) or
    ``policies.findings.Finding`` items. ``timeout`` is in seconds per attempt. A
    connection error, a timeout or an HTTP status in ``RETRY_STATUSES`` is retried up to
    ``attempts`` attempts in all, waiting ``backoff`` seconds, then twice that, and so on.
    Raises InputError for a URL that is not http or https, and NotifyError when the last
    attempt fails or the webhook returns another status outside 2xx.
    """
    target = _validate_url(url)
    lines = [failure_line(item) for item in new_failures]
    if not lines:
        log.info("%s: no new failures, so no webhook notification", customer)
        return
    body = json.dumps(build_payload(customer, lines)).encode("utf-8")
    request = urllib.request.Request(url, data=body, method="POST",
                                     headers={"Content-Type": "application/json; charset=utf-8"})
    for attempt in range(1, attempts + 1):
        problem = _post_once(request, timeout)
        if problem is None:
            log.info("%s: posted %d new failures to webhook %s", customer, len(lines), target)
            return
        reason, retry = problem
        if not retry or attempt == attempts:
            tried = f" after {attempt} attempts" if attempt > 1 else ""
            raise NotifyError(f"webhook {target}: posting {len(lines)} new failures of {customer} failed{tried}: "
                              f"{reason}; check the URL and that the webhook accepts Slack-compatible JSON")
        delay = backoff * 2 ** (attempt - 1)
        log.warning("webhook %s: attempt %d of %d failed (%s); retrying in %.1f s", target, attempt, attempts,
                    reason, delay)
        time.sleep(delay)


def failure_line(item) -> FailureLine:
    """Turn a FindingChange or a Finding into the fields the notification shows."""
    if hasattr(item, "resource_arn"):  # policies.history.FindingChange
        resource = item.resource_name or item.resource_arn
    else:                               # policies.findings.Finding
        resource = str(item.resource)
    return FailureLine(rule_id=item.rule_id, severity=str(item.severity), resource=resource, message=item.message)


def build_payload(customer: str, lines: list[FailureLine]) -> dict:
    """Build the Slack-compatible message: a fallback ``text`` and one section block per failure."""
    count = len(lines)
    noun = "failure" if count == 1 else "failures"
    headline = f"pilotctl: {count} new {noun} in tenant {customer} since the last scan"
    blocks: list[dict] = [{"type": "header", "text": {"type": "plain_text", "text": headline[:150]}}]
    for line in lines[:MAX_LISTED]:
        text = (f"*{_escape(line.rule_id)}* ({_escape(line.severity)}) on `{_escape(line.resource)}`\n"
                f"{_escape(line.message)}")
        blocks.append({"type": "section", "text": {"type": "mrkdwn", "text": text[:MAX_SECTION_CHARS]}})
    if count > MAX_LISTED:
        blocks.append({"type": "context", "elements": [{
            "type": "mrkdwn",
            "text": f"and {count - MAX_LISTED} more; run `pilotctl diff {_escape(customer)}` for the full list"}]})
    fallback = "\n".join(f"{line.rule_id} {line.resource}: {line.message}" for line in lines[:MAX_LISTED])
    return {"text": f"{headline}\n{fallback}", "blocks": blocks}


def redact(url: str) -> str:
    """Return the URL's scheme and host only, because webhook paths and queries often contain the secret."""
    parts = urllib.parse.urlsplit(url)
    return f"{parts.scheme}://{parts.netloc.rpartition('@')[2]}/…"


def _validate_url(url: str) -> str:
    parts = urllib.parse.urlsplit(url or "")
    if parts.scheme not in ("http", "https") or not parts.hostname:
        safe_url = redact(url) if parts.scheme and parts.netloc else repr(url)
        raise InputError(f"--webhook: invalid URL {safe_url}; expected an http:// or https:// URL with a host")
    return redact(url)


def _post_once(request: urllib.request.Request, timeout: float) -> tuple[str, bool] | None:
    """Send the request once; return None on a 2xx status, else (reason, whether to retry)."""
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            response.read()
            return None
    except urllib.error.HTTPError as exc:
        detail = exc.read(200).decode("utf-8", "replace").strip()
        reason = f"HTTP {exc.code} {exc.reason}" + (f" ({detail})" if detail else "")
        return reason, exc.code in RETRY_STATUSES
    except (urllib.error.URLError, TimeoutError, ConnectionError) as exc:
        cause = getattr(exc, "reason", exc)
        return f"connection failed: {cause}", True


def _escape(text: str) -> str:
    """Escape the three characters Slack's mrkdwn treats as control characters."""
    return str(text).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
