"""``pilotctl map`` and ``pilotctl check``: diagram and data map, and the rule catalogue's findings."""

from __future__ import annotations

import argparse
from collections import Counter
from pathlib import Path

from pilotctl import workflow
from pilotctl.scan_cmd import add_target_options
from policies import suppressions
from policies.findings import Severity, Status

SEVERITY_NAMES = tuple(str(severity) for severity in reversed(Severity))  # low, medium, high, critical


def register(subparsers: argparse._SubParsersAction) -> None:
    for name, help_text, handler in (
            ("map", "draw the tenant's data-flow diagram and write its one-page data map", run_map),
            ("check", "check the tenant against the retention and access rules", run_check)):
        parser = subparsers.add_parser(name, help=help_text)
        parser.add_argument("customer", help="customer id; the spec is Pulumi.<customer>.yaml")
        add_target_options(parser)
        add_source_options(parser)
        if name == "check":
            add_check_options(parser)
        else:
            parser.add_argument("--focus", default=None, metavar="NODE",
                                help="draw only the paths through one store, copy, person or role, given by "
                                     "name, ARN or person id; writes diagram-focus-<name>.svg and .png")
        parser.set_defaults(handler=handler)


def add_source_options(parser: argparse.ArgumentParser) -> None:
    """Options that read the tenant from a file instead of scanning the account."""
    source = parser.add_mutually_exclusive_group()
    source.add_argument("--inventory", type=Path, default=None, metavar="FILE",
                        help="use this inventory JSON file (from scan, plan or import) instead of scanning")
    source.add_argument("--stack-export", type=Path, default=None, metavar="FILE",
                        help="read the tenant from this `pulumi stack export` file instead of scanning")
    source.add_argument("--preview", type=Path, default=None, metavar="FILE",
                        help="read the tenant from this `pulumi preview --json --show-sames` file instead of "
                             "scanning")


def add_check_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--format", dest="formats", action="append", type=report_formats, default=None,
                        metavar="FORMAT",
                        help="report format to write: json, md, sarif or junit; repeat the option or give a "
                             "comma-separated list (default: json,md)")
    parser.add_argument("--fail-on", choices=SEVERITY_NAMES, default="low", metavar="SEVERITY",
                        help="exit with 1 when a failure that is not suppressed has this severity or a higher "
                             "one: low, medium, high or critical (default: %(default)s, any failure)")
    parser.add_argument("--allow-unknown", action="store_true",
                        help="exit with 0 even when findings at or above --fail-on are unknown (by default an "
                             "unknown finding blocks like a failure, because it was not shown to pass)")
    parser.add_argument("--suppressions", dest="suppression_files", action="append", type=Path, default=None,
                        metavar="PATH",
                        help="suppressions file to apply; repeatable (default: suppressions.yaml and "
                             "suppressions.<customer>.yaml in --stack-dir, those that exist)")
    parser.add_argument("--checkov", action="store_true",
                        help="also run checkov on the Terraform plan of the Pulumi program under mocks and "
                             "add its results to the findings")


def report_formats(text: str) -> tuple[str, ...]:
    """Parse one --format value, a name or a comma-separated list of names."""
    names = tuple(name.strip() for name in text.split(",") if name.strip())
    invalid = [name for name in names if name not in workflow.REPORT_FORMATS]
    if not names or invalid:
        raise argparse.ArgumentTypeError(f"invalid value {text!r}; expected one or more of "
                                         f"{', '.join(workflow.REPORT_FORMATS)}, separated by commas")
    return names


def run_map(args: argparse.Namespace) -> int:
    spec = workflow.load_spec(args.customer, args.stack_dir)
    inventory, how = workflow.load_or_scan(spec.customer, spec, args)
    directory = workflow.out_dir(spec.customer, args.out)
    matrix = workflow.build_access(inventory, spec)
    workflow.write_access(matrix, directory)
    outputs = workflow.map_tenant(inventory, spec, matrix, directory, focus=args.focus)
    print(f"{spec.customer}: {how}; diagram {outputs.diagram_svg} and {outputs.diagram_png}; "
          f"data map {outputs.data_map}")
    return 0


def run_check(args: argparse.Namespace) -> int:
    spec = workflow.load_spec(args.customer, args.stack_dir)
    files = args.suppression_files
    if files is None:
        files = suppressions.default_paths(args.stack_dir, spec.customer)
    # Read the suppressions before the scan, so an invalid file fails before any slow step.
    entries = suppressions.load(files)
    formats = chosen_formats(args.formats)

    inventory, _ = workflow.load_or_scan(spec.customer, spec, args)
    directory = workflow.out_dir(spec.customer, args.out)
    matrix = workflow.build_access(inventory, spec)
    run = workflow.check_and_report(inventory, spec, matrix, directory, suppressions=entries,
                                    checkov=args.checkov, formats=formats,
                                    stack_file=workflow.spec_path(spec.customer, args.stack_dir))
    threshold = Severity(args.fail_on)
    print_summary(run.report, run.files, threshold)
    if run.report.failures_at(threshold):
        return 1
    undecided = run.report.unknowns_at(threshold)
    if undecided and not args.allow_unknown:
        print(f"{len(undecided)} unknown findings at or above {threshold}: exit 1 (use --allow-unknown to accept)")
        return 1
    return 0


def print_summary(report, files: dict[str, Path], threshold: Severity = Severity.LOW) -> None:
    """Print counts, then failures, unknowns and suppression problems, one line each."""
    counts = {status: len(report.unsuppressed(status)) for status in Status}
    suppressed, expired = report.suppressed(), report.expired_suppressions()
    print(f"{report.customer}: {counts[Status.PASS]} pass, {counts[Status.FAIL]} fail, "
          f"{counts[Status.UNKNOWN]} unknown, {len(suppressed)} suppressed, {len(expired)} expired suppressions "
          f"-> {', '.join(str(path) for path in files.values())}")

    blocking = report.failures_at(threshold)
    below = [f for f in report.unsuppressed(Status.FAIL) if f not in blocking]
    _print_group(f"Failures at or above {threshold}", blocking, report)
    _print_group(f"Failures below {threshold} (they do not change the exit code)", below, report)
    _print_group("Unknown (not decided, so not a pass)", report.unsuppressed(Status.UNKNOWN), report)
    if expired:
        print(f"Expired suppressions ({len(expired)}):")
        for finding in expired:
            entry = report.marks[finding].suppression
            print(f"  EXPIRED {finding.rule_id} {finding.resource} ({finding.status}): suppression expired on "
                  f"{entry.expires.isoformat()} ({entry.source})")
    if suppressed:
        per_rule = Counter(f.rule_id for f in suppressed)
        print(f"Suppressed ({len(suppressed)}): " + ", ".join(f"{rule} x{n}" for rule, n in sorted(per_rule.items())))
    for finding in suppressed:
        if finding.status is Status.UNKNOWN:
            entry = report.marks[finding].suppression
            print(f"  UNKNOWN {finding.rule_id} {finding.resource}: still undecided, suppressed until "
                  f"{entry.expires.isoformat()} ({entry.source})")
    if report.unused_suppressions:
        print(f"Suppressions that matched no finding ({len(report.unused_suppressions)}):")
        for entry in report.unused_suppressions:
            print(f"  UNUSED  {entry.source}: {entry.rule_id} {entry.resource}")


def _print_group(heading: str, findings, report) -> None:
    if not findings:
        return
    print(f"{heading} ({len(findings)}):")
    for finding in findings:
        mark = report.mark_of(finding)
        expired = f" [suppression expired on {mark.suppression.expires.isoformat()}]" if mark else ""
        print(f"  {str(finding.status).upper():7} {finding.severity:8} {finding.rule_id} {finding.message}{expired}")


def chosen_formats(values: list[tuple[str, ...]] | None) -> tuple[str, ...]:
    """Merge repeated --format values in order, without duplicates; none gives the defaults."""
    if not values:
        return workflow.DEFAULT_REPORT_FORMATS
    chosen: list[str] = []
    for group in values:
        chosen += [name for name in group if name not in chosen]
    return tuple(chosen)
