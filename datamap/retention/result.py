"""Retention values and yes/no verdicts, each carrying the setting that decided it.

A retention is a number of days, ``forever``, or ``unknown``. Unknown is never a
number: a caller that needs a pass must get ``days`` or ``forever`` and compare.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum


class Kind(StrEnum):
    DAYS = "days"
    FOREVER = "forever"
    UNKNOWN = "unknown"


@dataclass(frozen=True)
class Retention:
    """How long data can live, and why.

    ``decided_by`` names the settings that fixed the value (for example
    ``"lifecycle rule expire-90"``); ``notes`` lists assumptions a reader should know.
    """

    kind: Kind
    days: int | None
    reason: str
    decided_by: tuple[str, ...] = ()
    notes: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if (self.kind is Kind.DAYS) != (self.days is not None):
            raise ValueError(f"retention of kind {self.kind} must {'' if self.kind is Kind.DAYS else 'not '}"
                             f"have days, got {self.days!r}")
        if self.days is not None and self.days < 0:
            raise ValueError(f"retention days must not be negative, got {self.days}")
        if not self.reason:
            raise ValueError("every retention needs a reason")

    @classmethod
    def of_days(cls, days: int, reason: str, decided_by: Iterable[str] = (),
                notes: Iterable[str] = ()) -> Retention:
        return cls(Kind.DAYS, days, reason, tuple(decided_by), tuple(notes))

    @classmethod
    def forever(cls, reason: str, decided_by: Iterable[str] = (), notes: Iterable[str] = ()) -> Retention:
        return cls(Kind.FOREVER, None, reason, tuple(decided_by), tuple(notes))

    @classmethod
    def unknown(cls, reason: str, decided_by: Iterable[str] = (), notes: Iterable[str] = ()) -> Retention:
        return cls(Kind.UNKNOWN, None, reason, tuple(decided_by), tuple(notes))

    @property
    def is_days(self) -> bool:
        return self.kind is Kind.DAYS

    @property
    def is_forever(self) -> bool:
        return self.kind is Kind.FOREVER

    @property
    def is_unknown(self) -> bool:
        return self.kind is Kind.UNKNOWN

    def at_most(self, limit: int) -> bool | None:
        """Return whether the data is gone within ``limit`` days; None when unknown."""
        if self.kind is Kind.DAYS:
            return self.days <= limit
        if self.kind is Kind.FOREVER:
            return False
        return None

    def at_least(self, minimum: int) -> bool | None:
        """Return whether the data is kept for ``minimum`` days or more; None when unknown."""
        if self.kind is Kind.DAYS:
            return self.days >= minimum
        if self.kind is Kind.FOREVER:
            return True
        return None

    def with_notes(self, *notes: str) -> Retention:
        merged = list(self.notes)
        for note in notes:
            if note and note not in merged:
                merged.append(note)
        return Retention(self.kind, self.days, self.reason, self.decided_by, tuple(merged))

    def __str__(self) -> str:
        if self.kind is Kind.DAYS:
            return f"{self.days} day" + ("" if self.days == 1 else "s")
        return str(self.kind)


def longest(values: Iterable[Retention]) -> Retention:
    """Return the longest retention: forever wins, then unknown, then the most days.

    Forever beats unknown because nothing can outlast it; an unknown beside a number
    could be longer than that number, so the result is unknown. Among equal values
    the first one keeps its reason. Raises ValueError for an empty input.
    """
    values = list(values)
    if not values:
        raise ValueError("longest() needs at least one retention")
    forever = next((v for v in values if v.is_forever), None)
    if forever is not None:
        return forever
    unknown = next((v for v in values if v.is_unknown), None)
    if unknown is not None:
        return unknown
    best = values[0]
    for value in values[1:]:
        if value.days > best.days:
            best = value
    return best


def plus(first: Retention, second: Retention) -> Retention:
    """Return the sum of two consecutive periods, such as current then noncurrent days."""
    decided_by = first.decided_by + tuple(d for d in second.decided_by if d not in first.decided_by)
    notes = first.notes + tuple(n for n in second.notes if n not in first.notes)
    if first.is_forever or second.is_forever:
        deciding = first if first.is_forever else second
        return Retention.forever(deciding.reason, decided_by, notes)
    if first.is_unknown or second.is_unknown:
        deciding = first if first.is_unknown else second
        return Retention.unknown(deciding.reason, decided_by, notes)
    return Retention.of_days(first.days + second.days, f"{first.reason}, and then {second.reason}",
                             decided_by, notes)


@dataclass(frozen=True)
class Verdict:
    """A yes/no result about a configuration, with ``value`` None when it cannot be known."""

    value: bool | None
    reason: str
    decided_by: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if not self.reason:
            raise ValueError("every verdict needs a reason")

    @property
    def is_unknown(self) -> bool:
        return self.value is None
