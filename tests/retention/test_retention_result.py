"""Retention values, their comparisons and combinations."""

from __future__ import annotations

import pytest

from datamap.retention import Kind, Retention, Verdict, longest, plus

TEN = Retention.of_days(10, "ten", ("a",))
TWENTY = Retention.of_days(20, "twenty", ("b",))
FOREVER = Retention.forever("never deleted", ("c",))
UNKNOWN = Retention.unknown("not read", ("d",))


def test_retention_rejects_inconsistent_values():
    with pytest.raises(ValueError, match="must have days"):
        Retention(Kind.DAYS, None, "x")
    with pytest.raises(ValueError, match="must not have days"):
        Retention(Kind.FOREVER, 3, "x")
    with pytest.raises(ValueError, match="negative"):
        Retention.of_days(-1, "x")
    with pytest.raises(ValueError, match="reason"):
        Retention.forever("")


def test_comparisons_three_valued():
    assert TEN.at_most(10) is True
    assert TWENTY.at_most(10) is False
    assert FOREVER.at_most(10_000) is False
    assert UNKNOWN.at_most(10) is None
    assert TEN.at_least(11) is False
    assert FOREVER.at_least(10_000) is True
    assert UNKNOWN.at_least(1) is None


def test_longest_order():
    assert longest([TEN, TWENTY]) is TWENTY
    assert longest([TEN, UNKNOWN]) is UNKNOWN
    assert longest([UNKNOWN, FOREVER]) is FOREVER
    assert longest([TEN, Retention.of_days(10, "other")]) is TEN
    with pytest.raises(ValueError):
        longest([])


def test_plus_adds_days_and_reasons():
    total = plus(TEN, TWENTY)

    assert total.days == 30
    assert total.reason == "ten, and then twenty"
    assert total.decided_by == ("a", "b")


def test_plus_forever_and_unknown():
    assert plus(TEN, FOREVER).is_forever
    assert plus(UNKNOWN, TEN).is_unknown
    assert plus(UNKNOWN, FOREVER).is_forever


def test_with_notes_skips_duplicates():
    noted = TEN.with_notes("n", "n", "")

    assert noted.notes == ("n",)


def test_str_forms():
    assert str(Retention.of_days(1, "x")) == "1 day"
    assert str(TEN) == "10 days"
    assert str(FOREVER) == "forever"
    assert str(UNKNOWN) == "unknown"


def test_verdict_needs_reason():
    with pytest.raises(ValueError):
        Verdict(True, "")
    assert Verdict(None, "why").is_unknown
