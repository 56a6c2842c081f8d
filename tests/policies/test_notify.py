"""Webhook notifications, posted to a local HTTP server on 127.0.0.1."""

from __future__ import annotations

import json
import socket
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from infra.errors import InputError
from policies import notify
from policies.findings import Finding, ResourceRef, Severity, Status
from policies.history import FindingChange


class Webhook:
    """A local webhook that returns the next status of ``statuses`` (then 200) and keeps each request body."""

    def __init__(self) -> None:
        self.statuses: list[int] = []
        self.bodies: list[dict] = []
        self.paths: list[str] = []
        webhook = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers["Content-Length"])
                webhook.bodies.append(json.loads(self.rfile.read(length)))
                webhook.paths.append(self.path)
                status = webhook.statuses.pop(0) if webhook.statuses else 200
                payload = b"ok" if status == 200 else b"invalid_payload"
                self.send_response(status)
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            def log_message(self, *args) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}/services/T000/SECRET"

    def __enter__(self) -> Webhook:
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return self

    def __exit__(self, *exc_info) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def webhook(monkeypatch: pytest.MonkeyPatch) -> Iterator[Webhook]:
    for name in ("http_proxy", "HTTP_PROXY", "https_proxy", "HTTPS_PROXY", "all_proxy", "ALL_PROXY"):
        monkeypatch.delenv(name, raising=False)
    with Webhook() as server:
        yield server


def change(rule: str, resource: str, message: str) -> FindingChange:
    return FindingChange(rule_id=rule, resource_arn=f"arn:aws:s3:::{resource}", resource_name=resource,
                         severity="high", message=message, before="pass", after="fail",
                         first_seen="2026-12-01T00:00:00Z")


NEW = [change("RET-001", "acme-records", "bucket acme-records keeps noncurrent versions forever"),
       change("ACC-002", "acme-reports", "person bob may delete objects in acme-reports <bucket>")]


def test_notify_body_lists_failures(webhook: Webhook) -> None:
    notify.notify_new_failures(NEW, webhook.url, "acme")
    assert len(webhook.bodies) == 1
    body = webhook.bodies[0]
    assert webhook.paths == ["/services/T000/SECRET"]
    assert body["text"].startswith("pilotctl: 2 new failures in tenant acme since the last scan")
    assert "RET-001 acme-records: bucket acme-records keeps noncurrent versions forever" in body["text"]
    assert body["blocks"][0]["type"] == "header"
    sections = [block["text"]["text"] for block in body["blocks"] if block["type"] == "section"]
    assert len(sections) == 2
    assert sections[0] == "*RET-001* (high) on `acme-records`\nbucket acme-records keeps noncurrent versions forever"
    assert "&lt;bucket&gt;" in sections[1]


def test_notify_accepts_findings(webhook: Webhook) -> None:
    finding = Finding(rule_id="AUD-001", status=Status.FAIL, severity=Severity.CRITICAL,
                      resource=ResourceRef("arn:aws:cloudtrail:us-east-1:1:trail/t", "acme-trail"),
                      observed="off", expected="on", message="trail acme-trail is not logging", fix="start it")
    notify.notify_new_failures([finding], webhook.url, "acme")
    section = webhook.bodies[0]["blocks"][1]["text"]["text"]
    assert section == "*AUD-001* (critical) on `acme-trail`\ntrail acme-trail is not logging"


def test_notify_nothing_new_posts_nothing(webhook: Webhook) -> None:
    notify.notify_new_failures([], webhook.url, "acme")
    assert webhook.bodies == []


def test_notify_retries_on_500(webhook: Webhook) -> None:
    webhook.statuses = [500, 503]
    notify.notify_new_failures(NEW, webhook.url, "acme", backoff=0.01)
    assert len(webhook.bodies) == 3
    assert webhook.bodies[0] == webhook.bodies[2]


def test_notify_error_after_retries(webhook: Webhook) -> None:
    webhook.statuses = [500, 500, 500]
    with pytest.raises(notify.NotifyError) as caught:
        notify.notify_new_failures(NEW, webhook.url, "acme", backoff=0.01)
    message = str(caught.value)
    assert len(webhook.bodies) == 3
    assert "HTTP 500" in message
    assert "after 3 attempts" in message
    assert "invalid_payload" in message
    assert f"http://127.0.0.1:{webhook.server.server_port}/…" in message
    assert "SECRET" not in message


def test_notify_no_retry_on_400(webhook: Webhook) -> None:
    webhook.statuses = [400]
    with pytest.raises(notify.NotifyError, match="HTTP 400") as caught:
        notify.notify_new_failures(NEW, webhook.url, "acme", backoff=0.01)
    assert len(webhook.bodies) == 1
    assert "attempts" not in str(caught.value)


def test_notify_unreachable_host() -> None:
    # A port that was just free and is now closed, so every attempt is refused.
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    with pytest.raises(notify.NotifyError, match="connection failed") as caught:
        notify.notify_new_failures(NEW, f"http://127.0.0.1:{port}/hook", "acme", timeout=2, backoff=0.01)
    assert "after 3 attempts" in str(caught.value)


@pytest.mark.parametrize("url", ["", "ftp://example.invalid/x", "hooks.slack.com/services/x", "http:///path"])
def test_notify_invalid_url(url: str) -> None:
    with pytest.raises(InputError, match="--webhook: invalid URL"):
        notify.notify_new_failures(NEW, url, "acme")


def test_payload_caps_listed_failures() -> None:
    many = [notify.FailureLine(f"R-{i:03}", "low", f"store-{i}", "m") for i in range(notify.MAX_LISTED + 5)]
    payload = notify.build_payload("acme", many)
    assert len(payload["blocks"]) == notify.MAX_LISTED + 2
    assert payload["blocks"][-1]["elements"][0]["text"].startswith("and 5 more")
