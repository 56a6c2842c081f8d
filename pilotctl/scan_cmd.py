"""``pilotctl scan <customer>``: read the deployed tenant into an inventory file (read-only)."""

from __future__ import annotations

import argparse
from pathlib import Path

from datamap import inventory as inventory_io
from pilotctl import workflow


def add_target_options(parser: argparse.ArgumentParser) -> None:
    """Options that say which account to read: the sandbox, an endpoint, or the usual AWS credentials."""
    workflow.add_common_options(parser)
    parser.add_argument("--sandbox", action="store_true",
                        help="read the local sandbox emulator instead of AWS")
    parser.add_argument("--out", type=Path, default=workflow.DEFAULT_OUT,
                        help="output directory; files go to OUT/<customer>/ (default: %(default)s)")


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "scan", help="read a deployed tenant with read-only AWS calls and write its inventory",
        description="Read every resource tagged pilot:customer=<customer> with read-only calls. Without "
                    "--sandbox, boto3's usual credentials apply, and AWS_ENDPOINT_URL if set.")
    parser.add_argument("customer", help="customer id; the spec is Pulumi.<customer>.yaml")
    add_target_options(parser)
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    spec = workflow.load_spec(args.customer, args.stack_dir)
    endpoint = workflow.sandbox_endpoint(args.state_dir) if args.sandbox else None
    inventory = workflow.scan(spec.customer, spec.region, endpoint)
    path = inventory_io.write(inventory, workflow.out_dir(spec.customer, args.out) / "inventory.json")
    unread = sum(len(r.errors) for r in inventory.resources) + len(inventory.errors)
    print(f"scanned {spec.customer}: {len(inventory.resources)} resources, {unread} reads failed -> {path}")
    for error in inventory.errors:
        print(f"  could not read: {error}")
    return 0
