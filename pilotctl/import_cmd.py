"""``pilotctl import <customer>``: turn a file from the Pulumi CLI into the tenant's inventory file."""

from __future__ import annotations

import argparse
from pathlib import Path

from datamap import inventory as inventory_io
from datamap.sources.stack_export import PREVIEW, STACK_EXPORT, load_external
from pilotctl import workflow


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "import", help="convert a `pulumi stack export` or `pulumi preview --json` file into the tenant's inventory",
        description="Read the tenant's resources from a file the Pulumi CLI wrote and write "
                    "OUT/<customer>/inventory.json, in the shape 'pilotctl scan' writes. Secret values and values "
                    "computed at deploy time are recorded as unknown. Check it with: pilotctl check <customer> "
                    "--inventory OUT/<customer>/inventory.json")
    parser.add_argument("customer", help="customer id; the spec is Pulumi.<customer>.yaml")
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("--stack-export", type=Path, metavar="FILE",
                        help="output of `pulumi stack export` (the deployed state)")
    source.add_argument("--preview", type=Path, metavar="FILE",
                        help="output of `pulumi preview --json --show-sames` (the state after the next update)")
    parser.add_argument("--stack-dir", type=Path, default=Path("."),
                        help="directory that contains Pulumi.<customer>.yaml (default: current directory)")
    parser.add_argument("--out", type=Path, default=workflow.DEFAULT_OUT,
                        help="output directory; files go to OUT/<customer>/ (default: %(default)s)")
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    spec = workflow.load_spec(args.customer, args.stack_dir)
    kind, source = (STACK_EXPORT, args.stack_export) if args.stack_export else (PREVIEW, args.preview)
    inventory = load_external(source, kind, spec)
    path = inventory_io.write(inventory, workflow.out_dir(spec.customer, args.out) / "inventory.json")

    unknown = sum(len(resource.errors) for resource in inventory.resources)
    print(f"imported {spec.customer} from {source} ({kind}): {len(inventory.resources)} resources, {unknown} values "
          f"unknown -> {path}")
    for line in workflow.inventory_lines(inventory, "not read"):
        print(line)
    print(f"check it with: pilotctl check {spec.customer} --inventory {path}")
    return 0
