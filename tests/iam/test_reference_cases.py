"""The shared reference cases and this package's own cases, one test per case."""

from __future__ import annotations

from pathlib import Path

import pytest

from datamap.iam.cases import Case, read_cases

SHARED = Path(__file__).parents[2] / ".." / "shared" / "cases" / "iam_cases.jsonl"
EXTRA = Path(__file__).parent / "cases_extra.jsonl"


def _cases(path: Path) -> list[Case]:
    if not path.exists():
        return []
    return read_cases(path)


def _check(case: Case) -> None:
    result = case.run()
    explanation = f"{case.id}: {case.note} -> {result} [{'; '.join(str(s) for s in result.statements)}]"
    assert result.decision == case.expected, explanation
    assert result.reason == case.expected_reason, explanation


def test_shared_cases_present():
    assert SHARED.exists(), f"reference cases not found at {SHARED.resolve()}"
    assert len(_cases(SHARED)) >= 60


@pytest.mark.parametrize("case", _cases(SHARED), ids=lambda case: case.id)
def test_shared_case(case: Case):
    _check(case)


@pytest.mark.parametrize("case", _cases(EXTRA), ids=lambda case: case.id)
def test_extra_case(case: Case):
    _check(case)
