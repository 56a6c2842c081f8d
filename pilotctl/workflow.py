"""The pipeline behind the commands: spec → sandbox → scan → matrix → map → check.

Functions here call the packages and write files; they never print, so the demo,
the commands and the tests share them.
"""

from __future__ import annotations

import argparse
import datetime as dt
import logging
from dataclasses import dataclass
from pathlib import Path

from infra.errors import InputError
from infra.sandbox import emulator
from infra.spec import PilotSpec, load_stack_file

log = logging.getLogger(__name__)

DEFAULT_OUT = Path("out")


def add_common_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--stack-dir", type=Path, default=Path("."),
                        help="directory that holds Pulumi.<customer>.yaml (default: current directory)")
    parser.add_argument("--state-dir", type=Path, default=Path(emulator.DEFAULT_STATE_DIR),
                        help="where the sandbox emulator's state file lives (default: %(default)s)")


def spec_path(customer: str, stack_dir: Path) -> Path:
    return Path(stack_dir) / f"Pulumi.{customer}.yaml"


def load_spec(customer: str, stack_dir: Path) -> PilotSpec:
    """Load and validate the customer's stack file; the file's customer id must match."""
    spec = load_stack_file(spec_path(customer, stack_dir))
    if spec.customer != customer:
        raise InputError(f"{spec_path(customer, stack_dir).name}: pilot:customer: invalid value "
                         f"{spec.customer!r}; expected {customer!r}, the customer in the file name")
    return spec


def sandbox_up(spec: PilotSpec, endpoint: str):
    from infra.sandbox.deploy import deploy
    return deploy(spec, endpoint)


def sandbox_endpoint(state_dir: Path) -> str:
    """Return the running emulator's endpoint, or raise when none runs."""
    running = emulator.status(state_dir)
    if running is None:
        raise InputError(f"{Path(state_dir) / 'emulator.json'}: no sandbox emulator is running; "
                         "start one with: pilotctl sandbox up <customer>")
    return running.endpoint


@dataclass
class Outputs:
    """Where one tenant's files went."""

    directory: Path
    inventory: Path | None = None
    matrix_json: Path | None = None
    matrix_csv: Path | None = None
    diagram_svg: Path | None = None
    diagram_png: Path | None = None
    data_map: Path | None = None
    findings_json: Path | None = None
    findings_md: Path | None = None


def out_dir(customer: str, base: Path = DEFAULT_OUT) -> Path:
    path = Path(base) / customer
    path.mkdir(parents=True, exist_ok=True)
    return path


def scan(customer: str, region: str, endpoint: str | None = None):
    from datamap.sources.live import scan as live_scan
    if endpoint is not None:
        import boto3
        session = boto3.session.Session(aws_access_key_id="testing", aws_secret_access_key="testing",
                                        region_name=region)
        return live_scan(customer, session=session, endpoint_url=endpoint, region=region)
    return live_scan(customer, region=region)


def today() -> dt.date:
    return dt.datetime.now(dt.timezone.utc).date()
