"""Benchmark the diagram of a generated account of 50 tenants (about 2,000 graph nodes).

Run on demand (not part of the test suite):

    uv run python scripts/bench_diagram.py                 # 50 tenants
    uv run python scripts/bench_diagram.py --tenants 10 --out /tmp/bench-diagram

The account is generated here as an Inventory and an AccessMatrix, so no emulator
and no IAM evaluation run. Each tenant has 18 people (11 recorders, 4 reporting,
2 IT admins, 1 auditor) in 4 roles plus an AWS Backup service role, 8 stores
(5 buckets, 3 log groups), 7 copies (backup vault, 2 replicas, an access-log
bucket, a trail with its audit bucket and log group), a KMS key and a backup plan.

The script times ``build_graph``, then ``render`` (DOT, SVG and PNG) for the
default view, in which crowded clusters are collapsed; ``render`` with a focus on
one store; and the view with nothing collapsed. ``--layouts`` also times ``dot
-Tsvg`` on the view with nothing collapsed under each Graphviz setting compared
in LAYOUTS. Each line shows the wall time and the CPU time of the ``dot``
processes, which varies less than wall time on a shared machine. The files stay
in ``--out``.
"""

from __future__ import annotations

import argparse
import logging
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from datamap.graph import build_graph  # noqa: E402
from datamap.inventory import Inventory, Resource  # noqa: E402
from datamap.matrix import AccessCell, AccessMatrix, StatementRef  # noqa: E402
from datamap.render import render, to_dot  # noqa: E402
from datamap.views import diagram_view  # noqa: E402
from infra import tags  # noqa: E402
from infra.capabilities import Capability  # noqa: E402

ACCOUNT = "111122223333"
REGION = "eu-west-1"
CUSTOMER = "bench"
ROLES = {"recorder": 11, "reporting": 4, "it-admin": 2, "auditor": 1}
FIRST = ("ana", "ben", "chloe", "dev", "eva", "farid", "grace", "hugo", "ines", "jon", "kira", "liam",
         "mei", "nora", "omar", "pia", "quinn", "rosa")
# Store name → (kind, classification, backed up, replicated and access-logged).
STORES = {
    "records": ("s3", "confidential", True, True), "reports": ("s3", "confidential", False, False),
    "documents": ("s3", "restricted", False, True), "images": ("s3", "internal", False, False),
    "archive": ("s3", "confidential", True, False), "app-logs": ("logs", "internal", False, False),
    "api-logs": ("logs", "internal", False, False), "batch-logs": ("logs", "internal", False, False),
}


def _tags(purpose: str, **extra: str) -> dict[str, str]:
    return {tags.CUSTOMER: CUSTOMER, tags.PURPOSE: purpose, **extra}


def _bucket_arn(tenant: str, name: str) -> str:
    return f"arn:aws:s3:::{tenant}-{name}-{ACCOUNT}"


def _log_group_arn(tenant: str, name: str) -> str:
    return f"arn:aws:logs:{REGION}:{ACCOUNT}:log-group:/pilot/{tenant}/{name}"


def store_arn(tenant: str, store: str) -> str:
    return _bucket_arn(tenant, store) if STORES[store][0] == "s3" else _log_group_arn(tenant, store)


def _bucket(tenant: str, name: str, resource_tags: dict[str, str], key_arn: str, **extra: Any) -> Resource:
    encryption = {"Rules": [{"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "aws:kms",
                                                                    "KMSMasterKeyID": key_arn}}]}
    attributes = {"Name": f"{tenant}-{name}-{ACCOUNT}", "Region": REGION, "Versioning": {"Status": "Enabled"},
                  "LifecycleConfiguration": None, "Encryption": encryption, "Policy": None,
                  "PublicAccessBlock": None, "ReplicationConfiguration": None, "Logging": None,
                  "ObjectLockConfiguration": None, **extra}
    return Resource("s3_bucket", _bucket_arn(tenant, name), attributes["Name"], REGION, resource_tags, attributes)


def _log_group(tenant: str, name: str, resource_tags: dict[str, str], key_arn: str) -> Resource:
    group = f"/pilot/{tenant}/{name}"
    return Resource("log_group", _log_group_arn(tenant, name), group, REGION, resource_tags,
                    {"logGroupName": group, "retentionInDays": 30, "kmsKeyId": key_arn})


def people(tenant: str) -> list[tuple[str, str]]:
    """Return (person id, role) for every person of a tenant."""
    found = []
    for role, count in ROLES.items():
        for _ in range(count):
            found.append((f"{FIRST[len(found)]}.{tenant}", role))
    return found


def tenant_resources(tenant: str) -> list[Resource]:
    key_id = f"{tenant}-0000-4000-8000-000000000000"
    key_arn = f"arn:aws:kms:{REGION}:{ACCOUNT}:key/{key_id}"
    role_arn = f"arn:aws:iam::{ACCOUNT}:role/pilot/{tenant}/{tenant}-{{}}".format
    found = [Resource("kms_key", key_arn, key_id, REGION, _tags("key"),
                      {"KeyId": key_id, "Description": f"Encrypts pilot data of tenant {tenant}"})]
    for person, role in people(tenant):
        found.append(Resource("iam_user", f"arn:aws:iam::{ACCOUNT}:user/pilot/{tenant}/{person}", person, "",
                              _tags("access", **{tags.PERSON: person, tags.ROLE: role}), {"UserName": person}))
    for role in ROLES:
        found.append(Resource("iam_role", role_arn(role), f"{tenant}-{role}", "",
                              _tags("access", **{tags.ROLE: role}), {"RoleName": f"{tenant}-{role}"}))
    found.append(Resource("iam_role", f"arn:aws:iam::{ACCOUNT}:role/pilot/{tenant}/service/{tenant}-backup",
                          f"{tenant}-backup", "", _tags("backup"), {"RoleName": f"{tenant}-backup"}))

    for store, (kind, classification, backup, replicated) in STORES.items():
        store_tags = _tags("store", **{tags.STORE: store, tags.CLASSIFICATION: classification,
                                       tags.BACKUP: str(backup).lower()})
        if kind == "logs":
            found.append(_log_group(tenant, store, store_tags, key_arn))
            continue
        extra: dict[str, Any] = {}
        if replicated:
            replica = _bucket_arn(tenant, f"{store}-replica")
            extra["ReplicationConfiguration"] = {"Rules": [{"ID": "copy-all", "Status": "Enabled", "Filter": {},
                                                            "Destination": {"Bucket": replica}}]}
            extra["Logging"] = {"TargetBucket": f"{tenant}-access-logs-{ACCOUNT}", "TargetPrefix": f"{store}/"}
            found.append(_bucket(tenant, f"{store}-replica", _tags("replica"), key_arn))
        found.append(_bucket(tenant, store, store_tags, key_arn, **extra))
    found.append(_bucket(tenant, "access-logs", _tags("access-logs"), key_arn))
    found.append(_bucket(tenant, "audit", _tags("audit"), key_arn))
    found.append(_log_group(tenant, "audit-trail", _tags("audit"), key_arn))

    vault = f"pilot-{tenant}"
    backed_up = [_bucket_arn(tenant, s) for s, (kind, _, backup, _) in STORES.items() if backup and kind == "s3"]
    found.append(Resource("backup_vault", f"arn:aws:backup:{REGION}:{ACCOUNT}:backup-vault:{vault}", vault, REGION,
                          _tags("backup"), {"BackupVaultName": vault, "EncryptionKeyArn": key_arn}))
    found.append(Resource("backup_plan", f"arn:aws:backup:{REGION}:{ACCOUNT}:backup-plan:{tenant}-plan", vault,
                          REGION, _tags("backup"), {
                              "BackupPlanName": vault, "Rules": [{"RuleName": "daily", "TargetBackupVaultName": vault,
                                                                 "Lifecycle": {"DeleteAfterDays": 30}}],
                              "Selections": [{"SelectionName": f"{tenant}-stores", "Resources": backed_up}]}))
    recorded = [_bucket_arn(tenant, s) + "/" for s, (kind, *_) in STORES.items() if kind == "s3"]
    trail = {"Name": f"pilot-{tenant}", "S3BucketName": f"{tenant}-audit-{ACCOUNT}", "KmsKeyId": key_arn,
             "CloudWatchLogsLogGroupArn": _log_group_arn(tenant, "audit-trail") + ":*",
             "EventSelectors": [{"ReadWriteType": "All",
                                 "DataResources": [{"Type": "AWS::S3::Object", "Values": recorded}]}]}
    found.append(Resource("cloudtrail_trail", f"arn:aws:cloudtrail:{REGION}:{ACCOUNT}:trail/pilot-{tenant}",
                          f"pilot-{tenant}", REGION, _tags("audit"), trail))
    return found


def _cell(tenant: str, person: str, role: str, target: str, name: str, capability: str,
          status: str = "allow") -> AccessCell:
    return AccessCell(principal_arn=f"arn:aws:iam::{ACCOUNT}:user/pilot/{tenant}/{person}", person=person,
                      role=role, resource_arn=target, resource_name=name, capability=Capability(capability),
                      status=status, actions=(f"{capability}-actions",),
                      statements=(StatementRef(f"role {tenant}-{role} inline policy access", capability, "Allow"),),
                      via=f"user {person} assumes role {tenant}-{role}")


def tenant_cells(tenant: str) -> list[AccessCell]:
    cells = []
    members = people(tenant)
    for person, role in members:
        def grant(store: str, *capabilities: str, status: str = "allow") -> None:
            cells.extend(_cell(tenant, person, role, store_arn(tenant, store), store, c, status) for c in capabilities)

        if role == "recorder":
            for store in ("records", "documents", "images"):
                grant(store, "view", "change")
            grant("app-logs", "view")
        elif role == "reporting":
            grant("records", "view")
            grant("reports", "view", "export")
            grant("api-logs", "view", status="unknown")
        elif role == "it-admin":
            for store in STORES:
                grant(store, "admin")
            grant("records", "delete")
            cells.extend(_cell(tenant, person, role, f"arn:aws:iam::{ACCOUNT}:user/pilot/{tenant}/{other}", other,
                               "admin") for other, _ in members)
        else:
            for store in STORES:
                grant(store, "view")
            cells.append(_cell(tenant, person, role, _bucket_arn(tenant, "audit"), "audit", "view"))
            cells.append(_cell(tenant, person, role, _log_group_arn(tenant, "audit-trail"), "audit-trail", "view"))
    return cells


def generate(tenants: int) -> tuple[Inventory, AccessMatrix]:
    """Return the inventory and access matrix of an account holding ``tenants`` tenants."""
    names = [f"t{index:02d}" for index in range(tenants)]
    resources = tuple(r for name in names for r in tenant_resources(name))
    cells = tuple(c for name in names for c in tenant_cells(name))
    inventory = Inventory(customer=CUSTOMER, account_id=ACCOUNT, source="plan", resources=resources, region=REGION)
    return inventory, AccessMatrix(customer=CUSTOMER, cells=cells)


def timed(label: str, work, rows: list[tuple[str, float, float, str]], detail=lambda result: ""):
    """Run ``work`` and record its wall time and the CPU time of the ``dot`` processes it ran."""
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    result = work()
    seconds = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    dot_cpu = after.ru_utime + after.ru_stime - children.ru_utime - children.ru_stime
    rows.append((label, seconds, dot_cpu, detail(result)))
    return result


# Graph attributes compared by --layouts, each replacing what to_dot writes for a large diagram.
LAYOUTS = {
    "chosen: nslimit=1, searchsize=10": " nslimit=1, searchsize=10,",
    "dot defaults": "",
    "chosen + splines=polyline": " nslimit=1, searchsize=10, splines=polyline,",
    "chosen + splines=false": " nslimit=1, searchsize=10, splines=false,",
    "chosen + mclimit=0.5": " nslimit=1, searchsize=10, mclimit=0.5,",
    "chosen + splines=ortho": " nslimit=1, searchsize=10, splines=ortho,",
}


def compare_layouts(graph, out: Path, timeout: int, rows: list[tuple[str, float, float, str]]) -> None:
    """Time ``dot -Tsvg`` on the view with nothing collapsed, once per entry of LAYOUTS."""
    text = to_dot(diagram_view(graph, collapse=None))
    chosen = LAYOUTS["chosen: nslimit=1, searchsize=10"]
    if chosen not in text:
        raise SystemExit("to_dot no longer writes the large-diagram settings this script replaces; update LAYOUTS")
    for name, settings in LAYOUTS.items():
        source = out / f"layout-{len(rows)}.dot"
        source.write_text(text.replace(chosen, settings, 1), encoding="utf-8")

        def run_dot() -> str:
            try:
                subprocess.run(["dot", "-Tsvg", "-o", str(source.with_suffix(".svg")), str(source)],
                               check=True, capture_output=True, timeout=timeout)
            except subprocess.TimeoutExpired:
                return f"timed out after {timeout} s"
            return ""

        timed(f"dot -Tsvg, nothing collapsed, {name}", run_dot, rows, lambda message: message)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tenants", type=int, default=50, help="tenants in the account (default 50)")
    parser.add_argument("--focus", default="records", help="store name of tenant t00 to focus on (default records)")
    parser.add_argument("--out", type=Path, help="directory for the diagrams (default: a temporary directory)")
    parser.add_argument("--skip-full", action="store_true", help="skip the render with nothing collapsed")
    parser.add_argument("--layouts", action="store_true",
                        help="also time dot on the view with nothing collapsed under each layout setting compared")
    parser.add_argument("--layout-timeout", type=int, default=120, help="seconds allowed per layout (default 120)")
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)

    out = args.out or Path(tempfile.mkdtemp(prefix="bench-diagram-"))
    out.mkdir(parents=True, exist_ok=True)
    rows: list[tuple[str, float, float, str]] = []
    inventory, matrix = generate(args.tenants)
    graph = timed("build_graph", lambda: build_graph(inventory, matrix), rows,
                  lambda g: f"{g.number_of_nodes()} nodes, {g.number_of_edges()} edges")

    def drawn(view):
        return lambda _: f"{view.number_of_nodes()} nodes drawn"

    focus = store_arn("t00", args.focus)
    timed("render, default view (collapsed)", lambda: render(graph, out, "default"), rows,
          drawn(diagram_view(graph)))
    timed(f"render, focus on t00 {args.focus}", lambda: render(graph, out, "focus", focus=focus), rows,
          drawn(diagram_view(graph, focus=focus)))
    timed(f"build_graph + render, focus on t00 {args.focus}",
          lambda: render(build_graph(inventory, matrix), out, "focus-again", focus=focus), rows)
    if not args.skip_full:
        timed("render, nothing collapsed", lambda: render(graph, out, "everything", collapse=None), rows,
              drawn(diagram_view(graph, collapse=None)))
    if args.layouts:
        compare_layouts(graph, out, args.layout_timeout, rows)

    print(f"account: {args.tenants} tenants, {len(inventory.resources)} resources, {len(matrix.cells)} cells; "
          f"load average before the run: {LOAD_BEFORE}")
    print(f"{'stage':64} {'wall s':>7} {'dot CPU s':>9}  detail")
    for label, seconds, dot_cpu, detail in rows:
        print(f"{label:64} {seconds:7.2f} {dot_cpu:9.2f}  {detail}")
    print(f"files in {out}")
    return 0


LOAD_BEFORE = " ".join(Path("/proc/loadavg").read_text().split()[:3]) if Path("/proc/loadavg").exists() else "?"

if __name__ == "__main__":
    sys.exit(main())
