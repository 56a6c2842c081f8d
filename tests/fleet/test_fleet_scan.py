"""``pilotctl scan --all`` on a sandbox fleet: 20 tenants in two accounts, one account denied, one unreachable.

Account A (moto's default) contains acme, deployed by the Pulumi program from its stack
file, and 18 hand-built tenants. Account B contains one hand-built tenant, and every IAM
call there is denied. Assuming the role in account C is denied, and the stack file of
tenant gamma names a tenant that lives nowhere. A second scan after two changes to
acme feeds ``pilotctl diff``.
"""

from __future__ import annotations

import shutil
import sqlite3
from collections import Counter
from pathlib import Path

import boto3
import pytest
from botocore.awsrequest import AWSResponse
from fleet_tenants import SMALL, TINY, TenantBuilder, account_session, base_session

from infra.sandbox.deploy import deploy
from infra.spec import load_stack_file
from pilotctl import scan_cmd
from pilotctl.cli import build_parser, main
from policies.catalog import RULES

pytestmark = pytest.mark.moto_server

ROOT = Path(__file__).resolve().parents[2]
ACCOUNT_A, ACCOUNT_B, ACCOUNT_C = "123456789012", "210987654321", "333333333333"
HAND_BUILT_A = [f"tenant{index:02d}" for index in range(18)]
DENIED_TENANT = "bravo"
ROLE_TEMPLATE = "arn:aws:iam::{account}:role/pilotctl-reader"


def _reply(status: int, code: str):
    """Return a before-call handler result that makes botocore raise ClientError without sending the request."""
    return (AWSResponse("http://127.0.0.1/injected", status, {}, None),
            {"Error": {"Code": code, "Message": "injected by the test"}, "ResponseMetadata": {"HTTPStatusCode": status}})


class CallLog:
    """Counts operations per account over every session the fleet scan creates, and denies IAM in account B."""

    def __init__(self) -> None:
        self.calls: Counter[tuple[str, str]] = Counter()

    def prepare(self, session: boto3.Session, account_id: str) -> None:
        def handle(model, **kwargs):
            self.calls[(account_id, model.name)] += 1
            if account_id == ACCOUNT_B and model.service_model.service_name == "iam":
                return _reply(403, "AccessDenied")
            return None

        session.events.register("before-call", handle)


def _deny_assume_role_in_c(session: boto3.Session) -> None:
    def handler(params, **kwargs):
        if ACCOUNT_C in str(params.get("body")):
            return _reply(403, "AccessDenied")
        return None

    session.events.register("before-call.sts.AssumeRole", handler)


def _fleet(paths: dict[str, Path], log: CallLog) -> int:
    args = build_parser().parse_args([
        "scan", "--all", "--stack-dir", str(paths["stacks"]), "--out", str(paths["out"]),
        "--history", str(paths["history"]), "--accounts", f"{ACCOUNT_A},{ACCOUNT_B},{ACCOUNT_C}",
        "--role-arn", ROLE_TEMPLATE, "--region", "us-east-1", "--workers", "4"])
    session = base_session()
    _deny_assume_role_in_c(session)
    return scan_cmd.run_fleet(args, session=session, prepare_session=log.prepare)


@pytest.fixture(scope="module")
def fleet(fleet_emulator, tmp_path_factory):
    """Build the fleet, scan it, change acme, scan again; return paths, exit codes, output and call logs."""
    endpoint = fleet_emulator.endpoint
    stacks = tmp_path_factory.mktemp("stacks")
    shutil.copy(ROOT / "Pulumi.acme.yaml", stacks)
    gamma = (ROOT / "Pulumi.acme.yaml").read_text().replace("pilot:customer: acme", "pilot:customer: gamma")
    (stacks / "Pulumi.gamma.yaml").write_text(gamma)
    deploy(load_stack_file(stacks / "Pulumi.acme.yaml"), endpoint)
    builder_a = TenantBuilder(base_session(), endpoint, ACCOUNT_A)
    for customer in HAND_BUILT_A:
        builder_a.build(customer, TINY)
    TenantBuilder(account_session(endpoint, ACCOUNT_B), endpoint, ACCOUNT_B).build(DENIED_TENANT, SMALL)

    work = tmp_path_factory.mktemp("fleet")
    paths = {"stacks": stacks, "out": work / "out", "history": work / "history.sqlite"}
    first, second = CallLog(), CallLog()
    codes = [_fleet(paths, first)]

    # Changes for the diff: a lifecycle removed and a person given delete on acme's stores.
    s3 = base_session().client("s3", endpoint_url=endpoint)
    s3.delete_bucket_lifecycle(Bucket=f"acme-records-{ACCOUNT_A}")
    iam = base_session().client("iam", endpoint_url=endpoint)
    iam.put_user_policy(UserName="acme-ana.silva", PolicyName="extra-delete", PolicyDocument=(
        '{"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "s3:DeleteObject", '
        f'"Resource": "arn:aws:s3:::acme-reports-{ACCOUNT_A}/*"}}]}}'))
    codes.append(_fleet(paths, second))
    return {"paths": paths, "codes": codes, "calls": first.calls}


def _scans(history: Path) -> list[sqlite3.Row]:
    with sqlite3.connect(history) as db:
        db.row_factory = sqlite3.Row
        return db.execute("SELECT * FROM scans ORDER BY id").fetchall()


def _latest(history: Path) -> dict[str, sqlite3.Row]:
    return {row["customer"]: row for row in _scans(history)}


def test_fleet_exit_code(fleet):
    assert fleet["codes"] == [1, 1]


def test_fleet_records_every_tenant(fleet):
    scans = _scans(fleet["paths"]["history"])
    first_run = [row for row in scans if row["run_id"] == scans[0]["run_id"]]
    assert len(first_run) == 21
    assert Counter(row["status"] for row in first_run) == {"complete": 20, "failed": 1}


def test_fleet_accounts_of_tenants(fleet):
    latest = _latest(fleet["paths"]["history"])
    accounts = {customer: row["account"] for customer, row in latest.items()}
    assert {accounts[customer] for customer in [*HAND_BUILT_A, "acme"]} == {ACCOUNT_A}
    assert accounts[DENIED_TENANT] == ACCOUNT_B


def test_fleet_unreachable_tenant_unknown(fleet):
    gamma = _latest(fleet["paths"]["history"])["gamma"]
    assert gamma["status"] == "failed"
    assert ACCOUNT_C in gamma["reason"]
    assert "AccessDenied" in gamma["reason"]
    with sqlite3.connect(fleet["paths"]["history"]) as db:
        statuses = Counter(status for (status,) in db.execute("SELECT status FROM findings WHERE scan_id = ?",
                                                               (gamma["id"],)))
    assert statuses == {"unknown": len(RULES)}


def test_fleet_denied_iam_unknown(fleet):
    bravo = _latest(fleet["paths"]["history"])[DENIED_TENANT]
    assert bravo["status"] == "complete"
    assert bravo["access_known"] == 0
    assert "iam:ListRoles: AccessDenied" in bravo["access_reason"]
    with sqlite3.connect(fleet["paths"]["history"]) as db:
        rows = db.execute("SELECT rule_id, status, message FROM findings WHERE scan_id = ? AND resource_arn = ? "
                          "AND rule_id IN ('PILOT-IDN-002', 'PILOT-IDN-004', 'PILOT-ACC-005')",
                          (bravo["id"], f"tenant:{DENIED_TENANT}")).fetchall()
    assert sorted(rule for rule, _, _ in rows) == ["PILOT-ACC-005", "PILOT-IDN-002", "PILOT-IDN-004"]
    for rule, status, message in rows:
        assert status == "unknown", rule
        assert "iam:ListRoles: AccessDenied" in message, rule


def test_fleet_reachable_tenants_complete(fleet):
    latest = _latest(fleet["paths"]["history"])
    for customer in [*HAND_BUILT_A, "acme"]:
        assert latest[customer]["status"] == "complete", customer
        assert latest[customer]["access_known"] == 1, customer


def test_fleet_reads_tags_once(fleet):
    calls = fleet["calls"]
    buckets = TINY.buckets * len(HAND_BUILT_A) + 3  # acme has records, reports and its audit bucket
    assert calls[(ACCOUNT_A, "GetBucketTagging")] == buckets
    assert calls[(ACCOUNT_A, "ListRoles")] == 1
    assert calls[(ACCOUNT_B, "ListRoles")] == 1


def test_fleet_summary_lists_failures(fleet):
    summary = (fleet["paths"]["out"] / "fleet.json").read_text()
    assert ACCOUNT_C in summary
    assert (fleet["paths"]["out"] / "acme" / "findings.json").is_file()
    assert (fleet["paths"]["out"] / DENIED_TENANT / "inventory.json").is_file()


def test_history_lists_two_scans(fleet, capsys):
    code = main(["history", "acme", "--history", str(fleet["paths"]["history"])])
    lines = capsys.readouterr().out.splitlines()
    assert code == 0
    assert lines[0].startswith("acme: 2 scans")
    assert sum(" complete " in line for line in lines) == 2


def test_diff_new_failure_and_access(fleet, capsys):
    code = main(["diff", "acme", "--history", str(fleet["paths"]["history"])])
    text = capsys.readouterr().out
    assert code == 0
    new = text.split("New failures (", 1)[1].split("Fixed (", 1)[0]
    assert "PILOT-RET-002" in new
    assert "gained" in text
    assert "ana.silva delete on reports" in text
