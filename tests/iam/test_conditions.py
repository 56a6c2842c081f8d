"""Condition operators: one pass and one fail per rule, plus absent and unknowable keys."""

from __future__ import annotations

import pytest

from datamap.iam.conditions import evaluate_conditions, parse_conditions
from datamap.iam.context import RequestContext, Tri, resolve
from datamap.iam.errors import PolicyError


def check(condition: dict, context: dict, unknowable: tuple[str, ...] = (), variables: bool = True) -> Tri:
    clauses = parse_conditions(condition, "test")
    return evaluate_conditions(clauses, RequestContext(context, unknowable), variables).value


@pytest.mark.parametrize("condition, context, expected", [
    ({"StringEquals": {"k": "a"}}, {"k": "a"}, Tri.TRUE),
    ({"StringEquals": {"k": "a"}}, {"k": "A"}, Tri.FALSE),
    ({"StringNotEquals": {"k": ["a", "b"]}}, {"k": "b"}, Tri.FALSE),
    ({"StringNotEquals": {"k": ["a", "b"]}}, {"k": "c"}, Tri.TRUE),
    ({"StringEqualsIgnoreCase": {"k": "ABC"}}, {"k": "abc"}, Tri.TRUE),
    ({"StringLike": {"k": "home/*"}}, {"k": "home/x"}, Tri.TRUE),
    ({"StringLike": {"k": "home/*"}}, {"k": "work/x"}, Tri.FALSE),
    ({"NumericLessThanEquals": {"k": "10"}}, {"k": "10"}, Tri.TRUE),
    ({"NumericLessThanEquals": {"k": "10"}}, {"k": "11"}, Tri.FALSE),
    ({"NumericEquals": {"k": "10"}}, {"k": "ten"}, Tri.FALSE),
    ({"DateLessThan": {"k": "2026-01-01T00:00:00Z"}}, {"k": "2025-12-31T23:59:59Z"}, Tri.TRUE),
    ({"DateLessThan": {"k": "2026-01-01T00:00:00Z"}}, {"k": "2026-01-01T00:00:00Z"}, Tri.FALSE),
    ({"Bool": {"k": "true"}}, {"k": "TRUE"}, Tri.TRUE),
    ({"Bool": {"k": "true"}}, {"k": "false"}, Tri.FALSE),
    ({"BinaryEquals": {"k": "YWJj"}}, {"k": "YWJj"}, Tri.TRUE),
    ({"BinaryEquals": {"k": "YWJj"}}, {"k": "YWJk"}, Tri.FALSE),
    ({"IpAddress": {"k": "10.0.0.0/8"}}, {"k": "10.1.2.3"}, Tri.TRUE),
    ({"IpAddress": {"k": "10.0.0.0/8"}}, {"k": "11.1.2.3"}, Tri.FALSE),
    ({"NotIpAddress": {"k": "10.0.0.0/8"}}, {"k": "11.1.2.3"}, Tri.TRUE),
    ({"ArnLike": {"k": "arn:aws:s3:::b*"}}, {"k": "arn:aws:s3:::bucket"}, Tri.TRUE),
    ({"ArnNotLike": {"k": "arn:aws:s3:::b*"}}, {"k": "arn:aws:s3:::bucket"}, Tri.FALSE),
    ({"Null": {"k": "false"}}, {"k": "x"}, Tri.TRUE),
    ({"Null": {"k": "false"}}, {}, Tri.FALSE),
])
def test_operator(condition, context, expected):
    assert check(condition, context) is expected


@pytest.mark.parametrize("operator, expected", [
    ("StringEquals", Tri.FALSE), ("StringNotEquals", Tri.TRUE), ("StringEqualsIfExists", Tri.TRUE),
    ("StringNotEqualsIfExists", Tri.TRUE), ("ForAnyValue:StringEquals", Tri.FALSE),
    ("ForAllValues:StringEquals", Tri.TRUE), ("NotIpAddress", Tri.TRUE), ("IpAddress", Tri.FALSE),
])
def test_absent_key(operator, expected):
    value = "10.0.0.0/8" if "Ip" in operator else "a"
    assert check({operator: {"k": value}}, {}) is expected


def test_for_any_value_list():
    assert check({"ForAnyValue:StringEquals": {"k": ["a", "b"]}}, {"k": ["x", "b"]}) is Tri.TRUE
    assert check({"ForAnyValue:StringEquals": {"k": ["a", "b"]}}, {"k": ["x", "y"]}) is Tri.FALSE


def test_for_all_values_list():
    assert check({"ForAllValues:StringEquals": {"k": ["a", "b"]}}, {"k": ["a", "b"]}) is Tri.TRUE
    assert check({"ForAllValues:StringEquals": {"k": ["a", "b"]}}, {"k": ["a", "c"]}) is Tri.FALSE


def test_unknowable_key():
    assert check({"IpAddress": {"aws:SourceIp": "10.0.0.0/8"}}, {}, ("aws:SourceIp",)) is Tri.UNKNOWN
    assert check({"Null": {"aws:SourceIp": "true"}}, {}, ("*",)) is Tri.UNKNOWN


def test_unknowable_prefix():
    assert check({"StringEquals": {"aws:RequestTag/team": "a"}}, {}, ("aws:RequestTag/*",)) is Tri.UNKNOWN
    assert check({"StringEquals": {"aws:username": "a"}}, {}, ("aws:RequestTag/*",)) is Tri.FALSE


def test_known_absent_beats_unknowable():
    context = RequestContext({}, unknowable=("*",), absent=("aws:username",))
    clauses = parse_conditions({"StringEquals": {"aws:username": "a"}}, "test")
    assert evaluate_conditions(clauses, context, True).value is Tri.FALSE


def test_unknown_names_condition():
    clauses = parse_conditions({"NotIpAddress": {"aws:SourceIp": "10.0.0.0/8"}}, "test")
    result = evaluate_conditions(clauses, RequestContext({}, ("aws:SourceIp",)), True)
    assert result.unknown == ("aws:SourceIp (NotIpAddress)",)


def test_false_beats_unknown():
    condition = {"IpAddress": {"aws:SourceIp": "10.0.0.0/8"}, "StringEquals": {"k": "a"}}
    assert check(condition, {"k": "b"}, ("aws:SourceIp",)) is Tri.FALSE


def test_variable_in_value():
    assert check({"StringLike": {"s3:prefix": "${aws:username}/*"}}, {"aws:username": "al", "s3:prefix": "al/x"}) \
        is Tri.TRUE
    assert check({"StringLike": {"s3:prefix": "${aws:username}/*"}}, {"aws:username": "al", "s3:prefix": "al/x"},
                 variables=False) is Tri.FALSE


def test_missing_variable_fails():
    assert check({"StringNotLike": {"s3:prefix": "${aws:username}/*"}}, {"s3:prefix": "x"}) is Tri.FALSE


def test_resolve_default_and_literals():
    context = RequestContext({})
    assert resolve("${aws:PrincipalTag/team, 'shared'}", context).text == "shared"
    assert resolve("${$}", context).text == "$"


def test_unknown_operator_rejected():
    with pytest.raises(PolicyError, match="unknown operator"):
        parse_conditions({"StringEqualz": {"k": "a"}}, "test")


def test_null_if_exists_rejected():
    with pytest.raises(PolicyError):
        parse_conditions({"NullIfExists": {"k": "true"}}, "test")
