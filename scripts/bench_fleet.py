"""Benchmark the fleet scan against the emulator's own call rate, in one private emulator.

Run on demand (not part of the test suite):

    uv run python scripts/bench_fleet.py                      # 100 tenants, 4 workers
    uv run python scripts/bench_fleet.py --tenants 20 --workers 1 4 --single 2

The script builds hand-built tenants (``tests/fleet/fleet_tenants.py``, 17 resources
each) in one account, then for each worker count runs ``datamap.fleet.FleetScan`` and
counts its API calls with a botocore ``before-call`` handler. Around the scans it
measures the emulator's raw rate: ``s3:GetBucketVersioning`` on one bucket, from 1 and
from 4 threads, with the scanner's client settings (standard retries, 5 attempts). The
scan time is then printed as a multiple of the time the same number of calls takes at
the best measured rate. ``--single K`` also times ``scan()`` of K tenants one by one,
the per-tenant path that ``pilotctl scan <customer>`` uses, and extrapolates its calls to
every tenant (an estimate).
"""

from __future__ import annotations

import argparse
import datetime as dt
import sys
import tempfile
import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests" / "fleet"))

import boto3  # noqa: E402
from botocore.config import Config  # noqa: E402
from fleet_tenants import DEFAULT_ACCOUNT, Shape, TenantBuilder, base_session  # noqa: E402

from datamap.access import build_matrix  # noqa: E402
from datamap.fleet import Account, FleetOptions, FleetScan  # noqa: E402
from datamap.sources.live import DEFAULT_MAX_ATTEMPTS, scan  # noqa: E402
from infra.sandbox import emulator  # noqa: E402
from policies.engine import run_checks  # noqa: E402

RATE_CALLS = 300


class CallCounter:
    """Counts API calls over every session it is attached to; safe across threads."""

    def __init__(self) -> None:
        self.calls: Counter[str] = Counter()
        self._lock = threading.Lock()

    def attach(self, session: boto3.Session, account_id: str = "") -> None:
        session.events.register("before-call", self._count)

    def _count(self, model, **kwargs) -> None:
        with self._lock:
            self.calls[f"{model.service_model.service_name}:{model.name}"] += 1

    @property
    def total(self) -> int:
        return sum(self.calls.values())


def build_tenants(endpoint: str, count: int, shape: Shape) -> list[str]:
    """Create ``count`` tenants from 4 threads, each thread with its own session and clients."""
    customers = [f"bench{index:03d}" for index in range(count)]

    def build(part: list[str]) -> None:
        builder = TenantBuilder(base_session(), endpoint, DEFAULT_ACCOUNT)
        for customer in part:
            builder.build(customer, shape)

    with ThreadPoolExecutor(4) as pool:
        list(pool.map(build, [customers[index::4] for index in range(4)]))
    return customers


def call_rate(endpoint: str, bucket: str, threads: int) -> float:
    """Return calls per second of GetBucketVersioning on one bucket, RATE_CALLS calls spread over ``threads``."""
    config = Config(retries={"mode": "standard", "total_max_attempts": DEFAULT_MAX_ATTEMPTS})
    clients = [base_session().client("s3", endpoint_url=endpoint, config=config) for _ in range(threads)]
    clients[0].get_bucket_versioning(Bucket=bucket)  # connect before the clock starts

    def work(client) -> None:
        for _ in range(RATE_CALLS // threads):
            client.get_bucket_versioning(Bucket=bucket)

    started = time.perf_counter()
    with ThreadPoolExecutor(threads) as pool:
        list(pool.map(work, clients))
    return (RATE_CALLS // threads * threads) / (time.perf_counter() - started)


def fleet_scan(endpoint: str, workers: int) -> tuple[float, CallCounter, list]:
    counter = CallCounter()
    options = FleetOptions(endpoint_url=endpoint, region="us-east-1", workers=workers,
                           prepare_session=counter.attach)
    started = time.perf_counter()
    tenants = list(FleetScan([Account()], session=base_session(), options=options).run())
    return time.perf_counter() - started, counter, tenants


def check_all(tenants: list) -> float:
    started = time.perf_counter()
    for tenant in tenants:
        matrix = build_matrix(tenant.inventory, tenant.spec)
        run_checks(tenant.inventory, tenant.spec, matrix, dt.date(2027, 2, 1))
    return time.perf_counter() - started


def single_scans(endpoint: str, customers: list[str]) -> tuple[float, int]:
    session = base_session()
    counter = CallCounter()
    counter.attach(session)
    started = time.perf_counter()
    for customer in customers:
        scan(customer, session=session, endpoint_url=endpoint, region="us-east-1")
    return time.perf_counter() - started, counter.total


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tenants", type=int, default=100, help="number of tenants (default: %(default)s)")
    parser.add_argument("--workers", type=int, nargs="+", default=[4], help="worker counts to run (default: 4)")
    parser.add_argument("--single", type=int, default=3,
                        help="tenants to scan one by one with scan(), 0 to skip (default: %(default)s)")
    args = parser.parse_args()
    shape = Shape()

    with tempfile.TemporaryDirectory() as tmp, emulator.running(Path(tmp) / "sandbox") as running:
        endpoint = running.endpoint
        started = time.perf_counter()
        customers = build_tenants(endpoint, args.tenants, shape)
        print(f"built {len(customers)} tenants, {len(customers) * shape.resources} resources, in "
              f"{time.perf_counter() - started:.1f} s")
        bucket = f"{customers[0]}-store0-{DEFAULT_ACCOUNT}"
        rates = {f"before, {threads} threads": call_rate(endpoint, bucket, threads) for threads in (1, 4)}

        runs = []
        for workers in args.workers:
            seconds, counter, scanned = fleet_scan(endpoint, workers)
            found = sum(len(tenant.inventory.resources) for tenant in scanned if tenant.inventory)
            runs.append((workers, seconds, counter, len(scanned), found))
        checked = check_all(scanned)
        rates.update({f"after, {threads} threads": call_rate(endpoint, bucket, threads) for threads in (1, 4)})
        if args.single:
            single_seconds, single_calls = single_scans(endpoint, customers[:args.single])

    best = max(rates.values())
    for label, rate in rates.items():
        print(f"emulator rate {label}: {rate:.0f} calls/s")
    for workers, seconds, counter, count, found in runs:
        limit = counter.total / best
        print(f"fleet scan, {workers} workers: {count} tenants, {found} resources, {counter.total} calls in "
              f"{seconds:.1f} s = {counter.total / seconds:.0f} calls/s; at {best:.0f} calls/s the calls take "
              f"{limit:.1f} s, so the scan takes {seconds / limit:.2f}x that")
        print("  calls by operation: " + ", ".join(f"{name} {n}" for name, n in counter.calls.most_common(8)))
    print(f"check (access matrix + rules) of {len(scanned)} tenants: {checked:.1f} s")
    if args.single:
        per_tenant = single_calls / args.single
        print(f"scan() one tenant at a time: {args.single} tenants, {single_calls} calls in {single_seconds:.1f} s; "
              f"estimate for {args.tenants} tenants: {per_tenant * args.tenants:.0f} calls, "
              f"{single_seconds / args.single * args.tenants:.0f} s")


if __name__ == "__main__":
    main()
