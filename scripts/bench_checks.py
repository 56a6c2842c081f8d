"""Benchmark the rule catalogue against checkov on the same planned resources, in one run.

Run on demand (not part of the test suite; needs scripts/setup-checkov):

    uv run python scripts/bench_checks.py                 # about 10,000 planned resources
    uv run python scripts/bench_checks.py --resources 2000
    uv run python scripts/bench_checks.py --tenants 100 --skip-checkov   # plan + check of 100 stacks
    uv run python scripts/bench_checks.py --skip-checkov --repeat 5 --no-collect
    uv run python scripts/bench_checks.py --skip-checkov --by-rule       # where the catalogue's time goes

The acme spec is planned under Pulumi's mocks for as many customer ids as it takes to
reach the requested number of registered Pulumi resources. pilotctl's catalogue runs on
each tenant's planned inventory with its access matrix built beforehand, and the matrices
are timed separately. checkov runs once on the Terraform-plan JSON of all the resources.

Each timed section starts right after a full garbage collection, so that no section pays
for collecting what an earlier one left behind. The collector stays on while a section
runs. Without that (``--no-collect``), whichever section happens to set off a full pass
over the planning heap (about 0.2 s here) is charged for it. The catalogue is timed
``--repeat`` times and the median is compared with checkov.
"""

from __future__ import annotations

import argparse
import datetime as dt
import gc
import logging
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from datamap.access import build_matrix  # noqa: E402
from datamap.sources.program import convert  # noqa: E402
from infra.sandbox.fabricate import PlanHooks  # noqa: E402
from infra.sandbox.program import run_program  # noqa: E402
from infra.spec import load_stack_file  # noqa: E402
from policies.catalog import RULES  # noqa: E402
from policies.checkov.runner import run_checkov  # noqa: E402
from policies.context import CheckContext  # noqa: E402
from policies.engine import run_checks  # noqa: E402

ACCOUNT = "123456789012"


def plan_tenants(target: int, directory: Path, tenant_count: int | None = None):
    """Plan acme-shaped tenants until ``target`` Pulumi resources are registered, or ``tenant_count`` tenants."""
    template = (ROOT / "Pulumi.acme.yaml").read_text()
    tenants, resources = [], []
    index = 0
    while (len(tenants) < tenant_count) if tenant_count else (len(resources) < target):
        path = directory / f"Pulumi.b{index:04d}.yaml"
        path.write_text(template.replace("pilot:customer: acme", f"pilot:customer: b{index:04d}"))
        spec = load_stack_file(path)
        registered = [r for r in run_program(spec, PlanHooks(account_id=ACCOUNT, region=spec.region))
                      if r.custom and not r.type.startswith("pulumi:providers:")]
        inventory = convert(registered, spec.customer, ACCOUNT, spec.region).inventory
        tenants.append((spec, inventory))
        resources += registered
        index += 1
    return tenants, resources


def time_rules(tenants: list, matrices: list, today: dt.date, collect: Callable[[], object]) -> dict[str, float]:
    """Return the seconds each catalogue rule takes over all tenants, evaluated in catalogue order as run_checks does."""
    seconds = dict.fromkeys((rule.id for rule in RULES), 0.0)
    collect()
    for (spec, inventory), matrix in zip(tenants, matrices):
        context = CheckContext(inventory=inventory, spec=spec, matrix=matrix, today=today)
        for rule in RULES:
            started = time.perf_counter()
            list(rule.evaluate(context))
            seconds[rule.id] += time.perf_counter() - started
    return seconds


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--resources", type=int, default=10_000, help="Pulumi resources to plan (default 10000)")
    parser.add_argument("--tenants", type=int, default=None, help="plan exactly this many tenants instead")
    parser.add_argument("--skip-checkov", action="store_true", help="time only pilotctl")
    parser.add_argument("--repeat", type=int, default=3, help="time the catalogue this many times (default 3)")
    parser.add_argument("--no-collect", action="store_true",
                        help="do not run a full garbage collection before each timed section")
    parser.add_argument("--by-rule", action="store_true",
                        help="also time each rule over all tenants and list the slowest ones")
    args = parser.parse_args()
    if args.repeat < 1:
        parser.error(f"--repeat: invalid value {args.repeat}; expected 1 or more")
    logging.basicConfig(level=logging.WARNING)
    collect = (lambda: None) if args.no_collect else gc.collect

    with tempfile.TemporaryDirectory() as tmp:
        started = time.perf_counter()
        tenants, resources = plan_tenants(args.resources, Path(tmp), args.tenants)
        planning = time.perf_counter() - started
        inventory_size = sum(len(inventory.resources) for _, inventory in tenants)

        collect()
        started = time.perf_counter()
        matrices = [build_matrix(inventory, spec) for spec, inventory in tenants]
        matrix_seconds = time.perf_counter() - started

        today = dt.date(2027, 2, 1)
        timings = []
        for _ in range(args.repeat):
            reports = None   # the previous round's reports are garbage before the next round starts
            collect()
            started = time.perf_counter()
            reports = [run_checks(inventory, spec, matrix, today)
                       for (spec, inventory), matrix in zip(tenants, matrices)]
            timings.append(time.perf_counter() - started)
        ours = statistics.median(timings)
        findings = sum(len(report.findings) for report in reports)
        by_rule = time_rules(tenants, matrices, today, collect) if args.by_rule else {}

        result, theirs = None, 0.0
        if not args.skip_checkov:
            collect()
            started = time.perf_counter()
            result = run_checkov(resources, Path(tmp) / "checkov")
            theirs = time.perf_counter() - started

    print(f"planned {len(resources)} Pulumi resources ({len(tenants)} tenants, {inventory_size} inventory "
          f"records) in {planning:.1f} s")
    print(f"access matrices:               {matrix_seconds:8.2f} s")
    spread = f"; median of {len(timings)} runs, {min(timings):.2f}-{max(timings):.2f} s" if len(timings) > 1 else ""
    print(f"pilotctl catalogue (run_checks): {ours:6.2f} s  ({findings} findings{spread})")
    print(f"plan + matrices + catalogue:     {planning + matrix_seconds + ours:6.2f} s")
    if by_rule:
        print("slowest rules over all tenants (data that rules share is charged to the first rule to read it):")
        for rule_id, seconds in sorted(by_rule.items(), key=lambda item: -item[1])[:8]:
            print(f"  {rule_id:14} {seconds:6.2f} s  {seconds / len(tenants) * 1000:5.2f} ms per tenant")
    if result is not None:
        print(f"checkov on the converted plan:   {theirs:6.2f} s  ({len(result.records)} results)")
        print(f"ratio checkov / catalogue:       {theirs / ours:6.1f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main())
