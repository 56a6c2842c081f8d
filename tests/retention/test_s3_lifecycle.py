"""Bucket retention from lifecycle rules, versioning and Object Lock."""

from __future__ import annotations

import datetime as dt

import pytest

from datamap.retention import (
    ObjectScope, bucket_retention, covers_every_object, deletes_noncurrent_versions, object_lock, object_retention,
)
from datamap.retention.s3_config import ConfigError

VERSIONED = {"Status": "Enabled", "MFADelete": "Disabled"}
SUSPENDED = {"Status": "Suspended", "MFADelete": "Disabled"}


def rule(rule_id: str, filter_: dict | None = None, status: str = "Enabled", **actions) -> dict:
    out = {"ID": rule_id, "Status": status, **actions}
    if filter_ is not None:
        out["Filter"] = filter_
    return out


def bucket(*rules: dict, versioning: dict | None = None, lock: dict | None = None, lifecycle: bool = True) -> dict:
    return {"Name": "b", "Versioning": versioning if versioning is not None else {},
            "LifecycleConfiguration": {"Rules": list(rules)} if lifecycle else None,
            "ObjectLockConfiguration": lock, "ReplicationConfiguration": None}


def test_unversioned_whole_bucket_expiration():
    result = bucket_retention(bucket(rule("e90", {}, Expiration={"Days": 90})))

    assert result.current.days == 90
    assert result.current.decided_by == ("lifecycle rule e90",)
    assert result.noncurrent.days == 0
    assert "never enabled" in result.noncurrent.reason
    assert result.data == result.current
    assert result.per_version_locks_possible is False


def test_no_lifecycle_keeps_forever():
    result = bucket_retention(bucket(lifecycle=False))

    assert result.current.is_forever
    assert result.current.reason == ("bucket b has no lifecycle rules, so no rule expires current versions "
                                     "of every object")
    assert result.current.decided_by == ("LifecycleConfiguration",)


def test_unread_lifecycle_is_unknown():
    raw = bucket()
    del raw["LifecycleConfiguration"]
    result = bucket_retention(raw)

    assert result.current.is_unknown
    assert result.data.is_unknown
    assert "was not read" in result.current.reason


def test_unread_versioning_leaves_current_known():
    raw = bucket(rule("e", {}, Expiration={"Days": 5}))
    del raw["Versioning"]
    result = bucket_retention(raw)

    assert result.current.days == 5
    assert result.noncurrent.is_unknown
    assert "versioning state of bucket b was not read" in result.data.reason


def test_unread_object_lock_is_unknown():
    raw = bucket(rule("e", {}, Expiration={"Days": 5}), versioning=VERSIONED)
    del raw["ObjectLockConfiguration"]

    assert bucket_retention(raw).noncurrent.is_unknown


@pytest.mark.parametrize("bad_rule, text", [
    (rule("zero", {}, Expiration={"Days": 0}), "not a positive whole number"),
    (rule("date", {}, Expiration={"Date": "next year"}), "not an ISO-8601 date"),
    (rule("both", {}, Prefix="x"), "both Filter and a rule-level Prefix"),
    (rule("nc", {}, NoncurrentVersionExpiration={"NoncurrentDays": -3}), "not a positive whole number"),
])
def test_malformed_rule_is_unknown(bad_rule, text):
    result = bucket_retention(bucket(bad_rule))

    assert result.current.is_unknown
    assert text in result.current.reason


def test_rules_not_a_list_is_unknown():
    raw = bucket()
    raw["LifecycleConfiguration"] = {"Rules": "all"}

    assert bucket_retention(raw).current.is_unknown


def test_overlapping_rules_earliest_wins():
    raw = bucket(rule("logs-10", {"Prefix": "logs/"}, Expiration={"Days": 10}),
                 rule("all-90", {}, Expiration={"Days": 90}))

    assert bucket_retention(raw).current.days == 90
    logs = object_retention(raw, "logs/a.txt").current
    assert logs.days == 10
    assert logs.decided_by == ("lifecycle rule logs-10",)


def test_prefix_only_rule_leaves_other_keys_forever():
    result = bucket_retention(bucket(rule("logs-30", {"Prefix": "logs/"}, Expiration={"Days": 30})))

    assert result.current.is_forever
    assert "lifecycle rule logs-30 applies only to keys starting with 'logs/'" in result.current.reason


def test_legacy_prefix_rule():
    raw = bucket(rule("old", None, Prefix="", Expiration={"Days": 3}))

    assert bucket_retention(raw).current.days == 3


def test_rule_without_filter_covers_bucket():
    assert bucket_retention(bucket(rule("bare", None, Expiration={"Days": 4}))).current.days == 4


def test_disabled_and_non_expiring_rules_named():
    raw = bucket(rule("off", {}, status="Disabled", Expiration={"Days": 1}),
                 rule("archive", {}, Transitions=[{"Days": 30, "StorageClass": "GLACIER"}]),
                 rule("markers", {}, Expiration={"ExpiredObjectDeleteMarker": True}))
    reason = bucket_retention(raw).current.reason

    assert "lifecycle rule off is disabled" in reason
    assert "lifecycle rule archive does not expire current versions" in reason
    assert "lifecycle rule markers does not expire current versions (ExpiredObjectDeleteMarker" in reason


def test_size_filter_leaves_small_objects():
    raw = bucket(rule("big", {"ObjectSizeGreaterThan": 1000}, Expiration={"Days": 7}))
    result = bucket_retention(raw)

    assert result.current.is_forever
    assert result.current.reason.startswith("for objects of 0 bytes, ")
    assert object_retention(raw, "k", size=2000).current.days == 7
    assert object_retention(raw, "k", size=1000).current.is_forever


def test_size_filters_together_cover_every_size():
    raw = bucket(rule("small", {"ObjectSizeLessThan": 100}, Expiration={"Days": 30}),
                 rule("large", {"ObjectSizeGreaterThan": 50}, Expiration={"Days": 60}))

    assert covers_every_object(raw).value is True
    result = bucket_retention(raw).current
    assert result.days == 60
    assert result.decided_by == ("lifecycle rule large",)


def test_size_filters_with_gap_do_not_cover():
    raw = bucket(rule("small", {"ObjectSizeLessThan": 100}, Expiration={"Days": 30}),
                 rule("large", {"ObjectSizeGreaterThan": 100}, Expiration={"Days": 60}))
    verdict = covers_every_object(raw)

    assert verdict.value is False
    assert "objects of 100 bytes" in verdict.reason


def test_empty_objects_escape_size_greater_than_zero():
    raw = bucket(rule("nonempty", {"And": {"Prefix": "", "ObjectSizeGreaterThan": 0}}, Expiration={"Days": 9}))

    assert covers_every_object(raw).value is False
    assert object_retention(raw, "empty.txt", size=0).current.is_forever


def test_covers_every_object_names_rule():
    verdict = covers_every_object(bucket(rule("all", {}, Expiration={"Days": 9})))

    assert verdict.value is True
    assert verdict.decided_by == ("lifecycle rule all",)


def test_covers_every_object_unknown_when_unread():
    raw = bucket()
    del raw["LifecycleConfiguration"]

    assert covers_every_object(raw).value is None


def test_tag_filter_needs_the_tag():
    raw = bucket(rule("tagged", {"Tag": {"Key": "t", "Value": "1"}}, Expiration={"Days": 2}))

    assert object_retention(raw, "x", {"t": "1"}).current.days == 2
    assert object_retention(raw, "x", {"t": "2"}).current.is_forever
    assert bucket_retention(raw, ObjectScope(tags={"t": "1"})).current.days == 2


def test_versioned_data_adds_noncurrent_days():
    raw = bucket(rule("clean", {}, Expiration={"Days": 30}, NoncurrentVersionExpiration={"NoncurrentDays": 7}),
                 versioning=VERSIONED)
    result = bucket_retention(raw)

    assert result.current.days == 30
    assert result.noncurrent.days == 7
    assert result.data.days == 37
    assert result.data.reason == ("lifecycle rule clean expires current versions 30 days after creation, and then "
                                  "lifecycle rule clean deletes noncurrent versions 7 days after they become "
                                  "noncurrent")


def test_versioned_without_noncurrent_rule_keeps_data():
    result = bucket_retention(bucket(rule("e", {}, Expiration={"Days": 30}), versioning=VERSIONED))

    assert result.noncurrent.is_forever
    assert result.data.is_forever
    assert "has no NoncurrentVersionExpiration" in result.noncurrent.reason


def test_newer_noncurrent_versions_keep_newest_forever():
    raw = bucket(rule("keep3", {}, NoncurrentVersionExpiration={"NoncurrentDays": 1, "NewerNoncurrentVersions": 3}),
                 versioning=VERSIONED)
    result = bucket_retention(raw).noncurrent

    assert result.is_forever
    assert "keeps the 3 newest noncurrent versions" in result.reason


def test_plain_noncurrent_rule_bounds_newer_versions_rule():
    raw = bucket(rule("keep3", {}, NoncurrentVersionExpiration={"NoncurrentDays": 1, "NewerNoncurrentVersions": 3}),
                 rule("cap", {}, NoncurrentVersionExpiration={"NoncurrentDays": 60}), versioning=VERSIONED)

    assert bucket_retention(raw).noncurrent.days == 60


def test_suspended_versioning_keeps_old_versions():
    raw = bucket(rule("nc", {}, NoncurrentVersionExpiration={"NoncurrentDays": 5}), versioning=SUSPENDED)
    result = bucket_retention(raw)

    assert result.noncurrent.days == 5
    assert "versioning is suspended" in result.noncurrent.notes[0]


def test_object_lock_default_outlives_lifecycle():
    lock = {"ObjectLockEnabled": "Enabled", "Rule": {"DefaultRetention": {"Mode": "COMPLIANCE", "Days": 365}}}
    raw = bucket(rule("c", {}, Expiration={"Days": 30}, NoncurrentVersionExpiration={"NoncurrentDays": 7}),
                 versioning=VERSIONED, lock=lock)
    result = bucket_retention(raw)

    assert result.current.days == 30
    assert result.noncurrent.days == 365
    assert result.data.days == 365
    assert result.data.decided_by == ("Object Lock default retention (COMPLIANCE, 365 days)",)
    assert result.per_version_locks_possible is True


def test_lifecycle_longer_than_object_lock_wins():
    lock = {"ObjectLockEnabled": "Enabled", "Rule": {"DefaultRetention": {"Mode": "GOVERNANCE", "Days": 1}}}
    raw = bucket(rule("c", {}, Expiration={"Days": 30}, NoncurrentVersionExpiration={"NoncurrentDays": 7}),
                 versioning=VERSIONED, lock=lock)

    assert bucket_retention(raw).data.days == 37


def test_object_lock_years_counts_leap_days():
    lock = object_lock({"ObjectLockConfiguration": {"ObjectLockEnabled": "Enabled",
                                                    "Rule": {"DefaultRetention": {"Mode": "COMPLIANCE",
                                                                                  "Years": 1}}}})
    assert lock.default_days == 366
    assert lock.notes


def test_object_lock_without_default_rule():
    lock = object_lock({"ObjectLockConfiguration": {"ObjectLockEnabled": "Enabled"}})

    assert lock.enabled is True
    assert lock.default_days is None


def test_object_lock_unknown_element_rejected():
    raw = {"Name": "b", "ObjectLockConfiguration": {"ObjectLockEnabled": "Enabled", "Rule": {
        "DefaultRetention": {"Mode": "COMPLIANCE", "DefaultEventHold": {"Days": 3}}}}}
    with pytest.raises(ConfigError, match="DefaultEventHold"):
        object_lock(raw)


def test_date_rule_with_known_creation():
    raw = bucket(rule("cutover", {}, Expiration={"Date": "2030-01-01T00:00:00.000Z"}))

    before = bucket_retention(raw, created=dt.date(2029, 12, 1)).current
    after = bucket_retention(raw, created=dt.date(2030, 6, 1)).current
    assert before.days == 31
    assert after.days == 0


def test_date_rule_in_the_past_expires_at_once():
    raw = bucket(rule("cutover", {}, Expiration={"Date": "2020-01-01T00:00:00+00:00"}))

    assert bucket_retention(raw, today=dt.date(2024, 1, 1)).current.days == 0


def test_date_rule_in_the_future_is_unknown():
    raw = bucket(rule("cutover", {}, Expiration={"Date": dt.datetime(2030, 1, 1)}))
    result = bucket_retention(raw, today=dt.date(2024, 1, 1)).current

    assert result.is_unknown
    assert "creation date" in result.reason
    assert bucket_retention(raw).current.is_unknown


def test_days_rule_bounds_beside_future_date():
    raw = bucket(rule("cutover", {}, Expiration={"Date": "2030-01-01"}), rule("d", {}, Expiration={"Days": 5}))

    assert bucket_retention(raw, today=dt.date(2024, 1, 1)).current.days == 5


def test_float_days_from_pulumi_mocks():
    assert bucket_retention(bucket(rule("e", {}, Expiration={"Days": 30.0}))).current.days == 30


def test_deletes_noncurrent_versions():
    with_rule = bucket(rule("nc", {}, NoncurrentVersionExpiration={"NoncurrentDays": 3}), versioning=VERSIONED)
    disabled = bucket(rule("nc", {}, status="Disabled", NoncurrentVersionExpiration={"NoncurrentDays": 3}),
                      versioning=VERSIONED)
    unversioned = bucket(rule("nc", {}, NoncurrentVersionExpiration={"NoncurrentDays": 3}))

    assert deletes_noncurrent_versions(with_rule).value is True
    assert deletes_noncurrent_versions(disabled).value is False
    assert "lifecycle rule nc is disabled" in deletes_noncurrent_versions(disabled).reason
    assert deletes_noncurrent_versions(unversioned).value is False


def test_deletes_noncurrent_unknown_when_unread():
    raw = bucket(versioning=VERSIONED)
    del raw["Versioning"]

    assert deletes_noncurrent_versions(raw).value is None


def test_date_object_accepted():
    raw = bucket(rule("cutover", {}, Expiration={"Date": dt.date(2030, 1, 1)}))

    assert bucket_retention(raw, created=dt.date(2029, 12, 31)).current.days == 1


def test_malformed_settings_are_unknown():
    not_a_rule = bucket()
    not_a_rule["LifecycleConfiguration"] = {"Rules": ["expire"]}
    odd_versioning = bucket(versioning={"Status": "Paused"})
    no_period = bucket(versioning=VERSIONED, lock={"ObjectLockEnabled": "Enabled",
                                                   "Rule": {"DefaultRetention": {"Mode": "COMPLIANCE"}}})

    assert "is not a mapping" in bucket_retention(not_a_rule).current.reason
    assert "versioning status 'Paused'" in bucket_retention(odd_versioning).noncurrent.reason
    assert "neither Days nor Years" in bucket_retention(no_period).data.reason
