"""Retention figures of the data map, read from each store's or copy's own inventory attributes.

The data map uses these when the caller passes no ``retention`` mapping. A figure
is (days, "forever" or "unknown") with a plain-English reason. A mapping entry for a
resource ARN always wins over what is read here. Its value may be such a pair or a
``datamap.retention.Retention`` computed by the exact arithmetic there.
"""

from __future__ import annotations

from collections.abc import Mapping

import networkx as nx

from datamap.inventory import Inventory, Resource
from datamap.retention.result import Retention

# (days, "forever" or "unknown", then the reason in plain words)
RetentionFigure = tuple[int | str, str]


def retention_of(graph: nx.MultiDiGraph, inventory: Inventory, node: str,
                 retention: Mapping[str, RetentionFigure | Retention]) -> RetentionFigure:
    """Return the retention figure of a store or copy: from ``retention`` if it has the node's ARN, else read."""
    data = graph.nodes[node]
    for key in (data["arn"], node):
        if key in retention:
            return as_figure(retention[key])
    resource = inventory.by_arn(data["arn"])
    if resource is None:
        return "unknown", "it is not in the inventory (it may be in another account or region), so it was not read"
    if resource.kind == "cloudtrail_trail":
        return _trail_retention(graph, inventory, node, retention)
    return read_retention(resource, inventory)


def as_figure(value: RetentionFigure | Retention) -> RetentionFigure:
    """Return a (days, "forever" or "unknown", reason) pair for a pair or a ``datamap.retention.Retention``."""
    if isinstance(value, Retention):
        return (value.days if value.is_days else value.kind.value), value.reason
    return value


def read_retention(resource: Resource, inventory: Inventory) -> RetentionFigure:
    """Return (days, "forever" or "unknown", reason) from a bucket's, log group's or vault's own attributes.

    A versioned bucket keeps data for the current-version expiration plus the
    noncurrent-version expiration, since expiring a current version only makes it
    an old version.
    """
    # NOTE: rules with filters (prefix, tags, size), Expiration.Date and Object Lock are only
    # summarised here. Pass results of the datamap.retention package as ``retention`` for exact figures.
    if resource.kind == "log_group":
        if "retentionInDays" in resource.errors:
            return "unknown", f"its retention setting could not be read ({resource.errors['retentionInDays']})"
        days = resource.get("retentionInDays")
        if days is None:
            return "forever", "no retention period is set, so CloudWatch Logs keeps events until the group is deleted"
        return int(days), f"the log group's retention period is {int(days)} days"
    if resource.kind == "backup_vault":
        return _vault_retention(resource, inventory)
    if resource.kind != "s3_bucket":
        return "unknown", f"retention of a {resource.kind} is not read by the data map"
    for attribute in ("LifecycleConfiguration", "Versioning"):
        if not resource.known(attribute):
            return "unknown", f"its {attribute} could not be read ({resource.errors.get(attribute, 'not recorded')})"
    configured = (resource.get("LifecycleConfiguration") or {}).get("Rules") or ()
    rules = [r for r in configured if r.get("Status") == "Enabled"]
    whole = [r for r in rules if _whole_bucket(r)]
    expiring = sorted((r["Expiration"]["Days"], r.get("ID", "")) for r in whole
                      if (r.get("Expiration") or {}).get("Days"))
    if not expiring:
        partial = sorted(r.get("ID", "") for r in rules if r not in whole)
        if partial:
            return "forever", f"lifecycle rules {', '.join(partial)} cover only part of the bucket; other objects stay"
        return "forever", "no lifecycle rule deletes objects, so they stay until someone deletes them"
    days, rule = int(expiring[0][0]), expiring[0][1]
    if (resource.get("Versioning") or {}).get("Status") not in ("Enabled", "Suspended"):
        return days, f"lifecycle rule {rule} deletes objects {days} days after they are written"
    old = sorted(int(r["NoncurrentVersionExpiration"]["NoncurrentDays"]) for r in whole
                 if (r.get("NoncurrentVersionExpiration") or {}).get("NoncurrentDays"))
    if not old:
        return "forever", (f"versioning is on: rule {rule} turns objects into old versions after {days} days, "
                           f"but no rule deletes old versions")
    return days + old[0], (f"rule {rule} turns objects into old versions after {days} days, and old versions "
                           f"are deleted {old[0]} days later")


def _whole_bucket(rule: Mapping) -> bool:
    rule_filter = rule.get("Filter")
    if rule_filter is None:
        return not rule.get("Prefix")
    return not any(rule_filter.get(k) for k in ("Prefix", "Tag", "And", "ObjectSizeGreaterThan", "ObjectSizeLessThan"))


def _vault_retention(vault: Resource, inventory: Inventory) -> RetentionFigure:
    name = vault.get("BackupVaultName", vault.name)
    found = []
    for plan in sorted(inventory.of_kind("backup_plan"), key=lambda r: r.arn):
        for rule in plan.get("Rules") or ():
            label = f"plan {plan.get('BackupPlanName', plan.name)} rule {rule.get('RuleName', '')}"
            if rule.get("TargetBackupVaultName") == name:
                found.append((label, (rule.get("Lifecycle") or {}).get("DeleteAfterDays")))
            for action in rule.get("CopyActions") or ():
                if action.get("DestinationBackupVaultArn") == vault.arn:
                    found.append((f"{label} copy", (action.get("Lifecycle") or {}).get("DeleteAfterDays")))
    if not found:
        return "unknown", "no backup rule in the inventory sends recovery points here"
    forever = [label for label, days in found if not days]
    if forever:
        return "forever", f"{', '.join(forever)} sets no DeleteAfterDays, so recovery points stay until deleted"
    days, label = max((int(d), label) for label, d in found)
    return days, f"{label} deletes recovery points {days} days after they are made"


def _trail_retention(graph: nx.MultiDiGraph, inventory: Inventory, node: str,
                     retention: Mapping[str, RetentionFigure | Retention]) -> RetentionFigure:
    destinations = [v for _, v, d in graph.out_edges(node, data=True) if d["kind"] == "flow"]
    values = [retention_of(graph, inventory, v, retention)[0] for v in destinations]
    names = ", ".join(sorted(graph.nodes[v]["label"] for v in destinations)) or "no destination"
    reason = f"the trail itself stores nothing; its log files are kept in {names}"
    if not values or any(not isinstance(v, int) and v != "forever" for v in values):
        return "unknown", reason
    return ("forever" if "forever" in values else max(values)), reason
