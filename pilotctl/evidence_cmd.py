"""``pilotctl evidence <customer>``: zip a tenant's reports into one dated evidence pack for the buyer's review."""

from __future__ import annotations

import argparse
import datetime as dt
from pathlib import Path

from pilotctl import workflow
from pilotctl.scan_cmd import add_target_options

DESCRIPTION = """\
Build one zip from the files that 'pilotctl scan', 'map' and 'check' wrote to
OUT/<customer>/: diagram, data map, access matrix, findings (with SARIF when present),
the CloudTrail trail records of the inventory, the support path and owners from the
pilot spec, a scan history summary when --history records the customer, and
MANIFEST.json with the SHA-256 checksum of every entry. The same inputs and --date
give the same bytes. With --sandbox, the tenant is scanned, mapped and checked in the
sandbox first.
"""


def register(subparsers: argparse._SubParsersAction) -> None:
    from policies import history

    parser = subparsers.add_parser("evidence", help="zip a tenant's reports into one dated evidence pack",
                                   description=DESCRIPTION)
    parser.add_argument("customer", help="customer id; the spec is Pulumi.<customer>.yaml")
    add_target_options(parser)
    parser.add_argument("--date", type=_date, default=None, metavar="YYYY-MM-DD",
                        help="date of the pack, in its name and as every entry's time (default: today, UTC)")
    parser.add_argument("--history", type=Path, default=history.DEFAULT_PATH, metavar="PATH",
                        help="scan history database to summarise; left out with a note in the manifest when the "
                             "file does not exist (default: %(default)s)")
    parser.add_argument("--output", type=Path, default=None, metavar="FILE",
                        help="where to write the zip (default: OUT/<customer>/evidence-<customer>-<date>.zip)")
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from policies import evidence

    spec = workflow.load_spec(args.customer, args.stack_dir)
    directory = workflow.out_dir(spec.customer, args.out)
    if args.sandbox:
        run_sandbox_pipeline(spec, args, directory)
    on = args.date or workflow.today()
    pack = evidence.build_pack(spec.customer, directory, spec, on, args.history)
    path = evidence.write_pack(pack, args.output or directory / f"{pack.folder}.zip")
    print(f"{spec.customer}: evidence pack {path}: {len(pack.entries) + 1} entries")
    for note in sorted(pack.notes):
        print(f"  note: {note}")
    return 0


def run_sandbox_pipeline(spec, args: argparse.Namespace, directory: Path) -> None:
    """Scan the sandbox tenant, then write its access matrix, diagram, data map and findings into ``directory``."""
    from datamap import inventory as inventory_io
    from policies import suppressions

    entries = suppressions.load(suppressions.default_paths(args.stack_dir, spec.customer))
    endpoint = workflow.sandbox_endpoint(args.state_dir)
    inventory = workflow.scan(spec.customer, spec.region, endpoint)
    inventory_io.write(inventory, directory / "inventory.json")
    matrix = workflow.build_access(inventory, spec)
    workflow.write_access(matrix, directory)
    workflow.map_tenant(inventory, spec, matrix, directory)
    workflow.check_and_report(inventory, spec, matrix, directory, suppressions=entries,
                              formats=("json", "md", "sarif"),
                              stack_file=workflow.spec_path(spec.customer, args.stack_dir))


def _date(text: str) -> dt.date:
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"invalid date {text!r}; expected YYYY-MM-DD") from None
