"""Benchmark sandbox up, scan and check for 1 and for N tenants in one private emulator.

Run on demand (not part of the test suite):

    uv run python scripts/bench_pipeline.py            # 1 and 50 tenants
    uv run python scripts/bench_pipeline.py --tenants 1 10

Each tenant is the acme spec under another customer id. For each stage the script
prints the wall time and this process's peak resident memory during the stage (Linux:
the peak is reset through /proc/self/clear_refs before each stage), and at the end the
emulator process's peak resident memory.
"""

from __future__ import annotations

import argparse
import datetime as dt
import logging
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from datamap.access import build_matrix  # noqa: E402
from datamap.sources.live import scan  # noqa: E402
from infra.sandbox import emulator  # noqa: E402
from infra.sandbox.deploy import deploy  # noqa: E402
from infra.spec import load_stack_file  # noqa: E402
from policies.engine import run_checks  # noqa: E402


def make_specs(directory: Path, count: int) -> list:
    template = (ROOT / "Pulumi.acme.yaml").read_text()
    specs = []
    for index in range(count):
        customer = f"bench{index:03d}"
        path = directory / f"Pulumi.{customer}.yaml"
        path.write_text(template.replace("pilot:customer: acme", f"pilot:customer: {customer}"))
        specs.append(load_stack_file(path))
    return specs


def measure(label: str, work):
    Path("/proc/self/clear_refs").write_text("5")  # reset VmHWM, the peak resident set size
    started = time.perf_counter()
    result = work()
    seconds = time.perf_counter() - started
    return result, (label, seconds, peak_rss_mib("self"))


def peak_rss_mib(pid: int | str) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def run(count: int) -> list[tuple[str, float, float]]:
    import boto3
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        specs = make_specs(Path(tmp), count)
        with emulator.running(Path(tmp) / "sandbox") as running:
            session = boto3.session.Session(aws_access_key_id="testing", aws_secret_access_key="testing",
                                            region_name="eu-west-1")
            _, row = measure(f"sandbox up, {count} tenants",
                             lambda: [deploy(spec, running.endpoint) for spec in specs])
            rows.append(row)
            inventories, row = measure(f"scan, {count} tenants", lambda: [
                scan(spec.customer, session=session, endpoint_url=running.endpoint, region=spec.region)
                for spec in specs])
            rows.append(row)
            today = dt.date(2027, 2, 1)
            reports, row = measure(f"check (matrix + rules), {count} tenants", lambda: [
                run_checks(inventory, spec, build_matrix(inventory, spec), today)
                for inventory, spec in zip(inventories, specs)])
            rows.append(row)
            failing = sum(1 for report in reports if report.failed)
            resources = sum(len(inventory.resources) for inventory in inventories)
            rows.append((f"emulator peak RSS ({resources} resources scanned, {failing} tenants failing)",
                         float("nan"), peak_rss_mib(running.pid)))
    return rows


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tenants", type=int, nargs="+", default=[1, 50], help="tenant counts to measure")
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    print(f"{'stage':62} {'seconds':>9} {'peak MiB':>9}")
    for count in args.tenants:
        for label, seconds, mib in run(count):
            print(f"{label:62} {seconds:9.2f} {mib:9.1f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
