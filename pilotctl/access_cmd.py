"""``pilotctl access <customer>``: who can do what to which store, and the statements behind it."""

from __future__ import annotations

import argparse

from infra.capabilities import CAPABILITIES
from pilotctl import workflow
from pilotctl.check_cmd import add_source_options
from pilotctl.scan_cmd import add_target_options


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "access", help="print the access matrix (person, role, store, capabilities) and write CSV and JSON")
    parser.add_argument("customer", help="customer id; the spec is Pulumi.<customer>.yaml")
    add_target_options(parser)
    add_source_options(parser)
    parser.set_defaults(handler=run)


def table(matrix) -> list[str]:
    """Return the matrix as aligned text rows: one per person and resource, a column per capability.

    A capability shows as "yes" when allowed and "?" when a condition cannot be decided.
    """
    rows: dict[tuple[str, str, str], dict[str, str]] = {}
    for cell in matrix.cells:
        who = cell.person or f"({cell.principal_arn.rsplit('/', 1)[-1]})"
        key = (who, cell.role or "-", cell.resource_name)
        mark = "yes" if cell.status == "allow" else "?"
        current = rows.setdefault(key, {})
        if current.get(str(cell.capability)) != "yes":
            current[str(cell.capability)] = mark
    header = ("person", "role", "resource", *CAPABILITIES)
    body = [(*key, *(marks.get(c, "") for c in CAPABILITIES)) for key, marks in sorted(rows.items())]
    widths = [max(len(str(row[i])) for row in [header, *body]) for i in range(len(header))]
    return ["  ".join(str(value).ljust(widths[i]) for i, value in enumerate(row)).rstrip()
            for row in [header, *body]]


def run(args: argparse.Namespace) -> int:
    spec = workflow.load_spec(args.customer, args.stack_dir)
    inventory, _ = workflow.load_or_scan(spec.customer, spec, args)
    matrix = workflow.build_access(inventory, spec)
    json_path, csv_path = workflow.write_access(matrix, workflow.out_dir(spec.customer, args.out))
    for line in table(matrix):
        print(line)
    if matrix.unclassified_actions:
        print("actions the capability table does not classify: " + ", ".join(matrix.unclassified_actions))
    print(f"assumed request context: {'; '.join(matrix.assumptions)}")
    print(f"written: {json_path}, {csv_path}")
    return 0
