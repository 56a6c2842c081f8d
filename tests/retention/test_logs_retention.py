"""CloudWatch Logs, CloudTrail trail and event data store retention."""

from __future__ import annotations

import pytest

from datamap.retention import (
    event_data_store_retention, log_group_name, log_group_retention, trail_bucket_retention, trail_key_prefix,
    trail_retention,
)

TRAIL_ARN = "arn:aws:cloudtrail:eu-west-1:111122223333:trail/main"


def trail(**extra) -> dict:
    return {"Name": "main", "S3BucketName": "audit", "TrailARN": TRAIL_ARN, "IsOrganizationTrail": False, **extra}


def audit_bucket(prefix: str, days: int = 365) -> dict:
    return {"Name": "audit", "Versioning": {}, "ObjectLockConfiguration": None,
            "LifecycleConfiguration": {"Rules": [{"ID": "keep", "Filter": {"Prefix": prefix}, "Status": "Enabled",
                                                  "Expiration": {"Days": days}}]}}


@pytest.mark.parametrize("group, expected", [
    ({"logGroupName": "g"}, "forever"),
    ({"logGroupName": "g", "retentionInDays": None}, "forever"),
    ({"logGroupName": "g", "retentionInDays": 30}, "30 days"),
    ({"logGroupName": "g", "retentionInDays": 0}, "unknown"),
    ({"logGroupName": "g", "logGroupClass": "DELIVERY"}, "1 day"),
])
def test_log_group_retention(group, expected):
    assert str(log_group_retention(group)) == expected


def test_log_group_forever_reason():
    result = log_group_retention({"logGroupName": "/pilot/acme/app"})

    assert result.reason == ("log group /pilot/acme/app has no retentionInDays, so CloudWatch Logs keeps its "
                             "events forever")
    assert result.at_least(365) is True
    assert result.at_most(365) is False


@pytest.mark.parametrize("extra, expected", [
    ({}, "AWSLogs/111122223333/CloudTrail/"),
    ({"S3KeyPrefix": "ct"}, "ct/AWSLogs/111122223333/CloudTrail/"),
    ({"IsOrganizationTrail": True}, "AWSLogs/"),
    ({"TrailARN": "not-an-arn"}, "AWSLogs/"),
    ({"IsOrganizationTrail": None}, "AWSLogs/"),
])
def test_trail_key_prefix(extra, expected):
    assert trail_key_prefix(trail(**extra)) == expected


def test_trail_bucket_rule_must_cover_prefix():
    assert trail_bucket_retention(trail(), audit_bucket("AWSLogs/")).data.days == 365
    assert trail_bucket_retention(trail(S3KeyPrefix="ct"), audit_bucket("AWSLogs/")).data.is_forever
    assert trail_bucket_retention(trail(), audit_bucket("AWSLogs/111122223333/CloudTrail/eu-west-1/")).data.is_forever


def test_trail_bucket_must_be_the_trails():
    with pytest.raises(ValueError, match="is not the bucket of trail"):
        trail_bucket_retention(trail(S3BucketName="other"), audit_bucket(""))


def test_trail_retention_takes_longest_place():
    group_arn = "arn:aws:logs:eu-west-1:111122223333:log-group:/pilot/acme/audit-trail:*"
    result = trail_retention(trail(CloudWatchLogsLogGroupArn=group_arn), [audit_bucket("", 30)],
                             [{"logGroupName": "/pilot/acme/audit-trail", "retentionInDays": 365}])

    assert result.bucket.data.days == 30
    assert result.log_group.days == 365
    assert result.longest.days == 365


def test_trail_retention_missing_inputs_unknown():
    group_arn = "arn:aws:logs:eu-west-1:111122223333:log-group:/x:*"
    result = trail_retention(trail(CloudWatchLogsLogGroupArn=group_arn), [], [])

    assert result.bucket is None
    assert result.log_group.is_unknown
    assert result.longest.is_unknown


def test_trail_without_destinations_unknown():
    assert trail_retention({"Name": "t"}, []).longest.is_unknown


def test_log_group_name_from_arn():
    assert log_group_name("arn:aws:logs:r:1:log-group:/a/b:*") == "/a/b"
    assert log_group_name("arn:aws:logs:r:1:log-group:/a/b") == "/a/b"
    assert log_group_name("/a/b") == "/a/b"


def test_event_data_store_retention():
    assert event_data_store_retention({"EventDataStore": {"Name": "s", "RetentionPeriod": 2557}}).days == 2557
    assert event_data_store_retention({"Name": "s", "RetentionPeriod": 7}).days == 7
    assert event_data_store_retention({"Name": "s"}).is_unknown
