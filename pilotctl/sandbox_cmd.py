"""``pilotctl sandbox up|down|status``: the local emulated AWS account."""

from __future__ import annotations

import argparse
from pathlib import Path

from infra.sandbox import emulator
from pilotctl import workflow

BANNER = ("This is an EMULATED AWS account (moto on {endpoint}); nothing was created in AWS. "
          "Production deploys the same program with: pulumi up -s {customer}")


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("sandbox", help="deploy a tenant into the local AWS emulator")
    actions = parser.add_subparsers(dest="sandbox_command", metavar="ACTION", required=True)

    up = actions.add_parser("up", help="start the emulator if needed and deploy the tenant into it")
    up.add_argument("customer", help="customer id; the spec is Pulumi.<customer>.yaml")
    workflow.add_common_options(up)
    up.add_argument("--port", type=int, default=None, help="emulator port on 127.0.0.1 (default: a free port)")
    up.set_defaults(handler=run_up)

    down = actions.add_parser("down", help="stop the emulator; every sandbox tenant is lost")
    down.add_argument("--state-dir", type=Path, default=Path(emulator.DEFAULT_STATE_DIR),
                      help="where the emulator's state file lives (default: %(default)s)")
    down.set_defaults(handler=run_down)

    status = actions.add_parser("status", help="show whether the emulator runs and where")
    status.add_argument("--state-dir", type=Path, default=Path(emulator.DEFAULT_STATE_DIR),
                        help="where the emulator's state file lives (default: %(default)s)")
    status.set_defaults(handler=run_status)


def run_up(args: argparse.Namespace) -> int:
    spec = workflow.load_spec(args.customer, args.stack_dir)
    running = emulator.start(args.state_dir, port=args.port)
    result = workflow.sandbox_up(spec, running.endpoint)
    counts = result.counts()
    print(BANNER.format(endpoint=running.endpoint, customer=spec.customer))
    print(f"tenant {spec.customer}: {counts.get('created', 0)} created, {counts.get('updated', 0)} updated, "
          f"{counts.get('unchanged', 0)} unchanged")
    return 0


def run_down(args: argparse.Namespace) -> int:
    stopped = emulator.stop(args.state_dir)
    print("emulator stopped" if stopped else "no emulator was running")
    return 0


def run_status(args: argparse.Namespace) -> int:
    running = emulator.status(args.state_dir)
    if running is None:
        print("no emulator is running")
        return 1
    print(f"emulator pid {running.pid} at {running.endpoint}, started {running.started_at}")
    return 0
