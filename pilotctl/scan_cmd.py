"""``pilotctl scan <customer>``: read the deployed tenant into an inventory file (read-only).

``pilotctl scan --all`` scans every tenant of the stack files and of the scanned accounts
(``datamap.fleet``), checks each one (``FleetChecker``) and records it in the scan history
(``policies.history``).
"""

from __future__ import annotations

import argparse
import dataclasses
import datetime as dt
import json
import logging
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from datamap import inventory as inventory_io
from infra.errors import InputError
from pilotctl import workflow

if TYPE_CHECKING:
    from datamap.fleet import TenantScan
    from datamap.matrix import AccessCell
    from policies.engine import Report
    from policies.findings import Severity
    from policies.history import ScanRecord

log = logging.getLogger(__name__)

DEFAULT_WORKERS = 4
# Destinations of the options that only a fleet scan reads, rejected without --all.
FLEET_ONLY = ("workers", "accounts", "accounts_file", "role_arn", "region", "history", "formats", "fail_on",
              "allow_unknown", "webhook")

FLEET_HELP = """\
With --all, every tenant is scanned: those of the Pulumi.<customer>.yaml files in
--stack-dir and those whose pilot:customer tag is found in each scanned account. Each
account is read once for all of its tenants. Each tenant is then checked like
'pilotctl check' does, its reports go to OUT/<customer>/, a summary goes to
OUT/fleet.json, and the scan is recorded in the --history database.

Exit codes with --all: 0 when every tenant was scanned and none has a failure at or
above --fail-on; 1 when a tenant has such a failure or an unknown finding at or above
--fail-on (unless --allow-unknown), when a tenant could not be scanned (its findings
are unknown) or when an account could not be scanned; 2 for invalid input.
"""


def add_target_options(parser: argparse.ArgumentParser) -> None:
    """Options that say which account to read: the sandbox, an endpoint, or the usual AWS credentials."""
    workflow.add_common_options(parser)
    parser.add_argument("--sandbox", action="store_true",
                        help="read the local sandbox emulator instead of AWS")
    parser.add_argument("--out", type=Path, default=workflow.DEFAULT_OUT,
                        help="output directory; files go to OUT/<customer>/ (default: %(default)s)")


def register(subparsers: argparse._SubParsersAction) -> None:
    from pilotctl import check_cmd  # imported here because check_cmd imports this module
    from policies import history, notify

    parser = subparsers.add_parser(
        "scan", help="read a deployed tenant with read-only AWS calls and write its inventory",
        description="Read every resource tagged pilot:customer=<customer> with read-only calls. Without "
                    "--sandbox, boto3's usual credentials apply, and AWS_ENDPOINT_URL if set.",
        epilog=FLEET_HELP, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("customer", nargs="?", default=None,
                        help="customer id; the spec is Pulumi.<customer>.yaml (leave out with --all)")
    add_target_options(parser)
    fleet = parser.add_argument_group("fleet scan")
    fleet.add_argument("--all", dest="all_tenants", action="store_true",
                       help="scan, check and record every tenant (see below)")
    fleet.add_argument("--workers", type=_positive, default=DEFAULT_WORKERS,
                       help="number of concurrent scan tasks (default: %(default)s)")
    fleet.add_argument("--accounts", type=_account_list, default=None, metavar="IDS",
                       help="comma-separated 12-digit ids of the accounts to scan (default: the account of the "
                            "credentials)")
    fleet.add_argument("--accounts-file", type=Path, default=None, metavar="PATH",
                       help="file with one account id per line; '#' starts a comment")
    fleet.add_argument("--role-arn", default=None, metavar="TEMPLATE",
                       help="read-only role to assume in each account, with {account} where the id goes, such as "
                            "arn:aws:iam::{account}:role/pilotctl-reader (default: use the credentials as they are)")
    fleet.add_argument("--region", default=None,
                       help="region where tenants without a stack file are read (default: AWS_REGION, or "
                            "us-east-1 with --sandbox)")
    fleet.add_argument("--history", type=Path, default=history.DEFAULT_PATH, metavar="PATH",
                       help="SQLite database that records every scan (default: %(default)s)")
    fleet.add_argument("--format", dest="formats", action="append", type=check_cmd.report_formats, default=None,
                       metavar="FORMAT",
                       help="report format to write per tenant: json, md, sarif or junit; repeat the option or "
                            "give a comma-separated list (default: json,md)")
    fleet.add_argument("--fail-on", choices=check_cmd.SEVERITY_NAMES, default="low", metavar="SEVERITY",
                       help="exit with 1 when a tenant has a failure that is not suppressed with this severity or "
                            "a higher one: low, medium, high or critical (default: %(default)s, any failure)")
    notify.add_webhook_option(fleet)
    fleet.add_argument("--allow-unknown", action="store_true",
                       help="do not exit with 1 for unknown findings of scanned tenants (tenants that could not "
                            "be scanned still count)")
    parser.set_defaults(handler=run, fleet_defaults={name: parser.get_default(name) for name in FLEET_ONLY})


def run(args: argparse.Namespace) -> int:
    if args.all_tenants:
        if args.customer:
            raise InputError(f"customer {args.customer!r} and --all: pass one customer or --all, not both")
        return run_fleet(args)
    if not args.customer:
        raise InputError("customer: missing value; pass a customer id, or --all to scan every tenant")
    fleet_options = [name for name, default in args.fleet_defaults.items() if getattr(args, name) != default]
    if fleet_options:
        options = ", ".join("--" + name.replace("_", "-").replace("formats", "format") for name in fleet_options)
        raise InputError(f"{options}: only valid with --all")
    spec = workflow.load_spec(args.customer, args.stack_dir)
    endpoint = workflow.sandbox_endpoint(args.state_dir) if args.sandbox else None
    inventory = workflow.scan(spec.customer, spec.region, endpoint)
    path = inventory_io.write(inventory, workflow.out_dir(spec.customer, args.out) / "inventory.json")
    unread = sum(len(r.errors) for r in inventory.resources) + len(inventory.errors)
    print(f"scanned {spec.customer}: {len(inventory.resources)} resources, {unread} reads failed -> {path}")
    for error in inventory.errors:
        print(f"  could not read: {error}")
    return 0


def run_fleet(args: argparse.Namespace, session=None, prepare_session=None) -> int:
    """Scan, check and record every tenant; return the exit code.

    ``session`` (the base boto3 session) and ``prepare_session`` (see
    ``datamap.fleet.FleetOptions``) let a caller such as a test shape the AWS clients.
    """
    import boto3

    from datamap import fleet
    from infra.sandbox import emulator
    from policies.findings import Severity
    from policies.history import History

    stacks = fleet.discover_stacks(args.stack_dir)
    # Read the suppressions before the scan, so an invalid file fails before any slow step.
    suppressions = load_suppressions(args.stack_dir, set(stacks.specs))
    ids = list(args.accounts or [])
    if args.accounts_file:
        ids += fleet.read_accounts_file(args.accounts_file)
    if args.role_arn and not ids:
        raise InputError("--role-arn: needs --accounts or --accounts-file, the accounts to assume it in")
    accounts = fleet.accounts_from(dict.fromkeys(ids), args.role_arn)

    endpoint, region = None, args.region
    if args.sandbox:
        endpoint = workflow.sandbox_endpoint(args.state_dir)
        region = region or emulator.DEFAULT_REGION
        if session is None:
            session = boto3.Session(aws_access_key_id="testing", aws_secret_access_key="testing",
                                    region_name=region)
    options = fleet.FleetOptions(endpoint_url=endpoint, region=region, workers=args.workers,
                                 prepare_session=prepare_session)
    from pilotctl import check_cmd  # imported here because check_cmd imports this module
    checker = FleetChecker(out=args.out, stack_dir=args.stack_dir, formats=check_cmd.chosen_formats(args.formats),
                           suppressions=suppressions, threshold=Severity(args.fail_on),
                           allow_unknown=args.allow_unknown)
    progress = Progress(sys.stderr)
    with History(args.history) as history:
        scan = fleet.FleetScan(accounts, stacks, session, options, history.latest_accounts(), progress.step)
        for tenant in scan.run():
            result = checker.check(tenant)
            history.record(result.record)
            if args.webhook and result.status == "complete":
                _notify(args.webhook, result.customer, history)
            progress.tenant(result)
    progress.close()
    return checker.finish(scan.failed_accounts, args.history)


def _notify(url: str, customer: str, history) -> None:
    """Send the tenant's new failures since its previous scan; a failed post is logged, not raised.

    A broken webhook must not stop the scan of the other tenants.
    """
    from policies import notify
    try:
        notify.notify_new_failures(history.diff(customer).new, url, customer)
    except notify.NotifyError as exc:
        log.error("notifying new failures of tenant %s failed: %s", customer, exc)


# Services whose tenant-wide read errors can leave principals or resources out of the access matrix.
ACCESS_SERVICES = ("iam", "s3", "kms", "logs", "cloudtrail")


def load_suppressions(stack_dir: Path, customers: set[str]) -> dict[str, tuple]:
    """Read suppressions.yaml and every suppressions.<customer>.yaml in ``stack_dir``; return customer -> entries.

    The key "" maps to the entries of tenants without a file of their own.
    """
    from policies import suppressions
    shared = suppressions.load(suppressions.default_paths(stack_dir, ""))
    named = {path.name.removeprefix("suppressions.").removesuffix(".yaml")
             for path in Path(stack_dir).glob("suppressions.*.yaml")}
    entries = {customer: shared + suppressions.load_file(Path(stack_dir) / f"suppressions.{customer}.yaml")
               for customer in named | customers if (Path(stack_dir) / f"suppressions.{customer}.yaml").is_file()}
    entries[""] = shared
    return entries


@dataclass(frozen=True)
class TenantResult:
    """A checked tenant: its report, the files written and the record for the history."""

    customer: str
    account: str
    status: str
    reason: str
    report: Report
    files: dict[str, Path]  # report format -> path
    record: ScanRecord
    blocking: int           # unsuppressed failures (and unknowns, unless allowed) at or above --fail-on

    @property
    def summary(self) -> str:
        if self.status != "complete":
            return f"FAILED: {self.reason}"
        counts = self.report.counts()
        return f"complete, {counts['pass']} pass, {counts['fail']} fail, {counts['unknown']} unknown"


class FleetChecker:
    """Check each tenant of a fleet scan like ``pilotctl check``, write its reports and build its history record."""

    def __init__(self, out: Path, stack_dir: Path, formats: tuple[str, ...], suppressions: dict[str, tuple],
                 threshold: Severity, today: dt.date | None = None, allow_unknown: bool = False):
        self.out, self.stack_dir, self.formats = Path(out), Path(stack_dir), formats
        self.suppressions, self.threshold, self.allow_unknown = suppressions, threshold, allow_unknown
        self.today = today or workflow.today()
        self.started_at = dt.datetime.now(dt.UTC)
        self.run_id = self.started_at.strftime("%Y%m%dT%H%M%S.%fZ")
        self.results: list[TenantResult] = []

    def check(self, tenant: TenantScan) -> TenantResult:
        """Check one tenant of a fleet scan. A check that raises makes the tenant failed, never passed."""
        from policies.history import ScanRecord
        from policies.suppressions import apply_suppressions
        try:
            report, cells, access_reason = self._evaluate(tenant)
        except Exception as exc:  # one tenant's broken check must not stop the others
            log.exception("checking tenant %s failed, so its findings are unknown", tenant.customer)
            tenant = dataclasses.replace(tenant, status="failed", reason=f"check failed: {type(exc).__name__}: {exc}")
            report, cells, access_reason = self._evaluate(tenant)
        entries = self.suppressions.get(tenant.customer, self.suppressions[""])
        report = apply_suppressions(report, entries, self.today)
        directory = workflow.out_dir(tenant.customer, self.out)
        if tenant.inventory is not None:
            inventory_io.write(tenant.inventory, directory / "inventory.json")
        files = workflow.write_reports(report, directory, self.formats, tenant.inventory,
                                       workflow.spec_path(tenant.customer, self.stack_dir))
        record = ScanRecord(customer=tenant.customer, account=tenant.account_id, region=tenant.region,
                            started_at=tenant.started_at, finished_at=dt.datetime.now(dt.UTC), status=tenant.status,
                            findings=report.findings, cells=cells, reason=tenant.reason,
                            access_reason=access_reason, run_id=self.run_id, suppressed=frozenset(report.suppressed()))
        result = TenantResult(tenant.customer, tenant.account_id, tenant.status, tenant.reason, report, files, record,
                              len(report.failures_at(self.threshold))
                              + (0 if self.allow_unknown else len(report.unknowns_at(self.threshold))))
        self.results.append(result)
        return result

    def _evaluate(self, tenant: TenantScan) -> tuple[Report, tuple[AccessCell, ...] | None, str]:
        """Return the report, the access cells (None when the matrix is incomplete) and why it is incomplete."""
        from datamap.access import build_matrix
        from policies.catalog import RULES
        from policies.engine import Report, run_checks
        from policies.findings import ResourceRef, Status
        if tenant.status != "complete":
            ref = ResourceRef(f"tenant:{tenant.customer}", f"tenant {tenant.customer}")
            findings = tuple(rule.finding(Status.UNKNOWN, ref, "not scanned", "tenant scanned",
                                          f"Tenant {tenant.customer} could not be scanned ({tenant.reason}), so rule "
                                          f"{rule.id} was not checked.", fix="Fix the cause and scan again.")
                             for rule in RULES)
            report = Report(customer=tenant.customer, source="live", today=self.today, rules=RULES,
                            findings=findings, has_spec=tenant.spec is not None, has_matrix=False)
            return report, None, tenant.reason
        matrix = build_matrix(tenant.inventory, tenant.spec)
        report = run_checks(tenant.inventory, tenant.spec, matrix, self.today)
        gaps = [error for error in tenant.inventory.errors if error.split(":", 1)[0] in ACCESS_SERVICES]
        if gaps:
            return report, None, "; ".join(gaps[:3]) + (f" and {len(gaps) - 3} more" if len(gaps) > 3 else "")
        return report, matrix.cells, ""

    def finish(self, failed_accounts: dict[str, str], history_path: Path) -> int:
        """Print one line per tenant and account failure, write OUT/fleet.json and return the exit code."""
        failed = [result for result in self.results if result.status != "complete"]
        for result in sorted(self.results, key=lambda r: (r.status == "complete", r.customer)):
            blocking = f", {result.blocking} at or above {self.threshold}" if result.blocking else ""
            print(f"  {result.customer:20} {result.account or '-':12}  {result.summary}{blocking}")
        for account, reason in sorted(failed_accounts.items()):
            print(f"  account {account} could not be scanned: {reason}")
        summary = self.out / "fleet.json"
        self.out.mkdir(parents=True, exist_ok=True)
        summary.write_text(json.dumps(self._summary(failed_accounts, history_path), indent=2) + "\n",
                           encoding="utf-8")
        print(f"fleet scan: {len(self.results)} tenants, {len(self.results) - len(failed)} complete, "
              f"{len(failed)} failed, {len(failed_accounts)} accounts failed; history {history_path}; "
              f"summary {summary}")
        blocking = any(result.blocking for result in self.results)
        return 1 if failed or failed_accounts or blocking else 0

    def _summary(self, failed_accounts: dict[str, str], history_path: Path) -> dict:
        return {"format": 1, "run_id": self.run_id, "started_at": self.started_at.isoformat(timespec="seconds"),
                "fail_on": str(self.threshold), "history": str(history_path), "failed_accounts": failed_accounts,
                "tenants": [{"customer": r.customer, "account": r.account, "status": r.status, "reason": r.reason,
                             "counts": r.report.counts(), "blocking_failures": r.blocking,
                             "files": {name: str(path) for name, path in r.files.items()}}
                            for r in self.results]}


class Progress:
    """Fleet progress on a stream: a bar redrawn in place on a terminal, one plain line per step otherwise."""

    WIDTH = 30

    def __init__(self, stream) -> None:
        self.stream = stream
        self.tty = stream.isatty()
        self.done = self.total = self.checked = 0

    def step(self, done: int, total: int, text: str) -> None:
        self.done, self.total = done, total
        if self.tty:
            self._draw(text)
        else:
            print(f"fleet: scan step {done}/{total}: {text}", file=self.stream, flush=True)

    def tenant(self, result) -> None:
        self.checked += 1
        text = f"tenant {result.customer}: {result.summary}"
        if self.tty:
            self._draw(text)
        else:
            print(f"fleet: {text}", file=self.stream, flush=True)

    def close(self) -> None:
        if self.tty and (self.total or self.checked):
            print(file=self.stream, flush=True)

    def _draw(self, text: str) -> None:
        filled = self.WIDTH * self.done // self.total if self.total else 0
        bar = "#" * filled + "-" * (self.WIDTH - filled)
        # \r returns to the line start and \x1b[K clears the rest of the previous text.
        print(f"\r[{bar}] {self.done}/{self.total} scan steps, {self.checked} tenants checked: {text[:60]}\x1b[K",
              end="", file=self.stream, flush=True)


def _positive(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"invalid value {text!r}; expected a whole number of 1 or more")
    return value


def _account_list(text: str) -> list[str]:
    ids = [part.strip() for part in text.split(",") if part.strip()]
    invalid = [value for value in ids if not (len(value) == 12 and value.isdigit())]
    if not ids or invalid:
        raise argparse.ArgumentTypeError(f"invalid value {text!r}; expected 12-digit account ids separated by "
                                         "commas")
    return ids

