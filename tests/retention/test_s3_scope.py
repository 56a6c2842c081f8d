"""Object scopes, S3 filter parsing and matching."""

from __future__ import annotations

import pytest

from datamap.retention.s3_scope import (
    EVERY_OBJECT, MAX_OBJECT_SIZE, FilterError, Match, ObjectFilter, ObjectScope, parse_filter, size_candidates,
    whole_number,
)


def test_parse_empty_filter_matches_everything():
    assert parse_filter({"Filter": {}}, "r") == ObjectFilter()
    assert parse_filter({"Filter": {"Prefix": ""}}, "r") == ObjectFilter()


def test_parse_rule_without_filter_or_prefix():
    assert parse_filter({"ID": "r"}, "r") == ObjectFilter()


def test_parse_legacy_prefix():
    assert parse_filter({"Prefix": "logs/"}, "r") == ObjectFilter(prefix="logs/")


def test_parse_single_elements():
    assert parse_filter({"Filter": {"Prefix": "a/"}}, "r").prefix == "a/"
    assert parse_filter({"Filter": {"Tag": {"Key": "k", "Value": "v"}}}, "r").tags == (("k", "v"),)
    assert parse_filter({"Filter": {"ObjectSizeGreaterThan": 10}}, "r").size_greater_than == 10
    assert parse_filter({"Filter": {"ObjectSizeLessThan": 10.0}}, "r").size_less_than == 10


def test_parse_tag_without_value_needs_empty_value():
    assert parse_filter({"Filter": {"Tag": {"Key": "k"}}}, "r").tags == (("k", ""),)


def test_parse_and_combines_conditions():
    parsed = parse_filter({"Filter": {"And": {"Prefix": "tmp/", "Tags": [{"Key": "a", "Value": "1"}],
                                              "ObjectSizeGreaterThan": 5, "ObjectSizeLessThan": 50}}}, "r")
    assert parsed == ObjectFilter(prefix="tmp/", tags=(("a", "1"),), size_greater_than=5, size_less_than=50)


def test_parse_ignores_none_values():
    assert parse_filter({"Filter": {"Prefix": "x/", "Tag": None, "And": None}}, "r") == ObjectFilter(prefix="x/")


@pytest.mark.parametrize("rule, text", [
    ({"Filter": {}, "Prefix": "a"}, "both Filter and a rule-level Prefix"),
    ({"Filter": {"Prefix": "a", "Tag": {"Key": "k", "Value": "v"}}}, "outside an And element"),
    ({"Filter": {"Size": 3}}, "unrecognised element Size"),
    ({"Filter": "all"}, "not a mapping"),
    ({"Filter": {"And": {"Tags": [{"Key": "k", "Value": "1"}, {"Key": "k", "Value": "2"}]}}}, "repeats a tag key"),
    ({"Filter": {"And": {"Tags": "k=v"}}}, "Tags is not a list"),
    ({"Filter": {"And": {"Prefix": "a", "Colour": "red"}}}, "unrecognised element Colour"),
    ({"Filter": {"ObjectSizeGreaterThan": -1}}, "not a whole number of bytes"),
    ({"Filter": {"ObjectSizeLessThan": 2.5}}, "not a whole number of bytes"),
    ({"Filter": {"Prefix": 7}}, "is not a string"),
    ({"Filter": {"Tag": {"Value": "v"}}}, "has no Key"),
])
def test_parse_rejects_malformed_filters(rule, text):
    with pytest.raises(FilterError, match=text):
        parse_filter(rule, "rule r")


def test_prefix_is_literal():
    star = ObjectFilter(prefix="*")
    assert star.match_keys_and_tags(EVERY_OBJECT) is Match.SOME
    assert star.match_keys_and_tags(ObjectScope.one_object("data.csv")) is Match.NONE
    assert star.match_keys_and_tags(ObjectScope.one_object("*data.csv")) is Match.ALL


def test_prefix_against_prefix_scopes():
    logs = ObjectFilter(prefix="logs/")
    assert logs.match_keys_and_tags(ObjectScope(prefix="logs/2024/")) is Match.ALL
    assert logs.match_keys_and_tags(ObjectScope(prefix="logs/")) is Match.ALL
    assert logs.match_keys_and_tags(ObjectScope(prefix="lo")) is Match.SOME
    assert logs.match_keys_and_tags(ObjectScope(prefix="data/")) is Match.NONE


def test_exact_key_shorter_than_prefix():
    assert ObjectFilter(prefix="logs/").match_keys_and_tags(ObjectScope.one_object("logs")) is Match.NONE


def test_tags_match_all_some_none():
    tagged = ObjectFilter(tags=(("k", "v"),))
    assert tagged.match_keys_and_tags(ObjectScope(tags={"k": "v", "other": "x"})) is Match.ALL
    assert tagged.match_keys_and_tags(EVERY_OBJECT) is Match.SOME
    assert tagged.match_keys_and_tags(ObjectScope(tags={"k": "w"})) is Match.NONE
    assert tagged.match_keys_and_tags(ObjectScope.one_object("a", {})) is Match.NONE


def test_key_none_wins_over_tag_all():
    both = ObjectFilter(prefix="x/", tags=(("k", "v"),))
    assert both.match_keys_and_tags(ObjectScope(prefix="y/", tags={"k": "v"})) is Match.NONE


def test_size_bounds_are_strict():
    bounded = ObjectFilter(size_greater_than=10, size_less_than=20)
    assert not bounded.admits_size(10)
    assert bounded.admits_size(11)
    assert bounded.admits_size(19)
    assert not bounded.admits_size(20)


def test_size_candidates_cover_each_region():
    sizes = size_candidates([ObjectFilter(size_greater_than=10), ObjectFilter(size_less_than=0)], EVERY_OBJECT)
    assert sizes == (0, 1, 9, 10, 11, MAX_OBJECT_SIZE)


def test_size_candidates_of_fixed_size():
    assert size_candidates([ObjectFilter(size_greater_than=10)], ObjectScope(size=4)) == (4,)


def test_describe_filter_and_scope():
    assert ObjectFilter().describe() == "every object"
    text = ObjectFilter(prefix="a/", tags=(("k", "v"),), size_greater_than=1, size_less_than=9).describe()
    assert text == ("keys starting with 'a/' and objects tagged k=v and objects larger than 1 bytes "
                    "and objects smaller than 9 bytes")
    assert EVERY_OBJECT.describe() == "every object"
    assert ObjectScope.one_object("a.csv").describe() == "object 'a.csv' with no tags"
    assert ObjectScope(prefix="p/", tags={"b": "2", "a": "1"}, size=3).describe() == \
        "objects with keys starting with 'p/' tagged a=1, b=2 of 3 bytes"


def test_scope_rejects_invalid_values():
    with pytest.raises(ValueError, match="exact key"):
        ObjectScope(exact_key=True)
    with pytest.raises(ValueError, match="outside"):
        ObjectScope(size=MAX_OBJECT_SIZE + 1)


def test_whole_number():
    assert whole_number(3.0) == 3
    assert whole_number(3.5) is None
    assert whole_number(True) is None
    assert whole_number("3") is None


def test_parse_and_must_be_mapping():
    with pytest.raises(FilterError, match="And is not a mapping"):
        parse_filter({"Filter": {"And": ["a"]}}, "rule r")
