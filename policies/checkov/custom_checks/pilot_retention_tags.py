"""CKV_PILOT_1: every tenant store carries the tags that state its owner, retention and class.

pilotctl finds a tenant's stores by tag and compares their retention settings with the
retention the pilot spec promised, so an S3 bucket or log group without these tags is
invisible or unverifiable:

- ``pilot:customer``: the tenant id, not empty;
- ``pilot:retention-days``: a positive whole number of days;
- ``pilot:classification``: one of public, internal, confidential, restricted;
- for a log group, ``retention_in_days`` must be set (0 or missing means logs never
  expire) and must not exceed ``pilot:retention-days``.

A value checkov cannot read, such as tags that are unknown until apply, fails the
check with a detail saying so, because an unverifiable store is not a compliant one.
"""

from __future__ import annotations

import re
from typing import Any

from checkov.common.models.enums import CheckCategories, CheckResult
from checkov.terraform.checks.resource.base_resource_check import BaseResourceCheck

# The same keys and values as infra/tags.py and infra/spec.py in pilotctl; a test
# compares them, since this module cannot import pilotctl.
CUSTOMER_TAG = "pilot:customer"
RETENTION_TAG = "pilot:retention-days"
CLASSIFICATION_TAG = "pilot:classification"
CLASSIFICATIONS = ("public", "internal", "confidential", "restricted")
SUPPORTED_RESOURCES = ("aws_s3_bucket", "aws_cloudwatch_log_group")

_POSITIVE_INTEGER = re.compile(r"^[1-9][0-9]*$")


class PilotRetentionTags(BaseResourceCheck):
    def __init__(self) -> None:
        super().__init__(
            name="Ensure pilot stores are tagged with customer, retention days and classification",
            id="CKV_PILOT_1",
            categories=(CheckCategories.CONVENTION,),
            supported_resources=SUPPORTED_RESOURCES,
            guideline=(f"Tag the resource with {CUSTOMER_TAG}, {RETENTION_TAG} (whole days) and "
                       f"{CLASSIFICATION_TAG}; set a log group's retention_in_days to at most "
                       f"{RETENTION_TAG}."),
        )

    def scan_resource_conf(self, conf: dict[str, list[Any]]) -> CheckResult:
        self.evaluated_keys = ["tags"]
        problems: list[str] = []
        tags = _single(conf.get("tags"))
        if not isinstance(tags, dict):
            problems.append("tags are missing or unknown until apply")
            tags = {}

        customer = tags.get(CUSTOMER_TAG)
        if not isinstance(customer, str) or not customer.strip():
            problems.append(_tag_problem(CUSTOMER_TAG, customer, "the tenant id"))

        retention_days = _positive_days(tags.get(RETENTION_TAG))
        if retention_days is None:
            problems.append(_tag_problem(RETENTION_TAG, tags.get(RETENTION_TAG), "a positive whole number of days"))

        classification = tags.get(CLASSIFICATION_TAG)
        if classification not in CLASSIFICATIONS:
            problems.append(_tag_problem(CLASSIFICATION_TAG, classification,
                                         f"one of {', '.join(CLASSIFICATIONS)}"))

        if self.entity_type == "aws_cloudwatch_log_group":
            self.evaluated_keys.append("retention_in_days")
            problems.extend(_log_retention_problems(_single(conf.get("retention_in_days")), retention_days))

        self.details.extend(problems)
        return CheckResult.FAILED if problems else CheckResult.PASSED


def _single(value: Any) -> Any:
    """Return the value inside checkov's one-element list wrapping, or the value itself."""
    if isinstance(value, list) and len(value) == 1:
        return value[0]
    return value


def _tag_problem(key: str, value: Any, expected: str) -> str:
    if value is None:
        return f"tag {key} is missing; expected {expected}"
    return f"tag {key} is {value!r}; expected {expected}"


def _positive_days(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value if value > 0 else None
    if isinstance(value, str) and _POSITIVE_INTEGER.match(value):
        return int(value)
    return None


def _log_retention_problems(retention: Any, tagged_days: int | None) -> list[str]:
    if retention is None or retention == 0:
        return ["retention_in_days is not set, so the log group keeps logs forever"]
    if isinstance(retention, bool) or not isinstance(retention, int):
        return [f"retention_in_days is {retention!r}; expected a whole number of days"]
    if tagged_days is not None and retention > tagged_days:
        return [f"retention_in_days is {retention}, longer than the {tagged_days} days in {RETENTION_TAG}"]
    return []


check = PilotRetentionTags()
