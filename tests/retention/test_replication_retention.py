"""Replication routes and the retention of replicas."""

from __future__ import annotations

import pytest

from datamap.retention import replica_retention, replicates_to, replication_routes
from datamap.retention.s3_config import ConfigError

VERSIONED = {"Status": "Enabled"}


def source(*rules: dict, versioning: dict | None = None) -> dict:
    return {"Name": "src", "Versioning": versioning or VERSIONED, "ObjectLockConfiguration": None,
            "LifecycleConfiguration": {"Rules": [{"ID": "src-1", "Filter": {}, "Status": "Enabled",
                                                  "Expiration": {"Days": 1},
                                                  "NoncurrentVersionExpiration": {"NoncurrentDays": 1}}]},
            "ReplicationConfiguration": {"Role": "arn:aws:iam::111122223333:role/r", "Rules": list(rules)}}


def route(rule_id: str, destination: str = "arn:aws:s3:::dst", status: str = "Enabled", **extra) -> dict:
    return {"ID": rule_id, "Status": status, "Destination": {"Bucket": destination},
            "Filter": {"Prefix": ""}, **extra}


def replica(*rules: dict) -> dict:
    return {"Name": "dst", "Versioning": VERSIONED, "ObjectLockConfiguration": None,
            "LifecycleConfiguration": {"Rules": list(rules)} if rules else None, "ReplicationConfiguration": None}


def test_routes_read_filter_and_destination():
    (only,) = replication_routes(source(route("r1", Filter={"And": {"Prefix": "a/", "Tags": [
        {"Key": "k", "Value": "v"}]}})))

    assert only.destination == "dst"
    assert only.scope.prefix == "a/"
    assert dict(only.scope.tags) == {"k": "v"}
    assert only.label == "replication rule r1"


def test_routes_read_v1_prefix():
    raw = {"ID": "v1", "Status": "Enabled", "Prefix": "logs/", "Destination": {"Bucket": "arn:aws:s3:::dst"}}
    (only,) = replication_routes(source(raw))

    assert only.scope.prefix == "logs/"


@pytest.mark.parametrize("raw, text", [
    ({"ID": "x", "Status": "Enabled", "Filter": {}}, "no Destination.Bucket"),
    (route("x", Filter={"ObjectSizeGreaterThan": 5}), "does not support"),
    (route("x", Filter={"Prefix": "a", "Tag": {"Key": "k", "Value": "v"}}), "outside an And element"),
])
def test_routes_reject_malformed(raw, text):
    with pytest.raises(ConfigError, match=text):
        replication_routes(source(raw))


def test_replicates_when_rule_enabled():
    verdict = replicates_to(source(route("r1")), "dst")

    assert verdict.value is True
    assert verdict.decided_by == ("replication rule r1",)


def test_replicates_accepts_bucket_arn():
    assert replicates_to(source(route("r1")), "arn:aws:s3:::dst").value is True


def test_no_rule_for_destination():
    assert replicates_to(source(route("r1", destination="arn:aws:s3:::elsewhere")), "dst").value is False


def test_no_replication_configuration():
    raw = source()
    raw["ReplicationConfiguration"] = None

    assert replicates_to(raw, "dst").value is False


def test_disabled_rule_copies_nothing():
    verdict = replicates_to(source(route("r1", status="Disabled")), "dst")

    assert verdict.value is False
    assert "disabled" in verdict.reason


def test_replication_needs_source_versioning():
    assert replicates_to(source(route("r1"), versioning={"Status": "Suspended"}), "dst").value is None


def test_unread_replication_is_unknown():
    raw = source()
    del raw["ReplicationConfiguration"]

    assert replicates_to(raw, "dst").value is None
    assert replica_retention(raw, replica()).data.is_unknown


def test_replica_follows_own_lifecycle_not_source():
    result = replica_retention(source(route("r1")), replica(
        {"ID": "dst-all", "Filter": {}, "Status": "Enabled", "Expiration": {"Days": 40},
         "NoncurrentVersionExpiration": {"NoncurrentDays": 10}}))

    assert result.current.days == 40
    assert result.data.days == 50
    assert result.data.decided_by == ("lifecycle rule dst-all",)
    assert "does not replicate lifecycle actions" in result.data.notes[-1]


def test_replica_lifecycle_prefix_must_cover_replicated_keys():
    routed = source(route("r1", Filter={"Prefix": "exports/"}))
    covering = replica({"ID": "exports", "Filter": {"Prefix": "exports/"}, "Status": "Enabled",
                        "Expiration": {"Days": 5}})
    narrower = replica({"ID": "q1", "Filter": {"Prefix": "exports/q1/"}, "Status": "Enabled",
                        "Expiration": {"Days": 5}})

    assert replica_retention(routed, covering).current.days == 5
    assert replica_retention(routed, narrower).current.is_forever


def test_disabled_route_still_counts_for_old_replicas():
    routed = source(route("old", status="Disabled", Filter={"Prefix": "a/"}))
    result = replica_retention(routed, replica({"ID": "a", "Filter": {"Prefix": "a/"}, "Status": "Enabled",
                                                "Expiration": {"Days": 3}}))

    assert result.current.days == 3


def test_replica_without_routes_covers_whole_bucket():
    raw = source()
    raw["ReplicationConfiguration"] = None

    assert replica_retention(raw, replica()).current.is_forever


def test_routes_need_rules_list():
    raw = source()
    raw["ReplicationConfiguration"] = {"Role": "r"}

    with pytest.raises(ConfigError, match="no Rules list"):
        replication_routes(raw)
