"""``pilotctl history <customer>`` and ``pilotctl diff <customer>``: read the scan history that ``scan --all`` records."""

from __future__ import annotations

import argparse
import datetime as dt
from pathlib import Path

from policies import history

DIFF_HELP = """\
The latest scan is compared with the last complete scan before --since, or, without
--since, with the last complete scan before the latest one. A failure is new when the
base scan did not fail it, fixed when the latest scan passes it, and still failing when
both fail it. A failure of the base scan that the latest scan could not decide (unknown,
or not reported) is listed apart and never counted as fixed. First seen is when the
latest run of failures began, after the last scan that passed the finding.
"""


def register(subparsers: argparse._SubParsersAction) -> None:
    listing = subparsers.add_parser("history", help="list a tenant's recorded scans: date, status, counts",
                                    description="List the scans of one tenant recorded by 'pilotctl scan --all', "
                                                "oldest first.")
    listing.add_argument("customer", help="customer id, as in the pilot:customer tag")
    _add_history_option(listing)
    listing.set_defaults(handler=run_history)

    diff = subparsers.add_parser("diff", help="list a tenant's new, fixed and still failing findings and access "
                                              "changes between two recorded scans",
                                 epilog=DIFF_HELP, formatter_class=argparse.RawDescriptionHelpFormatter)
    diff.add_argument("customer", help="customer id, as in the pilot:customer tag")
    diff.add_argument("--since", type=_since, default=None, metavar="DATE",
                      help="compare with the last complete scan before this date (YYYY-MM-DD, UTC) or ISO 8601 "
                           "time (default: the scan before the latest)")
    _add_history_option(diff)
    diff.set_defaults(handler=run_diff)


def _add_history_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--history", type=Path, default=history.DEFAULT_PATH, metavar="PATH",
                        help="SQLite database written by 'pilotctl scan --all' (default: %(default)s)")


def run_history(args: argparse.Namespace) -> int:
    _require_file(args.history)
    with history.History(args.history) as store:
        scans = store.scans(args.customer)
    if not scans:
        print(f"{args.customer}: no scans recorded in {args.history}")
        return 0
    print(f"{args.customer}: {len(scans)} scans in {args.history}")
    print(f"  {'started (UTC)':20} {'status':8} {'account':12} {'pass':>5} {'fail':>5} {'unknown':>7}  notes")
    for scan in scans:
        notes = scan.reason if scan.status == history.FAILED else ""
        if not notes and not scan.access_known:
            notes = f"access matrix incomplete: {scan.access_reason}"
        print(f"  {scan.started_at:20} {scan.status:8} {scan.account or '-':12} {scan.pass_count:5} "
              f"{scan.fail_count:5} {scan.unknown_count:7}  {notes}".rstrip())
    return 0


def run_diff(args: argparse.Namespace) -> int:
    _require_file(args.history)
    with history.History(args.history) as store:
        diff = store.diff(args.customer, args.since)
    latest, base = diff.latest, diff.base
    print(f"{diff.customer}: latest scan {latest.started_at} ({latest.status}, account {latest.account or '-'})")
    if latest.status == history.FAILED:
        print(f"  the latest scan failed, so every finding is unknown: {latest.reason}")
    if base is None:
        since = f" before {history.utc_text(args.since)}" if args.since else ""
        print(f"  no earlier complete scan{since} to compare with: every failure counts as new")
    else:
        print(f"  compared with {base.started_at} (complete, account {base.account or '-'})")

    _print_findings("New failures", diff.new)
    _print_findings("Fixed", diff.fixed)
    _print_findings("Still failing", diff.still_failing)
    _print_findings("Failing before, not decided now (not counted as fixed)", diff.undecided)
    if diff.access_note:
        print(f"Access changes: unknown, because {diff.access_note}")
    elif not diff.access_changes:
        print("Access changes: none")
    else:
        print(f"Access changes ({len(diff.access_changes)}):")
        for change in diff.access_changes:
            print(f"  {_access_verb(change):14} {change.principal} {change.capability} on {change.resource}")
    return 0


def _print_findings(heading: str, changes) -> None:
    print(f"{heading} ({len(changes)}):")
    for change in changes:
        first = f", first seen {change.first_seen}" if change.first_seen else ""
        states = f"{change.before or 'not reported'} -> {change.after or 'not reported'}"
        print(f"  {change.severity:8} {change.rule_id} {change.resource_name or change.resource_arn} "
              f"({states}{first}): {change.message}")


def _access_verb(change: history.AccessChange) -> str:
    """Name an access change: gained, lost, or a change between allowed and unknown."""
    if change.after == "allow":
        return "gained" if change.before == "" else "gained (was unknown)"
    if change.before == "allow":
        return "lost" if change.after == "" else "now unknown"
    return "now unknown" if change.after == "unknown" else "no longer unknown"


def _since(text: str) -> dt.datetime:
    try:
        value = dt.datetime.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"invalid value {text!r}; expected YYYY-MM-DD or an ISO 8601 time") from None
    return value


def _require_file(path: Path) -> None:
    """Raise InputError for a missing database, instead of creating an empty one."""
    from infra.errors import InputError
    if not Path(path).is_file():
        raise InputError(f"{path}: history database not found; run pilotctl scan --all, or pass --history")
