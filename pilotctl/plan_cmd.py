"""``pilotctl plan <customer>``: the inventory the Pulumi program would deploy, without any AWS account."""

from __future__ import annotations

import argparse
import re
from pathlib import Path

from datamap import inventory as inventory_io
from pilotctl import workflow

ACCOUNT_ID_RE = re.compile(r"^\d{12}$")


def account_id(text: str) -> str:
    if not ACCOUNT_ID_RE.match(text):
        raise argparse.ArgumentTypeError(f"invalid value {text!r}; expected a 12-digit AWS account id")
    return text


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "plan", help="run the Pulumi program under mocks and write the inventory it would deploy",
        description="Run the tenant's Pulumi program under Pulumi's mocks (no AWS account, no Pulumi CLI) and "
                    "write OUT/<customer>/plan-inventory.json, in the shape 'pilotctl scan' writes. Values "
                    "known only after deploy are recorded as unknown. Check it with: pilotctl check <customer> "
                    "--inventory OUT/<customer>/plan-inventory.json")
    parser.add_argument("customer", help="customer id; the spec is Pulumi.<customer>.yaml")
    parser.add_argument("--stack-dir", type=Path, default=Path("."),
                        help="directory that contains Pulumi.<customer>.yaml (default: current directory)")
    parser.add_argument("--out", type=Path, default=workflow.DEFAULT_OUT,
                        help="output directory; files go to OUT/<customer>/ (default: %(default)s)")
    parser.add_argument("--account-id", type=account_id, default="123456789012",
                        help="AWS account id the plan puts in names and ARNs (default: %(default)s)")
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from datamap.sources.program import plan_inventory

    spec = workflow.load_spec(args.customer, args.stack_dir)
    inventory = plan_inventory(spec, account_id=args.account_id)
    path = inventory_io.write(inventory, workflow.out_dir(spec.customer, args.out) / "plan-inventory.json")

    unknown = sum(len(resource.errors) for resource in inventory.resources)
    print(f"planned {spec.customer}: {len(inventory.resources)} resources, {unknown} values unknown before "
          f"deploy -> {path}")
    for line in workflow.inventory_lines(inventory, "not converted"):
        print(line)
    return 0
