"""Wildcard matching of actions, resources and ARNs, and child-name samples."""

from __future__ import annotations

from datamap.iam.context import LITERAL_STAR
from datamap.iam.matching import action_matches, arn_like, literal_prefix, resource_matches, string_like
from datamap.iam.targets import FRESH, child_name


def test_action_case_insensitive():
    assert action_matches("s3:get*", "s3:GetObject")
    assert not action_matches("s3:Get*", "s3:PutObject")


def test_action_question_mark():
    assert action_matches("sqs:?etQueueAttributes", "sqs:SetQueueAttributes")
    assert not action_matches("sqs:?etQueueAttributes", "sqs:UnsetQueueAttributes")


def test_resource_case_sensitive():
    assert resource_matches("arn:aws:s3:::b/reports/*", "arn:aws:s3:::b/reports/q1.csv")
    assert not resource_matches("arn:aws:s3:::b/Reports/*", "arn:aws:s3:::b/reports/q1.csv")


def test_resource_star_crosses_slash():
    assert resource_matches("arn:aws:s3:::b/*", "arn:aws:s3:::b/a/b/c.txt")


def test_resource_star_stays_in_segment():
    assert not resource_matches("arn:aws:s3:::b/a*z", "arn:aws:s3:::b/a:1/z")
    assert resource_matches("arn:aws:s3:::b/a*", "arn:aws:s3:::b/a:1/z")


def test_resource_literal_star():
    pattern = "arn:aws:s3:::b/reports/" + LITERAL_STAR
    assert resource_matches(pattern, "arn:aws:s3:::b/reports/*")
    assert not resource_matches(pattern, "arn:aws:s3:::b/reports/2024.csv")


def test_string_like():
    assert string_like("home/*", "home/alice/x")
    assert not string_like("home/?", "home/ab")


def test_arn_like_components():
    assert arn_like("arn:aws:iam::*:role/app-*", "arn:aws:iam::111122223333:role/app-1")
    assert not arn_like("arn:aws:iam::*:role/app-*", "arn:aws:iam::111122223333:user/app-1")
    assert not arn_like("arn:aws:iam::*:role/*", "not-an-arn")


def test_literal_prefix():
    assert literal_prefix("arn:aws:s3:::acme-*") == "arn:aws:s3:::acme-"
    assert literal_prefix("arn:aws:s3:::b/${aws:username}/*") == "arn:aws:s3:::b/"


def test_child_name_prefix_pattern():
    assert child_name("arn:aws:s3:::b/home/*", "arn:aws:s3:::b/") == "home/" + FRESH


def test_child_name_other_bucket():
    assert child_name("arn:aws:s3:::c/*", "arn:aws:s3:::b/") is None
    assert child_name("arn:aws:s3:::b", "arn:aws:s3:::b/") is None
