"""Entry point of the emulator process: install pilotctl's moto extension, then run moto's server.

Run it as ``python -m infra.sandbox.server --port 5000``; ``infra.sandbox.emulator`` does this
for you and records the process in its state file. The server binds only to a loopback
address because the emulator accepts any credentials.
"""

from __future__ import annotations

import argparse
import ipaddress
import logging
import os
import sys

logger = logging.getLogger(__name__)


def _loopback_host(value: str) -> str:
    """Parse ``--host`` and reject any address that is not a loopback address."""
    try:
        address = ipaddress.ip_address(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"invalid host {value!r}; expected an IP address such as 127.0.0.1")
    if not address.is_loopback:
        raise argparse.ArgumentTypeError(f"host {value} is not a loopback address; use 127.0.0.1")
    return value


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m infra.sandbox.server", description=__doc__.splitlines()[0])
    parser.add_argument("--host", type=_loopback_host, default="127.0.0.1", help="loopback address to bind (default 127.0.0.1)")
    parser.add_argument("--port", type=int, required=True, help="TCP port to listen on")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> None:
    """Install the extension and serve until SIGTERM or SIGINT; moto's handler exits with status 0."""
    args = parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")

    # moto reads this when it first creates an IAM backend, so it only has to be set before the
    # first request. The emulator already passes it; this covers a server started by hand.
    os.environ.setdefault("MOTO_IAM_LOAD_MANAGED_POLICIES", "true")

    from moto import server as moto_server

    from infra.sandbox import moto_ext

    moto_ext.install()
    logger.info("moto server starting on http://%s:%d (pid %d)", args.host, args.port, os.getpid())
    moto_server.main(["--host", args.host, "--port", str(args.port)])


if __name__ == "__main__":
    main(sys.argv[1:])
