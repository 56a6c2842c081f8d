"""The shared reference cases and this package's own cases, one test per case."""

from __future__ import annotations

from pathlib import Path

import pytest

from datamap.iam.cases import Case, read_cases
from datamap.iam.context import RequestContext, Tri
from datamap.iam.evaluation import DenyMatch, Reason, explicit_deny
from datamap.iam.principals import parse_caller

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


def _explicit_deny(case: Case) -> DenyMatch:
    request = case.request
    context = RequestContext(request.context, request.unknowable)
    return explicit_deny(parse_caller(request.principal_arn, context), context, request.action, request.resource_arn,
                         [st for policy in case.identity for st in policy.statements],
                         None if case.boundary is None else case.boundary.statements,
                         None if case.resource_policy is None else case.resource_policy.statements)


@pytest.mark.parametrize("case", _cases(SHARED) + _cases(EXTRA), ids=lambda case: case.id)
def test_explicit_deny_agrees_with_decide(case: Case):
    """Check that explicit_deny returns TRUE, with the same statements, exactly when decide returns an explicit deny."""
    denied, result = _explicit_deny(case), case.run()
    assert (denied.value is Tri.TRUE) == (result.reason is Reason.EXPLICIT_DENY), f"{case.id}: {result}"
    if denied.value is Tri.TRUE:
        assert denied.statements == result.statements, case.id
    if denied.value is Tri.UNKNOWN and result.reason is Reason.UNKNOWN:
        assert set(denied.unknown_conditions) <= set(result.unknown_conditions), case.id


def test_explicit_deny_cases_cover_every_outcome():
    """Check that the cases include each Deny outcome, so the agreement test covers all three."""
    outcomes = {_explicit_deny(case).value for case in _cases(SHARED) + _cases(EXTRA)}
    assert outcomes == {Tri.TRUE, Tri.UNKNOWN, Tri.FALSE}
