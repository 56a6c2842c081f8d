"""checkov 3.3.30 on the converted acme plan and on a broken variant of it.

Each checkov run takes about 3 s, so each plan runs once per module and the tests
read the shared result. A missing ``.venv-checkov`` fails these tests with the
command that installs it; deselect them with ``-m "not checkov"``.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from plan_variants import variant

from infra import tags
from infra.sandbox.program import Registered
from policies.checkov.runner import CheckovError, CheckovResult, run_checkov

pytestmark = pytest.mark.checkov

BUCKETS = ("pilot-acme-storage-records", "pilot-acme-storage-reports", "pilot-acme-audit-bucket")
# checkov's checks that need the split S3 resources linked to their bucket.
BUCKET_CHECKS = (
    "CKV2_AWS_61",  # lifecycle configuration exists
    "CKV_AWS_21",   # versioning enabled
    "CKV2_AWS_6",   # public access block blocks public ACLs and policies
    "CKV_AWS_145",  # SSE-KMS by default
)
# Checks on the aws_s3_bucket_public_access_block resource itself.
PUBLIC_ACCESS_CHECKS = ("CKV_AWS_53", "CKV_AWS_54", "CKV_AWS_55", "CKV_AWS_56")
# Checks that fail on acme because the program does not configure what they ask for
# (event notifications, cross-region replication, access logging), and pilotctl's own.
# None of them depends on a link between split resources.
BUCKET_FAILURES_ON_ACME = {"CKV2_AWS_62", "CKV_AWS_144", "CKV_AWS_18", "CKV_PILOT_1"}
SPLIT_S3_TYPES = (
    "aws_s3_bucket_versioning",
    "aws_s3_bucket_server_side_encryption_configuration",
    "aws_s3_bucket_public_access_block",
    "aws_s3_bucket_lifecycle_configuration",
    "aws_s3_bucket_ownership_controls",
    "aws_s3_bucket_policy",
)


def result_of(run: CheckovResult, check_id: str, pulumi_name: str) -> str | None:
    """Return passed, failed or skipped, or None when checkov did not check that resource."""
    address = run.plan.address_of(pulumi_name)
    return run.results(check_id).get(address)


def details_of(run: CheckovResult, check_id: str, pulumi_name: str) -> str:
    return " | ".join(d for r in run.for_resource(pulumi_name) if r.check_id == check_id for d in r.details)


@pytest.fixture(scope="module")
def acme_run(acme_resources: list[Registered], tmp_path_factory: pytest.TempPathFactory) -> CheckovResult:
    return run_checkov(acme_resources, tmp_path_factory.mktemp("checkov-acme"))


def suspend_versioning(resource: Registered) -> None:
    resource.inputs["versioningConfiguration"]["status"] = "Suspended"


def encrypt_with_s3_keys(resource: Registered) -> None:
    resource.inputs["rules"][0]["applyServerSideEncryptionByDefault"] = {"sseAlgorithm": "AES256"}


def allow_public_access(resource: Registered) -> None:
    for setting in ("blockPublicAcls", "blockPublicPolicy", "ignorePublicAcls", "restrictPublicBuckets"):
        resource.inputs[setting] = False


def keep_incomplete_uploads(resource: Registered) -> None:
    del resource.inputs["rules"][0]["abortIncompleteMultipartUpload"]


def zero_retention_tag(resource: Registered) -> None:
    resource.inputs["tags"][tags.RETENTION_DAYS] = "0"


def drop_customer_tag(resource: Registered) -> None:
    del resource.inputs["tags"][tags.CUSTOMER]


def keep_logs_longer(resource: Registered) -> None:
    resource.inputs["retentionInDays"] = 60


@pytest.fixture(scope="module")
def broken_run(acme_resources: list[Registered], tmp_path_factory: pytest.TempPathFactory) -> CheckovResult:
    """acme with the records bucket's split resources removed and the reports bucket's weakened.

    The audit bucket stays intact, so its passes show that each split resource counts
    only for its own bucket.
    """
    records, reports = BUCKETS[0], BUCKETS[1]
    resources = variant(
        acme_resources,
        drop=(f"{records}-versioning", f"{records}-lifecycle", f"{records}-public-access", f"{records}-encryption"),
        change={
            f"{reports}-versioning": suspend_versioning,
            f"{reports}-encryption": encrypt_with_s3_keys,
            f"{reports}-public-access": allow_public_access,
            f"{reports}-lifecycle": keep_incomplete_uploads,
            records: zero_retention_tag,
            reports: drop_customer_tag,
            "pilot-acme-storage-app-logs": keep_logs_longer,
        })
    return run_checkov(resources, tmp_path_factory.mktemp("checkov-broken"))


@pytest.mark.parametrize("check_id", BUCKET_CHECKS)
@pytest.mark.parametrize("bucket", BUCKETS)
def test_acme_bucket_check_passes(acme_run: CheckovResult, check_id: str, bucket: str):
    assert result_of(acme_run, check_id, bucket) == "passed", details_of(acme_run, check_id, bucket)


@pytest.mark.parametrize("check_id", PUBLIC_ACCESS_CHECKS)
@pytest.mark.parametrize("bucket", BUCKETS)
def test_acme_public_access_check_passes(acme_run: CheckovResult, check_id: str, bucket: str):
    assert result_of(acme_run, check_id, f"{bucket}-public-access") == "passed"


def test_acme_split_resources_cause_no_failures(acme_run: CheckovResult):
    split_failures = [(r.check_id, r.address) for r in acme_run.failed()
                      if r.address.split(".")[0] in SPLIT_S3_TYPES]
    assert split_failures == []
    bucket_failures = {r.check_id for r in acme_run.failed() if r.address.startswith("aws_s3_bucket.")}
    assert bucket_failures <= BUCKET_FAILURES_ON_ACME


def test_acme_records_trace_to_pulumi(acme_run: CheckovResult):
    untraced = [r.address for r in acme_run.records if r.pulumi_name is None]
    assert untraced == []
    assert acme_run.checkov_version == "3.3.30"


@pytest.mark.parametrize("store", ["pilot-acme-storage-records", "pilot-acme-storage-reports",
                                   "pilot-acme-storage-app-logs"])
def test_retention_tags_pass_on_stores(acme_run: CheckovResult, store: str):
    assert result_of(acme_run, "CKV_PILOT_1", store) == "passed", details_of(acme_run, "CKV_PILOT_1", store)


@pytest.mark.parametrize("resource", ["pilot-acme-audit-bucket", "pilot-acme-audit-log-group"])
def test_retention_tags_pass_on_audit(acme_run: CheckovResult, resource: str):
    assert result_of(acme_run, "CKV_PILOT_1", resource) == "passed", details_of(acme_run, "CKV_PILOT_1", resource)


BROKEN_EXPECTED = [
    # (check, Pulumi resource, result): dropped split resources
    ("CKV_AWS_21", "pilot-acme-storage-records", "failed"),
    ("CKV2_AWS_61", "pilot-acme-storage-records", "failed"),
    ("CKV2_AWS_6", "pilot-acme-storage-records", "failed"),
    ("CKV_AWS_145", "pilot-acme-storage-records", "failed"),
    # weakened split resources
    ("CKV_AWS_21", "pilot-acme-storage-reports", "failed"),
    ("CKV2_AWS_6", "pilot-acme-storage-reports", "failed"),
    ("CKV_AWS_145", "pilot-acme-storage-reports", "failed"),
    ("CKV2_AWS_61", "pilot-acme-storage-reports", "passed"),
    ("CKV_AWS_300", "pilot-acme-storage-reports-lifecycle", "failed"),
    ("CKV_AWS_53", "pilot-acme-storage-reports-public-access", "failed"),
    ("CKV_AWS_54", "pilot-acme-storage-reports-public-access", "failed"),
    ("CKV_AWS_55", "pilot-acme-storage-reports-public-access", "failed"),
    ("CKV_AWS_56", "pilot-acme-storage-reports-public-access", "failed"),
    # the intact bucket next to them
    ("CKV_AWS_21", "pilot-acme-audit-bucket", "passed"),
    ("CKV2_AWS_61", "pilot-acme-audit-bucket", "passed"),
    ("CKV2_AWS_6", "pilot-acme-audit-bucket", "passed"),
    ("CKV_AWS_145", "pilot-acme-audit-bucket", "passed"),
    # wrong or missing tags
    ("CKV_PILOT_1", "pilot-acme-storage-records", "failed"),
    ("CKV_PILOT_1", "pilot-acme-storage-reports", "failed"),
    ("CKV_PILOT_1", "pilot-acme-storage-app-logs", "failed"),
]


@pytest.mark.parametrize(("check_id", "resource", "expected"), BROKEN_EXPECTED)
def test_broken_variant_result(broken_run: CheckovResult, check_id: str, resource: str, expected: str):
    assert result_of(broken_run, check_id, resource) == expected


def test_broken_tags_explain_failure(broken_run: CheckovResult):
    records = details_of(broken_run, "CKV_PILOT_1", "pilot-acme-storage-records")
    assert "tag pilot:retention-days is '0'" in records
    reports = details_of(broken_run, "CKV_PILOT_1", "pilot-acme-storage-reports")
    assert "tag pilot:customer is missing" in reports
    logs = details_of(broken_run, "CKV_PILOT_1", "pilot-acme-storage-app-logs")
    assert "retention_in_days is 60, longer than the 30 days" in logs


def test_broken_custom_check_is_error(acme_resources: list[Registered], tmp_path: Path):
    checks = tmp_path / "checks"
    checks.mkdir()
    (checks / "__init__.py").write_text("", encoding="utf-8")
    (checks / "broken_check.py").write_text("raise RuntimeError('broken on purpose')\n", encoding="utf-8")
    with pytest.raises(CheckovError) as caught:
        run_checkov(acme_resources, tmp_path / "work", checks_dir=checks)
    assert "Cannot load external check 'broken_check'" in str(caught.value)
