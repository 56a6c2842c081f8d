"""``pilotctl demo``: sandbox up → scan → map → check for acme, plus the hand-built globex tenant."""

from __future__ import annotations

import argparse
from pathlib import Path

from datamap import inventory as inventory_io
from infra.sandbox import emulator
from pilotctl import workflow
from pilotctl.sandbox_cmd import BANNER

def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "demo", help="deploy acme into the sandbox, build globex by hand, then scan, map and check both")
    workflow.add_common_options(parser)
    parser.add_argument("--out", type=Path, default=workflow.DEFAULT_OUT,
                        help="output directory; files go to OUT/<customer>/ (default: %(default)s)")
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from infra.sandbox.hurried import build_hurried_tenant

    running = emulator.start(args.state_dir)
    acme = workflow.load_spec("acme", args.stack_dir)
    globex = workflow.load_spec("globex", args.stack_dir)
    print(BANNER.format(endpoint=running.endpoint, customer=acme.customer))

    deployed = workflow.sandbox_up(acme, running.endpoint)
    counts = deployed.counts()
    print(f"acme: program deployed ({counts.get('created', 0)} created, {counts.get('updated', 0)} updated, "
          f"{counts.get('unchanged', 0)} unchanged)")
    build_hurried_tenant(globex, running.endpoint)
    print("globex: built by hand with boto3, as a hurried team would")

    acme_passed = False
    for spec in (acme, globex):
        directory = workflow.out_dir(spec.customer, args.out)
        inventory = workflow.scan(spec.customer, spec.region, running.endpoint)
        inventory_io.write(inventory, directory / "inventory.json")
        matrix = workflow.build_access(inventory, spec)
        workflow.write_access(matrix, directory)
        workflow.map_tenant(inventory, spec, matrix, directory)
        report, _, _ = workflow.check_tenant(inventory, spec, matrix, directory)
        counts = report.counts()
        print(f"{spec.customer}: {len(inventory.resources)} resources scanned; {counts['pass']} pass, "
              f"{counts['fail']} fail, {counts['unknown']} unknown; files in {directory}/")
        for finding in report.findings:
            if str(finding.status) != "pass":
                print(f"  {str(finding.status).upper():7} {finding.rule_id} {finding.message}")
        if spec is acme:
            acme_passed = counts["fail"] == 0 and counts["unknown"] == 0
    print("The emulator keeps running for more commands; stop it with: pilotctl sandbox down")
    # The demo succeeds when every acme check passes; globex is meant to fail.
    return 0 if acme_passed else 1
