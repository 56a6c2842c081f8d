"""Backup selections matched against tenant resources."""

from __future__ import annotations

import pytest

from builders import bucket, store_tags
from policies.rules.selection import selects

RECORDS = bucket("records")          # tagged pilot:backup=true
REPORTS = bucket("reports")          # tagged pilot:backup=false


def test_empty_selection_picks_everything():
    assert selects({}, REPORTS) is True


def test_list_of_tags_is_any_of():
    selection = {"ListOfTags": [{"ConditionType": "STRINGEQUALS", "ConditionKey": "pilot:backup",
                                 "ConditionValue": "true"},
                                {"ConditionType": "STRINGEQUALS", "ConditionKey": "aws:ResourceTag/pilot:store",
                                 "ConditionValue": "reports"}]}

    assert selects(selection, RECORDS) is True
    assert selects(selection, REPORTS) is True
    assert selects(selection, bucket("other", name="x", resource_tags=store_tags("other"))) is False


def test_resources_patterns():
    selection = {"Resources": ["arn:aws:s3:::acme-records-*"]}

    assert selects(selection, RECORDS) is True
    assert selects(selection, REPORTS) is False


def test_not_resources_excludes():
    selection = {"Resources": ["*"], "NotResources": [RECORDS.arn]}

    assert selects(selection, RECORDS) is False
    assert selects(selection, REPORTS) is True


@pytest.mark.parametrize("operator, value, records, reports", [
    ("StringEquals", "true", True, False),
    ("StringNotEquals", "true", False, True),
    ("StringLike", "t*", True, False),
    ("StringNotLike", "t*", False, True),
])
def test_conditions_on_resource_tags(operator, value, records, reports):
    selection = {"Resources": ["*"], "Conditions": {operator: [
        {"ConditionKey": "aws:ResourceTag/pilot:backup", "ConditionValue": value}]}}

    assert selects(selection, RECORDS) is records
    assert selects(selection, REPORTS) is reports


def test_condition_on_other_key_excludes_nothing():
    selection = {"Conditions": {"StringEquals": {"ConditionKey": "aws:RequestTag/x", "ConditionValue": "y"}}}

    assert selects(selection, REPORTS) is True
