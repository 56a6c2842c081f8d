"""``pilotctl map`` and ``pilotctl check``: diagram and data map, and the rule catalogue's findings."""

from __future__ import annotations

import argparse
from pathlib import Path

from pilotctl import workflow
from pilotctl.scan_cmd import add_target_options


def register(subparsers: argparse._SubParsersAction) -> None:
    for name, help_text, handler in (
            ("map", "draw the tenant's data-flow diagram and write its one-page data map", run_map),
            ("check", "check the tenant against the retention and access rules", run_check)):
        parser = subparsers.add_parser(name, help=help_text)
        parser.add_argument("customer", help="customer id; the spec is Pulumi.<customer>.yaml")
        add_target_options(parser)
        parser.add_argument("--inventory", type=Path, default=None,
                            help="use this inventory JSON file instead of scanning")
        parser.set_defaults(handler=handler)


def run_map(args: argparse.Namespace) -> int:
    spec = workflow.load_spec(args.customer, args.stack_dir)
    inventory, how = workflow.load_or_scan(spec.customer, spec, args)
    directory = workflow.out_dir(spec.customer, args.out)
    matrix = workflow.build_access(inventory, spec)
    workflow.write_access(matrix, directory)
    outputs = workflow.map_tenant(inventory, spec, matrix, directory)
    print(f"{spec.customer}: {how}; diagram {outputs.diagram_svg} and {outputs.diagram_png}; "
          f"data map {outputs.data_map}")
    return 0


def print_summary(report, json_path: Path, md_path: Path) -> None:
    counts = report.counts()
    print(f"{report.customer}: {counts['pass']} pass, {counts['fail']} fail, {counts['unknown']} unknown "
          f"-> {json_path}, {md_path}")
    for finding in report.findings:
        if str(finding.status) != "pass":
            print(f"  {str(finding.status).upper():7} {finding.rule_id} {finding.message}")


def run_check(args: argparse.Namespace) -> int:
    spec = workflow.load_spec(args.customer, args.stack_dir)
    inventory, _ = workflow.load_or_scan(spec.customer, spec, args)
    directory = workflow.out_dir(spec.customer, args.out)
    matrix = workflow.build_access(inventory, spec)
    report, json_path, md_path = workflow.check_tenant(inventory, spec, matrix, directory)
    print_summary(report, json_path, md_path)
    return 1 if report.failed else 0
