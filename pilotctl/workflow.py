"""The pipeline behind the commands: spec → sandbox → scan → matrix → map → check.

Functions here call the packages and write files; they never print, so the demo,
the commands and the tests share them.
"""

from __future__ import annotations

import argparse
import datetime as dt
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from infra.errors import InputError
from infra.sandbox import emulator
from infra.spec import PilotSpec, load_stack_file

if TYPE_CHECKING:
    from policies.engine import Report
    from policies.suppressions import Suppression

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
    """Paths of the files written for one tenant."""

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


def build_access(inventory, spec: PilotSpec | None):
    from datamap.access import build_matrix
    return build_matrix(inventory, spec)


def write_access(matrix, directory: Path) -> tuple[Path, Path]:
    """Write the access matrix as JSON and CSV, one row per person, resource and capability."""
    from datamap.access_out import write_csv, write_json
    return write_json(matrix, directory / "access.json"), write_csv(matrix, directory / "access.csv")


def map_tenant(inventory, spec: PilotSpec | None, matrix, directory: Path, focus: str | None = None) -> Outputs:
    """Draw the diagram and write the data map for one tenant.

    With ``focus`` (a store, copy, person or role, by name, ARN or id) the diagram
    shows only the paths through that node and is written as
    ``diagram-focus-<name>.svg`` and ``.png``. An unknown name raises InputError
    before any file is written.
    """
    from datamap.graph import build_graph
    from datamap.render import render
    from datamap.report import write_data_map
    from datamap.views import focus_basename
    outputs = Outputs(directory=directory)
    graph = build_graph(inventory, matrix, spec)
    basename = "diagram" if focus is None else focus_basename(graph, focus)
    drawn = render(graph, directory, basename, focus=focus)
    outputs.diagram_svg, outputs.diagram_png = drawn["svg"], drawn["png"]
    if spec is not None:
        outputs.data_map = write_data_map(graph, inventory, spec, matrix, path=directory / "data-map.md")
    return outputs


REPORT_FORMATS = ("json", "md", "sarif", "junit")
DEFAULT_REPORT_FORMATS = ("json", "md")
REPORT_FILES = {"json": "findings.json", "md": "findings.md", "sarif": "findings.sarif",
                "junit": "findings.junit.xml"}


@dataclass
class CheckRun:
    """A tenant's check report and the file written for each report format."""

    report: Report
    files: dict[str, Path]


def check_tenant(inventory, spec: PilotSpec | None, matrix, directory: Path, on: dt.date | None = None):
    """Run the rule catalogue and write findings as JSON and Markdown; return (report, json, md)."""
    run = check_and_report(inventory, spec, matrix, directory, on=on)
    return run.report, run.files["json"], run.files["md"]


def check_and_report(inventory, spec: PilotSpec | None, matrix, directory: Path, *, on: dt.date | None = None,
                     suppressions: Sequence[Suppression] = (), checkov: bool = False,
                     formats: tuple[str, ...] = DEFAULT_REPORT_FORMATS, stack_file: Path | None = None,
                     ) -> CheckRun:
    """Run the rule catalogue (and checkov on the program's plan), apply suppressions and write reports.

    ``suppressions`` are entries from ``policies.suppressions.load``. ``checkov`` needs the
    pilot spec. ``stack_file`` is where SARIF results point when a resource has no
    ``declared_at``.
    """
    from policies.engine import run_checks
    from policies.suppressions import apply_suppressions
    checked_on = on or today()
    report = run_checks(inventory, spec, matrix, checked_on)
    if checkov:
        if spec is None:
            raise InputError("--checkov needs the pilot spec, because checkov checks the program's plan")
        report = report.with_findings(*checkov_results(spec, inventory, directory / "checkov"))
    report = apply_suppressions(report, suppressions, checked_on)
    files = write_reports(report, directory, formats, inventory, stack_file)
    return CheckRun(report=report, files=files)


def checkov_results(spec: PilotSpec, inventory, workdir: Path):
    """Run the program under mocks, run checkov on its plan and return (rules, findings) for the report."""
    from infra.sandbox.fabricate import PlanHooks
    from infra.sandbox.program import run_program
    from policies.checkov.findings import checkov_findings
    from policies.checkov.runner import run_checkov
    hooks = PlanHooks(region=spec.region)
    if inventory.account_id:
        # Predict ARNs in the scanned account, so checkov findings and scanned resources share them.
        hooks.account_id = inventory.account_id
    resources = run_program(spec, hooks)
    return checkov_findings(run_checkov(resources, workdir), resources)


def write_reports(report, directory: Path, formats: tuple[str, ...], inventory=None,
                  stack_file: Path | None = None) -> dict[str, Path]:
    """Write the report once per format into ``directory``; return format -> path."""
    from policies.formats import json_out, junit, markdown, sarif
    files: dict[str, Path] = {}
    for name in formats:
        path = directory / REPORT_FILES[name]
        if name == "json":
            files[name] = json_out.write(report, path)
        elif name == "md":
            files[name] = markdown.write(report, path)
        elif name == "sarif":
            stack = stack_file or Path(f"Pulumi.{report.customer}.yaml")
            files[name] = sarif.write(report, path, source_uri(stack), declared_locations(inventory))
        elif name == "junit":
            files[name] = junit.write(report, path)
        else:
            raise InputError(f"--format: invalid value {name!r}; expected one of {', '.join(REPORT_FORMATS)}")
    return files


def source_uri(path: Path) -> str:
    """Return ``path`` relative to the current directory as a URI, or as a file URI when it lies outside."""
    resolved = Path(path).resolve()
    try:
        return resolved.relative_to(Path.cwd().resolve()).as_posix()
    except ValueError:
        return resolved.as_uri()


def declared_locations(inventory) -> dict[str, str]:
    """Return ARN and name -> ``path:line`` for each inventory resource whose declaration is known."""
    locations: dict[str, str] = {}
    for resource in getattr(inventory, "resources", ()):
        if resource.declared_at:
            locations[resource.arn] = resource.declared_at
            locations.setdefault(resource.name, resource.declared_at)
    return locations


def load_or_scan(customer: str, spec: PilotSpec, args) -> tuple:
    """Return (inventory, how it was obtained): an --inventory file, or a fresh scan."""
    from datamap import inventory as inventory_io
    from datamap.sources.stack_export import PREVIEW, STACK_EXPORT, load_external
    for option, kind in (("stack_export", STACK_EXPORT), ("preview", PREVIEW)):
        path = getattr(args, option, None)
        if path:
            return load_external(path, kind, spec), f"read {path}"
    if getattr(args, "inventory", None):
        return inventory_io.read(args.inventory), f"read {args.inventory}"
    endpoint = sandbox_endpoint(args.state_dir) if args.sandbox else None
    inventory = scan(customer, spec.region, endpoint)
    inventory_io.write(inventory, out_dir(customer, args.out) / "inventory.json")
    return inventory, "scanned the sandbox" if args.sandbox else "scanned the account"


def inventory_lines(inventory, error_label: str) -> list[str]:
    """Return one line per resource kind with its count, then one per tenant-wide error."""
    from collections import Counter
    kinds = Counter(resource.kind for resource in inventory.resources)
    lines = [f"  {kind:17} {count}" for kind, count in sorted(kinds.items())]
    lines += [f"  {error_label}: {error}" for error in inventory.errors]
    return lines
