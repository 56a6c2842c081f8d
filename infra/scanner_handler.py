"""Lambda handler of ScheduledScanner: scan and check one tenant, store the findings, publish new failures.

Environment variables (set by ``infra.components.scanner``):

- ``PILOT_CUSTOMER``: the tenant's customer id;
- ``RESULTS_BUCKET``: bucket for ``findings/<customer>/<UTC time>.json`` and
  ``findings/<customer>/latest.json``;
- ``TOPIC_ARN``: SNS topic for failures that the previous run did not report;
- ``PILOT_SPEC_FILE`` (optional): path of ``Pulumi.<customer>.yaml``. Without it the
  checks that need the pilot spec are unknown;
- ``AWS_REGION`` (set by Lambda) and ``AWS_ENDPOINT_URL`` (optional, honoured by boto3).
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import os
from typing import Any

import boto3

log = logging.getLogger(__name__)

# SNS rejects subjects longer than 100 characters.
MAX_SUBJECT = 100
MAX_LISTED = 50


def handler(event: dict[str, Any] | None = None, context: Any = None) -> dict[str, Any]:
    """Run one scheduled scan; return the S3 key of the findings, the counts and the number of new failures."""
    from datamap.access import build_matrix
    from datamap.sources.live import scan
    from infra.spec import load_stack_file
    from policies.engine import run_checks
    from policies.formats.json_out import to_json

    customer = os.environ["PILOT_CUSTOMER"]
    bucket = os.environ["RESULTS_BUCKET"]
    topic_arn = os.environ["TOPIC_ARN"]
    spec_file = os.environ.get("PILOT_SPEC_FILE", "")
    spec = load_stack_file(spec_file) if spec_file else None

    inventory = scan(customer, region=os.environ.get("AWS_REGION"))
    matrix = build_matrix(inventory, spec)
    now = dt.datetime.now(dt.UTC)
    report = to_json(run_checks(inventory, spec, matrix, now.date()))

    s3 = boto3.client("s3")
    latest_key = f"findings/{customer}/latest.json"
    previous = _read_previous(s3, bucket, latest_key)
    new = new_failures(report, previous)
    body = json.dumps(report, indent=2, sort_keys=True).encode("utf-8")
    key = f"findings/{customer}/{now.strftime('%Y-%m-%dT%H%M%SZ')}.json"
    s3.put_object(Bucket=bucket, Key=key, Body=body, ContentType="application/json")
    s3.put_object(Bucket=bucket, Key=latest_key, Body=body, ContentType="application/json")

    if new:
        subject, message = new_failures_message(customer, new, first_run=previous is None)
        boto3.client("sns").publish(TopicArn=topic_arn, Subject=subject, Message=message)
    log.info("scanned %s: %s; %d new failures -> s3://%s/%s", customer, report["counts"], len(new), bucket, key)
    return {"customer": customer, "key": key, "counts": report["counts"], "new_failures": len(new)}


def new_failures(report: dict, previous: dict | None) -> list[dict]:
    """Return the failures of ``report`` whose rule and resource ARN did not fail in ``previous``."""
    before = {(f["rule_id"], f["resource"]["arn"]) for f in (previous or {}).get("findings", ())
              if f["status"] == "fail"}
    return [f for f in report["findings"]
            if f["status"] == "fail" and (f["rule_id"], f["resource"]["arn"]) not in before]


def new_failures_message(customer: str, failures: list[dict], first_run: bool) -> tuple[str, str]:
    """Return the SNS subject and message text that list the new failures, one per line."""
    since = "in the first scan" if first_run else "since the previous scan"
    subject = f"pilotctl: {len(failures)} new failures in {customer}"[:MAX_SUBJECT]
    lines = [f"{len(failures)} new failures in tenant {customer} {since}:"]
    for failure in failures[:MAX_LISTED]:
        resource = failure["resource"]["name"] or failure["resource"]["arn"]
        lines.append(f"- {failure['rule_id']} ({failure['severity']}) {resource}: {failure['message']}")
    if len(failures) > MAX_LISTED:
        lines.append(f"and {len(failures) - MAX_LISTED} more in the findings file")
    return subject, "\n".join(lines)


def _read_previous(s3, bucket: str, key: str) -> dict | None:
    try:
        response = s3.get_object(Bucket=bucket, Key=key)
    except s3.exceptions.NoSuchKey:
        return None
    return json.loads(response["Body"].read())
