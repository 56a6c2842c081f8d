"""``pilotctl iam``: run IAM reference cases, or simulate one request against policy files."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from datamap.iam.cases import matches, read_cases
from datamap.iam.evaluation import Request, Result, evaluate
from datamap.iam.policy import Policy, parse_policy
from infra.errors import InputError


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("iam", help="evaluate IAM policies: run case files or simulate a request")
    commands = parser.add_subparsers(dest="iam_command", metavar="SUBCOMMAND", required=True)

    test = commands.add_parser("test", help="run every case of a JSON-lines case file and report mismatches")
    test.add_argument("cases", metavar="CASES.jsonl", help="case file, one JSON object per line")
    test.set_defaults(handler=run_test)

    simulate = commands.add_parser("simulate", help="decide one request and print the statements behind it")
    simulate.add_argument("--principal", required=True, metavar="ARN",
                          help="IAM user, assumed-role session or role ARN making the request")
    simulate.add_argument("--action", required=True, metavar="ACTION", help="action, e.g. s3:GetObject")
    simulate.add_argument("--resource", required=True, metavar="ARN", help="resource ARN, or * for none")
    simulate.add_argument("--context", action="append", default=[], metavar="KEY=VALUE",
                          help="request-context key; repeat a key to give it several values")
    simulate.add_argument("--unknowable", action="append", default=[], metavar="KEY",
                          help="context key whose value cannot be known (prefix/* allowed); repeatable")
    simulate.add_argument("--identity-policy", action="append", default=[], metavar="FILE",
                          help="identity-based policy document (JSON); repeatable")
    simulate.add_argument("--resource-policy", metavar="FILE", help="bucket, key or trust policy (JSON)")
    simulate.add_argument("--boundary", metavar="FILE", help="permissions boundary policy (JSON)")
    simulate.set_defaults(handler=run_simulate)


def run_test(args: argparse.Namespace) -> int:
    cases = read_cases(args.cases)
    failed = 0
    for case in cases:
        result = case.run()
        if matches(case, result):
            continue
        failed += 1
        print(f"FAIL {case.id} (line {case.line}): expected {case.expected.value} "
              f"({case.expected_reason.value}), got {result.decision.value} ({result.reason.value})")
        _print_details(result, indent="  ")
    print(f"{len(cases) - failed} passed, {failed} failed")
    return 0 if failed == 0 else 1


def run_simulate(args: argparse.Namespace) -> int:
    context = _parse_context(args.context)
    identity = [_read_policy(path, "identity") for path in args.identity_policy]
    resource = _read_policy(args.resource_policy, "resource") if args.resource_policy else None
    boundary = _read_policy(args.boundary, "boundary") if args.boundary else None
    request = Request(principal_arn=args.principal, action=args.action, resource_arn=args.resource,
                      context=context, unknowable=frozenset(args.unknowable))
    result = evaluate(request, identity, resource, boundary)
    print(f"decision: {result.decision.value} ({result.reason.value})")
    _print_details(result, indent="")
    return 0


def _print_details(result: Result, indent: str) -> None:
    if result.explanation:
        print(f"{indent}why: {result.explanation}")
    for condition in result.unknown_conditions:
        print(f"{indent}unknown: {condition}")
    for ref in result.statements:
        print(f"{indent}statement: {ref}" + (f": {ref.text}" if ref.text else ""))


def _parse_context(pairs: list[str]) -> dict[str, Any]:
    context: dict[str, Any] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise InputError(f"--context: invalid value {pair!r}; expected KEY=VALUE")
        if key in context:
            previous = context[key]
            context[key] = (previous if isinstance(previous, list) else [previous]) + [value]
        else:
            context[key] = value
    return context


def _read_policy(path: str, kind: str) -> Policy:
    file = Path(path)
    try:
        document = json.loads(file.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise InputError(f"{file}: policy file not found") from None
    except json.JSONDecodeError as exc:
        raise InputError(f"{file}: line {exc.lineno}: invalid JSON ({exc.msg})") from None
    return parse_policy(document, file.name, kind)
