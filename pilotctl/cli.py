"""The pilotctl command line: parse options, call the packages, print results.

Each command module exposes ``register(subparsers)``, which adds its parser and sets
``handler`` to a function ``(args) -> int`` returning the exit code.
"""

from __future__ import annotations

import argparse
import logging
import sys

from infra.errors import PilotError

log = logging.getLogger("pilotctl")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="pilotctl", description=__doc__.splitlines()[0])
    parser.add_argument("-v", "--verbose", action="count", default=0,
                        help="more output: -v for progress per stage, -vv for every AWS call")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    from pilotctl import commands
    for module in commands.MODULES:
        module.register(subparsers)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    level = logging.WARNING if args.verbose == 0 else logging.INFO if args.verbose == 1 else logging.DEBUG
    logging.basicConfig(level=level, format="%(levelname)s %(name)s: %(message)s")
    try:
        return int(args.handler(args))
    except PilotError as exc:
        if args.verbose:
            log.exception("failed")
        print(f"pilotctl: error: {exc}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        print("pilotctl: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
