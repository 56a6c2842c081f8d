"""Benchmark ``datamap.access.build_matrix`` on a generated tenant; prints time and peak memory.

The tenant has 1,000 principals (800 people, 200 roles in 40 teams) and 5,000
resources (4,000 buckets, 998 log groups, a KMS key, a trail). Policies mix action
and resource wildcards, NotAction, explicit denies, conditions on known and
unknowable keys, policy variables, a shared managed policy, bucket policies on a
tenth of the buckets, and MFA-guarded trust policies. Each person may assume one or
two roles of their team; five auditor roles read every bucket.

Run: ``uv run python scripts/bench_access.py [--principals N] [--resources N] [--tracemalloc]``.
Peak memory is the process's maximum resident set size (``resource.getrusage``);
``--tracemalloc`` also reports the peak of Python allocations, at a large cost in time.
"""

from __future__ import annotations

import argparse
import random
import resource
import sys
import time
import tracemalloc
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from datamap.access import build_matrix  # noqa: E402
from datamap.iam.actions import ActionCatalog  # noqa: E402
from datamap.inventory import Inventory, Resource  # noqa: E402

ACCOUNT = "111122223333"
REGION = "eu-west-1"
PATH = "/pilot/bench/"
TEAMS = 40
BASELINE = f"arn:aws:iam::{ACCOUNT}:policy/bench-baseline"


def _policy(*statements: dict[str, Any]) -> dict[str, Any]:
    return {"Version": "2012-10-17", "Statement": list(statements)}


def _bucket(team: int, index: int) -> str:
    return f"bench-team{team:02d}-{index:04d}-{ACCOUNT}"


def _role_arn(name: str) -> str:
    return f"arn:aws:iam::{ACCOUNT}:role{PATH}{name}"


def _role_policies(team: int, kind: str) -> dict[str, Any]:
    buckets = f"arn:aws:s3:::bench-team{team:02d}-*"
    logs = f"arn:aws:logs:{REGION}:{ACCOUNT}:log-group:/pilot/bench/team{team:02d}/*"
    if kind == "reader":
        return _policy({"Effect": "Allow", "Action": ["s3:Get*", "s3:List*"], "Resource": [buckets]},
                       {"Effect": "Deny", "Action": "s3:GetObject", "Resource": f"{buckets}/private/*"})
    if kind == "writer":
        return _policy({"Effect": "Allow", "Action": ["s3:Get*", "s3:PutObject*", "s3:ListBucket"],
                        "Resource": [buckets]},
                       {"Effect": "Allow", "Action": "kms:GenerateDataKey", "Resource": "*"})
    if kind == "logs":
        return _policy({"Effect": "Allow", "Action": ["logs:Get*", "logs:FilterLogEvents", "logs:Describe*"],
                        "Resource": [logs]},
                       {"Effect": "Deny", "Action": "logs:Delete*", "Resource": "*"})
    if kind == "admin":
        return _policy({"Effect": "Allow", "NotAction": ["iam:*", "organizations:*"], "Resource": [buckets, logs]},
                       {"Effect": "Deny", "Action": "s3:DeleteBucket", "Resource": "*",
                        "Condition": {"BoolIfExists": {"aws:MultiFactorAuthPresent": "false"}}},
                       {"Effect": "Deny", "Action": "s3:*", "Resource": "*",
                        "Condition": {"NotIpAddress": {"aws:SourceIp": "203.0.113.0/24"}}})
    return _policy({"Effect": "Allow", "Action": ["s3:GetBucket*", "s3:GetObject", "s3:ListBucket"],
                    "Resource": "*"})


def generate(principals: int, resources: int, seed: int = 7) -> Inventory:
    """Return a generated inventory with about ``principals`` IAM principals and ``resources`` resources."""
    rng = random.Random(seed)
    items: list[Resource] = []
    bucket_count = resources * 4 // 5
    for i in range(bucket_count):
        team = i % TEAMS
        name = _bucket(team, i)
        bucket_policy = None
        if i % 10 == 0:
            bucket_policy = _policy(
                {"Sid": "TlsOnly", "Effect": "Deny", "Principal": "*", "Action": "s3:*",
                 "Resource": [f"arn:aws:s3:::{name}", f"arn:aws:s3:::{name}/*"],
                 "Condition": {"Bool": {"aws:SecureTransport": "false"}}},
                {"Sid": "KeepObjects", "Effect": "Deny", "Principal": {"AWS": "*"}, "Action": "s3:DeleteObject",
                 "Resource": f"arn:aws:s3:::{name}/*",
                 "Condition": {"ArnNotLike": {"aws:PrincipalArn": _role_arn(f"team{team:02d}-admin")}}})
        items.append(Resource(kind="s3_bucket", arn=f"arn:aws:s3:::{name}", name=name, region=REGION,
                              tags={"pilot:store": f"store-{i}"}, attributes={"Name": name, "Policy": bucket_policy}))
    for i in range(resources - bucket_count - 2):
        name = f"/pilot/bench/team{i % TEAMS:02d}/group-{i}"
        items.append(Resource(kind="log_group", arn=f"arn:aws:logs:{REGION}:{ACCOUNT}:log-group:{name}:*",
                              name=name, region=REGION, attributes={"logGroupName": name}))
    key_id = "1234abcd-12ab-34cd-56ef-1234567890ab"
    items.append(Resource(kind="kms_key", arn=f"arn:aws:kms:{REGION}:{ACCOUNT}:key/{key_id}", name=key_id,
                          attributes={"KeyId": key_id, "Policy": _policy(
                              {"Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{ACCOUNT}:root"},
                               "Action": "kms:*", "Resource": "*"})}))
    items.append(Resource(kind="cloudtrail_trail", arn=f"arn:aws:cloudtrail:{REGION}:{ACCOUNT}:trail/pilot-bench",
                          name="pilot-bench", attributes={"Name": "pilot-bench"}))

    items.append(Resource(kind="iam_policy", arn=BASELINE, name="bench-baseline", attributes={
        "PolicyName": "bench-baseline", "Document": _policy(
            {"Effect": "Allow", "Action": "s3:ListAllMyBuckets", "Resource": "*"},
            {"Effect": "Deny", "Action": ["s3:DeleteBucket", "s3:PutBucketPolicy"], "Resource": "*"},
            {"Effect": "Allow", "Action": "s3:GetObject",
             "Resource": "arn:aws:s3:::bench-${aws:PrincipalTag/team}-*/home/${aws:username}/*"})}))

    role_count = principals // 5
    kinds = ("reader", "writer", "logs", "admin")
    trust = _policy({"Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{ACCOUNT}:root"},
                     "Action": "sts:AssumeRole", "Condition": {"Bool": {"aws:MultiFactorAuthPresent": "true"}}})
    roles = []
    for i in range(role_count):
        team = i % TEAMS
        kind = "auditor" if i < 5 else kinds[(i // TEAMS) % len(kinds)]
        name = f"team{team:02d}-{kind}" if kind != "auditor" else f"auditor-{i}"
        roles.append(name)
        items.append(Resource(kind="iam_role", arn=_role_arn(name), name=name, tags={"pilot:role": kind},
                              attributes={"RoleName": name, "Path": PATH, "AssumeRolePolicyDocument": trust,
                                          "InlinePolicies": {"access": _role_policies(team, kind)},
                                          "AttachedPolicies": [], "PermissionsBoundary": None}))
    for i in range(principals - role_count):
        team = i % TEAMS
        name = f"person-{i:04d}"
        team_roles = [r for r in roles if r.startswith(f"team{team:02d}-")] or roles
        chosen = rng.sample(team_roles, k=min(len(team_roles), rng.choice((1, 2))))
        if i % 160 == 0:
            chosen.append(roles[0])
        inline = {"assume": _policy({"Effect": "Allow", "Action": "sts:AssumeRole",
                                     "Resource": [_role_arn(r) for r in chosen]})}
        items.append(Resource(kind="iam_user", arn=f"arn:aws:iam::{ACCOUNT}:user{PATH}{name}", name=name,
                              tags={"pilot:person": name, "team": f"team{team:02d}"},
                              attributes={"UserName": name, "Path": PATH, "InlinePolicies": inline,
                                          "AttachedPolicies": [BASELINE], "PermissionsBoundary": None,
                                          "Groups": [], "GroupPolicies": {}}))
    return Inventory(customer="bench", account_id=ACCOUNT, source="plan", region=REGION, resources=tuple(items))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--principals", type=int, default=1000, help="IAM users and roles (default 1000)")
    parser.add_argument("--resources", type=int, default=5000, help="tenant resources (default 5000)")
    parser.add_argument("--tracemalloc", action="store_true", help="also report peak Python allocations (slow)")
    args = parser.parse_args()

    started = time.perf_counter()
    inventory = generate(args.principals, args.resources)
    catalog = ActionCatalog()
    generated = time.perf_counter()
    if args.tracemalloc:
        tracemalloc.start()
    matrix = build_matrix(inventory, catalog=catalog)
    finished = time.perf_counter()
    peak_python = tracemalloc.get_traced_memory()[1] if args.tracemalloc else 0
    peak_rss_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss

    statuses: dict[str, int] = {}
    for cell in matrix.cells:
        statuses[cell.status] = statuses.get(cell.status, 0) + 1
    print(f"inventory: {args.principals} principals, {args.resources} resources "
          f"(generated in {generated - started:.1f} s)")
    print(f"matrix: {len(matrix.cells)} cells {statuses}, {len(matrix.unclassified_actions)} unclassified actions")
    print(f"build_matrix: {finished - generated:.1f} s")
    print(f"peak resident memory: {peak_rss_kib / 1024:.0f} MiB")
    if args.tracemalloc:
        print(f"peak Python allocations during build_matrix: {peak_python / 2**20:.0f} MiB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
