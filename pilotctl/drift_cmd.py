"""``pilotctl drift <customer>``: compare what the Pulumi program declares with what the account holds.

Exit codes: 0 when nothing differs and every comparison could be made; 1 when something
differs, and also when a comparison could not be made (an unknown item), because an
unknown is never a pass. ``--allow-unknown`` keeps unknown items listed but out of the
exit code. Invalid input (a missing stack file, an unreadable inventory, an inventory of
another customer or account) exits with 2.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from datamap import inventory as inventory_io
from datamap.drift_items import DriftItem, DriftReport
from infra.errors import InputError
from pilotctl import workflow
from pilotctl.scan_cmd import add_target_options

DEFAULT_ACCOUNT_ID = "123456789012"


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "drift", help="compare the tenant's plan with the deployed tenant and list what differs",
        description="Run the tenant's Pulumi program under mocks (the plan), read the deployed tenant (a scan, "
                    "or --inventory), and list resources missing from the account, resources tagged for the "
                    "tenant that the program does not declare, changed settings and changed access. Writes "
                    "OUT/<customer>/drift.json and drift.md. Exit code 1 on drift or on any comparison that "
                    "could not be made, 0 when there is none, 2 on invalid input.")
    parser.add_argument("customer", help="customer id; the spec is Pulumi.<customer>.yaml")
    add_target_options(parser)
    parser.add_argument("--inventory", type=Path, default=None,
                        help="compare with this inventory JSON file (written by pilotctl scan) instead of scanning")
    parser.add_argument("--allow-unknown", action="store_true",
                        help="exit with 0 when the only items are comparisons that could not be made; they are "
                             "still listed and written")
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from datamap.drift import compare
    from datamap.sources.program import plan_inventory

    if args.inventory and args.sandbox:
        raise InputError("--inventory and --sandbox: invalid together; pass --inventory FILE to compare a file, or "
                         "--sandbox to scan the emulator")
    spec = workflow.load_spec(args.customer, args.stack_dir)
    deployed, origin = workflow.load_or_scan(spec.customer, spec, args)
    account_id = deployed.account_id or DEFAULT_ACCOUNT_ID
    planned = plan_inventory(spec, account_id=account_id)
    directory = workflow.out_dir(spec.customer, args.out)
    inventory_io.write(planned, directory / "plan-inventory.json")

    report = compare(planned, deployed, spec)
    json_path = directory / "drift.json"
    json_path.write_text(json.dumps(report.to_json(), indent=2, sort_keys=True) + "\n", encoding="utf-8")
    md_path = directory / "drift.md"
    md_path.write_text(report.to_markdown(), encoding="utf-8")

    print(f"{spec.customer}: {origin}; {len(report.drift)} differences, {len(report.unknown)} not compared "
          f"-> {json_path}, {md_path}")
    _print_items("Differences", report.drift)
    _print_items("Not compared (unknown, so not a pass)", report.unknown)
    if report.unknown and args.allow_unknown:
        print("Unknown items do not change the exit code (--allow-unknown).")
    return _exit_code(report, args.allow_unknown)


def _exit_code(report: DriftReport, allow_unknown: bool) -> int:
    if report.drift:
        return 1
    if report.unknown and not allow_unknown:
        return 1
    return 0


def _print_items(heading: str, items: tuple[DriftItem, ...]) -> None:
    if not items:
        return
    print(f"{heading} ({len(items)}):")
    for item in items:
        print(f"  {str(item.kind).upper():10} {item.message}")
        print(f"  {'':10} fix: {item.fix}")
