"""datamap.report: the one-page data map."""

from __future__ import annotations

import dataclasses

from acme_tenant import ACCOUNT, STORE_ARNS, VAULT_ARN, bucket_arn, log_group_arn

from datamap.graph import build_graph
from datamap.inventory import Inventory
from datamap.matrix import AccessCell, StatementRef
from datamap.report import render_data_map, write_data_map
from datamap.report_retention import read_retention
from datamap.retention import bucket_retention
from infra.capabilities import Capability


def data_map(tenant, retention=None):
    graph = build_graph(tenant.inventory, tenant.matrix, tenant.spec)
    return render_data_map(graph, tenant.inventory, tenant.spec, tenant.matrix, retention)


def row_of(text: str, first_cell: str) -> str:
    rows = [line for line in text.splitlines() if line.startswith(f"| {first_cell} |")]
    assert rows, f"no table row starts with {first_cell!r}"
    return rows[-1]


def test_report_sections(tenant):
    text = data_map(tenant)
    for heading in ("# Data map: acme pilot", "## What data enters", "## Where it is stored", "## Who can reach it",
                    "## How long it is kept", "## How it is deleted at pilot end", "## Owners and support",
                    "## Terms"):
        assert f"\n{heading}\n" in f"\n{text}", heading


def test_report_entering(tenant):
    text = data_map(tenant).split("## What data enters")[1].split("##")[0]
    assert row_of(text, "**records**").startswith(
        "| **records** | Shipment records entered by the operations team. | confidential | S3 bucket |")
    assert "Holds exports, so reading it counts as export." in row_of(text, "**reports**")


def test_report_encryption(tenant):
    text = data_map(tenant)
    stored = text.split("## Where it is stored")[1].split("##")[0]
    assert f"| **records** | acme-records-{ACCOUNT} | - | eu-west-1 | KMS key " in stored
    assert (f"| S3 bucket (access log records) | acme-access-logs-{ACCOUNT} | records (access log) | eu-west-1 "
            "| keys managed by S3 (SSE-S3) |") in stored


def test_report_copy_sources(tenant):
    stored = data_map(tenant).split("## Where it is stored")[1].split("##")[0]
    assert "| AWS Backup vault (recovery points) | pilot-acme | records (backup) | eu-west-1 |" in stored
    assert ("| CloudTrail trail (records of access) | pilot-acme | records (audit log), reports (audit log) "
            "| eu-west-1 |") in stored
    assert f"| S3 bucket (audit log files) | acme-audit-{ACCOUNT} | pilot-acme (audit log) | eu-west-1 |" in stored


def test_report_service_role_row(tenant):
    service_role = "arn:aws:iam::111122223333:role/pilot/acme/service/acme-backup-service"
    backup_cells = [AccessCell(principal_arn=service_role, person="", role="", resource_arn=bucket_arn("records"),
                               resource_name="records", capability=capability, status="allow",
                               actions=("s3:GetObject",),
                               statements=(StatementRef("arn:aws:iam::aws:policy/Backup", "S3Restore", "Allow"),))
                    for capability in (Capability.VIEW, Capability.DELETE)]
    text = data_map(tenant.with_cells([*tenant.matrix.cells, *backup_cells]))
    assert "Roles no person assumes, such as the roles AWS services use:" in text
    assert row_of(text, "acme-backup-service") == "| acme-backup-service | records: view, delete |"
    assert ("- role acme-backup-service: **delete** on records, allowed by arn:aws:iam::aws:policy/Backup "
            "statement S3Restore (Allow).") in text


def test_report_retention_figures(tenant):
    text = data_map(tenant).split("## How long it is kept")[1]
    assert row_of(text, "**records**").startswith("| **records** | 90 days | 2027-07-08 (**after** the promised "
                                                  "2027-05-09) |")
    assert row_of(text, "**reports**").startswith("| **reports** | 30 days | 2027-05-09 | rule expire-after-23")
    assert row_of(text, "**app-logs**").startswith("| **app-logs** | 30 days | 2027-05-09 |")
    assert row_of(text, "AWS Backup vault pilot-acme").startswith(
        "| AWS Backup vault pilot-acme | 30 days | 2027-05-09 | plan pilot-acme rule daily deletes")
    assert row_of(text, f"S3 bucket acme-audit-{ACCOUNT}").startswith(
        f"| S3 bucket acme-audit-{ACCOUNT} | 365 days | 2028-04-08 |")
    assert row_of(text, "CloudWatch Logs log group /pilot/acme/audit-trail").startswith(
        "| CloudWatch Logs log group /pilot/acme/audit-trail | 365 days | 2028-04-08 |")
    assert row_of(text, f"S3 bucket acme-access-logs-{ACCOUNT}").startswith(
        f"| S3 bucket acme-access-logs-{ACCOUNT} | 30 days | 2027-05-09 |")


def test_report_retention_mapping_wins(tenant):
    retention = {bucket_arn("records"): (45, "retention.py: newest version expires after 45 days"),
                 log_group_arn("app-logs"): ("unknown", "retention.py: the policy could not be read")}
    text = data_map(tenant, retention).split("## How long it is kept")[1]
    assert row_of(text, "**records**") == ("| **records** | 45 days | 2027-05-24 (**after** the promised 2027-05-09) "
                                           "| retention.py: newest version expires after 45 days |")
    assert row_of(text, "**app-logs**") == ("| **app-logs** | unknown | unknown "
                                            "| retention.py: the policy could not be read |")
    assert "When **app-logs** will be emptied is unknown" in text


def test_report_takes_computed_retention(tenant):
    """A result of datamap.retention can be passed as it is."""
    records = tenant.inventory.by_arn(bucket_arn("records"))
    computed = bucket_retention(dict(records.attributes)).data
    text = data_map(tenant, {records.arn: computed}).split("## How long it is kept")[1]
    assert row_of(text, "**records**").startswith("| **records** | 90 days | 2027-07-08 ")
    assert row_of(text, "**records**").endswith(f"| {computed.reason} |")


def test_report_lifecycle_unreadable(tenant):
    changed = tenant.with_resource(bucket_arn("reports"), errors={"LifecycleConfiguration": "AccessDenied"})
    text = data_map(changed).split("## How long it is kept")[1]
    assert row_of(text, "**reports**") == ("| **reports** | unknown | unknown "
                                           "| its LifecycleConfiguration could not be read (AccessDenied) |")


def test_report_old_versions_kept(tenant):
    lifecycle = {"Rules": [{"ID": "current-only", "Status": "Enabled", "Filter": {}, "Expiration": {"Days": 20}}]}
    changed = tenant.with_resource(bucket_arn("reports"), {"LifecycleConfiguration": lifecycle})
    text = data_map(changed)
    assert row_of(text.split("## How long it is kept")[1], "**reports**").startswith(
        "| **reports** | forever | never by itself | versioning is on: rule current-only turns objects into old "
        "versions after 20 days, but no rule deletes old versions |")
    assert "3. Nothing deletes the data in **reports** before `pulumi destroy` runs." in text


def test_read_retention_cases(tenant):
    inventory = tenant.inventory
    no_retention = dataclasses.replace(inventory.by_arn(STORE_ARNS["app-logs"]),
                                       attributes={"logGroupName": "/pilot/acme/app-logs"})
    assert read_retention(no_retention, inventory)[0] == "forever"
    prefix_only = dataclasses.replace(inventory.by_arn(bucket_arn("reports")), attributes={
        "Versioning": {}, "LifecycleConfiguration": {"Rules": [
            {"ID": "tmp", "Status": "Enabled", "Filter": {"Prefix": "tmp/"}, "Expiration": {"Days": 1}}]}})
    assert read_retention(prefix_only, inventory) == (
        "forever", "lifecycle rules tmp cover only part of the bucket; other objects stay")
    unversioned = dataclasses.replace(prefix_only, attributes={
        "Versioning": {}, "LifecycleConfiguration": {"Rules": [
            {"ID": "all", "Status": "Enabled", "Filter": {}, "Expiration": {"Days": 12}}]}})
    assert read_retention(unversioned, inventory) == (12, "lifecycle rule all deletes objects 12 days after they "
                                                          "are written")
    empty = Inventory("acme", ACCOUNT, "live", ())
    assert read_retention(inventory.by_arn(VAULT_ARN), empty)[0] == "unknown"


def test_report_access_rows(tenant):
    text = data_map(tenant)
    assert row_of(text, "Ana Silva") == "| Ana Silva | recorder | app-logs: view; records: view, change |"
    assert row_of(text, "Grace Lee") == ("| Grace Lee | reporting | app-logs: view (unknown); records: view; "
                                         "reports: export |")
    assert row_of(text, "Hugo Berg") == ("| Hugo Berg | it-admin | app-logs: admin; records: delete, admin; "
                                         "reports: admin; IAM users of 8 people: admin |")


def test_report_deciding_statements(tenant):
    text = data_map(tenant)
    assert ("- Grace Lee: **export** on reports, allowed by role acme-reporting inline policy pilot-access "
            "statement ExportReports (Allow).") in text
    assert ("- Hugo Berg: **delete** on records, allowed by role acme-it-admin inline policy pilot-access "
            "statement DeleteRecords (Allow).") in text
    assert "- Hugo Berg: **admin** on the IAM users of 8 people, allowed by" in text
    assert "Ana Silva: " not in text.split("statements that decide each:")[1]


def test_report_unknown_cells(tenant):
    text = data_map(tenant)
    assert ("- Grace Lee: view on app-logs is **unknown**, because it depends on aws:SourceIp (IpAddress), which "
            "the scan cannot evaluate") in text


def test_report_deletion(tenant):
    text = data_map(tenant).split("## How it is deleted at pilot end")[1]
    assert "customer data by 2027-07-08" in text
    assert "audit logs (records of who accessed what) by 2028-04-08" in text
    assert "`pulumi destroy -s acme`" in text


def test_report_owners_and_support(tenant):
    text = data_map(tenant).split("## Owners and support")[1]
    assert "- Permissions (who gets access): Hugo Berg <hugo.berg@acme.example>" in text
    assert "- Audit logs: Mara Quinn <security@vendor.example>" in text
    assert ("- Support path: write to support@vendor.example. First reply within 4 hours, then an update at "
            "least every 24 hours") in text


def test_report_gaps(tenant):
    changed = tenant.with_resource("arn:aws:backup:eu-west-1:111122223333:backup-plan:6a1e0f3c-plan",
                                   errors={"Selections": "HTTP 500"})
    changed = dataclasses.replace(changed, inventory=dataclasses.replace(
        changed.inventory, errors=("iam:ListRoles: AccessDenied",)))
    text = data_map(changed).split("## What this map could not read")[1]
    assert "- backup plan pilot-acme: Selections could not be read (HTTP 500)" in text
    assert "- iam:ListRoles: AccessDenied" in text


def test_report_escapes_pipes(tenant):
    config_spec = dataclasses.replace(tenant.spec, stores=tuple(
        dataclasses.replace(s, description="in | out") if s.name == "records" else s for s in tenant.spec.stores))
    text = data_map(dataclasses.replace(tenant, spec=config_spec))
    assert "| **records** | in \\| out. |" in text


def test_report_deterministic(tenant, tmp_path):
    shuffled = dataclasses.replace(tenant, inventory=dataclasses.replace(
        tenant.inventory, resources=tuple(reversed(tenant.inventory.resources))),
        matrix=dataclasses.replace(tenant.matrix, cells=tuple(reversed(tenant.matrix.cells))))
    graph = build_graph(tenant.inventory, tenant.matrix, tenant.spec)
    path = write_data_map(graph, tenant.inventory, tenant.spec, tenant.matrix, path=tmp_path / "map" / "acme.md")
    assert path.read_text(encoding="utf-8") == data_map(shuffled)
