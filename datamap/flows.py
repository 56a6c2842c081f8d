"""Retention along flows: how long each copy of a store's data lives, and the hops that made it.

For every store the walk starts at the store itself and follows each flow that puts
its data somewhere else:

- replication to a replica bucket, which keeps objects under its own lifecycle. Every
  rule that names the destination counts, disabled ones too, because objects a rule
  copied before it was disabled stay in the destination;
- AWS Backup: each rule of a plan whose selection picks the bucket sends recovery
  points to its vault, and each of the rule's copy actions sends them on to another vault;
- CloudTrail data events: records of each access, which include the object key and
  so may contain customer data, delivered to the trail's bucket and log group;
- server access logging to a target bucket;
- exports: a store that holds exports receives the data of every store that some
  principal can both read and export into it.

Two clocks. Replication and backup copy the stored data itself, so the data's age
carries over. A replica is made when the object is written. A backup plan copies every
unexpired version on each run (AWS Backup Developer Guide, S3 backups), so it keeps
copying the data for as long as the source keeps it. A recovery point can therefore
hold data for the source's retention plus DeleteAfterDays after the data was written.
Audit records, access logs and exports are new records made by an event, so their
retention counts from that access or export. Records about those records (an access
log of the audit bucket) name log files, not the store's data, so the walk follows no
audit, access-log or export flow out of a copy that an event made.

Pure: reads the inventory, the spec and the graph, and calls no AWS API. Limits:

- the backup plan's schedule is not read: any schedule keeps copying while the source
  keeps the data;
- on-demand backups, copy jobs started by hand, log subscription filters and export
  tasks leave no trace in the inventory, so the copies they make are not listed;
- an admin can grant themselves export; only principals that hold export count here.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass

import networkx as nx

from datamap.copies import name_from_arn, selection_reason, trails_recording
from datamap.flow_hops import after, export_grants, in_cold_storage, kept_in, settings, with_scan_errors, without_locks
from datamap.graph import node_id
from datamap.inventory import Inventory, Resource, thaw
from datamap.retention import (
    EVERY_OBJECT, ConfigError, ObjectScope, Retention, copy_retention, log_group_name, longest, replica_retention,
    replication_routes, rule_retention, trail_bucket_retention,
)
from datamap.retention.backup import rule_label
from infra import naming, tags
from infra.spec import PilotSpec

# Events that start the clock of a copy's retention.
WRITE, ACCESS_EVENT, EXPORT_EVENT = "write", "access", "export"
STORE, REPLICA, BACKUP, BACKUP_COPY, AUDIT_LOG, ACCESS_LOG, EXPORT = (
    "store", "replica", "backup", "backup copy", "audit log", "access log", "export")
# A tenant's flows are a few hops deep, so a longer chain means a loop the walk did not catch.
MAX_HOPS = 8
AT_ONCE = Retention.of_days(0, "the copy is made when the data arrives")


@dataclass(frozen=True)
class CopyRetention:
    """One place where a store's data lives, how it got there, and for how long.

    ``path`` is the store name, then one flow and one resource name per hop.
    ``kept`` is what the copy's own settings keep, from when the copy is made.
    ``made_within`` is how long after the clock starts the copy can still be made.
    ``retention`` is their sum, counted from ``counted_from``: the write to the store,
    or the access or export that made the record. ``doubt`` is the reason the flow may
    not exist ("" when it surely does).
    """

    path: tuple[str, ...]
    arn: str
    kind: str
    retention: Retention
    kept: Retention
    made_within: Retention = AT_ONCE
    counted_from: str = WRITE
    flows: tuple[str, ...] = ()
    doubt: str = ""
    setting: str = ""

    def describe(self) -> str:
        """Return the path as text, such as "records → replication → acme-replica"."""
        return " → ".join(self.path)


@dataclass(frozen=True)
class StoreFlows:
    """Every copy of one store's data, the store itself first."""

    store: str
    arn: str
    classification: str
    copies: tuple[CopyRetention, ...]

    @property
    def effective(self) -> Retention:
        """Return the longest retention over all copies: forever, then unknown, then the most days."""
        return longest(c.retention for c in self.copies)


def flow_retention(inventory: Inventory, spec: PilotSpec | None, graph: nx.MultiDiGraph | None = None, *,
                   today: dt.date | None = None) -> dict[str, StoreFlows]:
    """Compute every copy of every store's data, keyed by store name.

    ``graph`` (from ``datamap.graph.build_graph``) decides who can export which store.
    Without it, every store may flow into every store that holds exports, marked with
    a doubt. ``today`` decides date-based lifecycle expirations. A second resource that
    carries the same store name is keyed "<store> (<resource name>)".
    """
    walk = _Walk(inventory, spec, graph, today)
    result: dict[str, StoreFlows] = {}
    for name, resource in walk.stores:
        key = name if name not in result else f"{name} ({resource.name})"
        result[key] = walk.store_flows(name, resource)
    return result


def effective_by_classification(flows: Mapping[str, StoreFlows]) -> dict[str, Retention]:
    """Return the longest retention of the data of each classification, over its stores' copies."""
    grouped: dict[str, list[Retention]] = {}
    for store in flows.values():
        grouped.setdefault(store.classification or "unclassified", []).append(store.effective)
    return {name: longest(values) for name, values in sorted(grouped.items())}


def find_stores(inventory: Inventory, spec: PilotSpec | None) -> list[tuple[str, Resource]]:
    """Return (store name, resource) for each bucket or log group that is a store, in inventory order.

    A store carries the ``pilot:store`` tag or, failing that, the name the program gives
    a spec store.
    """
    found = []
    for resource in inventory.resources:
        if resource.kind not in ("s3_bucket", "log_group"):
            continue
        name = resource.tags.get(tags.STORE) or _spec_name(inventory, spec, resource)
        if name:
            found.append((name, resource))
    return found


def _spec_name(inventory: Inventory, spec: PilotSpec | None, resource: Resource) -> str:
    for store in spec.stores if spec else ():
        if resource.kind == "s3_bucket" and store.kind == "s3" and \
                resource.name == naming.bucket(spec.customer, store.name, inventory.account_id):
            return store.name
        if resource.kind == "log_group" and store.kind == "log_group" and \
                resource.name == naming.log_group(spec.customer, store.name):
            return store.name
    return ""


class _Walk:
    """The state of one ``flow_retention`` call. It only reads its inputs."""

    def __init__(self, inventory: Inventory, spec: PilotSpec | None, graph: nx.MultiDiGraph | None,
                 today: dt.date | None):
        self.inventory = inventory
        self.spec = spec
        self.graph = graph
        self.today = today
        self.buckets = {r.get("Name") or r.name: r for r in inventory.of_kind("s3_bucket")}
        self.groups = {r.get("logGroupName") or r.name: r for r in inventory.of_kind("log_group")}
        self.stores = find_stores(inventory, spec)
        # kept() results for every object, by ARN, with the record they were computed for,
        # because several flows end in the same store and each call thaws the whole record.
        self._kept: dict[str, tuple[Resource, Retention]] = {}

    def store_flows(self, name: str, resource: Resource) -> StoreFlows:
        kept = self.kept(resource)
        own = CopyRetention((name, resource.name), resource.arn, STORE, kept, kept, setting=self.setting(resource))
        copies = [own, *self.follow(own, resource, frozenset({resource.arn}))]
        copies += self.exports(name, own, resource)
        copies += self.unlisted(own, resource)
        classification = resource.tags.get(tags.CLASSIFICATION, "")
        if not classification and self.spec is not None:
            classification = next((s.classification for s in self.spec.stores if s.name == name), "")
        return StoreFlows(name, resource.arn, classification, tuple(copies))

    def kept(self, resource: Resource, scope: ObjectScope = EVERY_OBJECT) -> Retention:
        if scope is not EVERY_OBJECT:
            return kept_in(resource, scope, self.today)
        found = self._kept.get(resource.arn)
        if found is None or found[0] is not resource:
            found = self._kept[resource.arn] = (resource, kept_in(resource, scope, self.today))
        return found[1]

    @staticmethod
    def setting(resource: Resource) -> str:
        if resource.kind == "log_group":
            return f"retentionInDays of log group {resource.name}"
        return f"lifecycle of bucket {resource.name}"

    def child(self, parent: CopyRetention, hop: str, name: str, arn: str, kind: str, kept: Retention, *,
              made_within: Retention = AT_ONCE, copying: str = "", restart: str = "", doubt: str = "",
              setting: str = "") -> CopyRetention:
        """Return the copy one hop after ``parent``. ``restart`` names an event that starts a new clock."""
        if restart:
            made_within, counted_from = AT_ONCE, restart
        else:
            counted_from = parent.counted_from
        if made_within.is_days and made_within.days == 0:
            retention = kept
        else:
            retention = after(made_within, kept, copying)
        # The store's own copy names its resource; paths out of it start at the store name.
        base = parent.path[:1] if parent.kind == STORE else parent.path
        return CopyRetention((*base, hop, name), arn, kind, retention, kept, made_within, counted_from,
                             (*parent.flows, kind), "; ".join(d for d in (parent.doubt, doubt) if d), setting)

    def unknown(self, parent: CopyRetention, hop: str, name: str, arn: str, kind: str, reason: str,
                restart: str = "") -> CopyRetention:
        return self.child(parent, hop, name, arn, kind, Retention.unknown(reason), restart=restart)

    def follow(self, parent: CopyRetention, resource: Resource | None, seen: frozenset[str]) -> list[CopyRetention]:
        """Return the copies made from ``resource``, which holds ``parent``'s data, and their copies in turn.

        Audit and access logs are followed only while the clock still counts from the write.
        """
        events = parent.counted_from == WRITE
        if resource is None:
            return []
        if len(parent.flows) >= MAX_HOPS:
            return [self.unknown(parent, "more flows", "not followed", resource.arn, parent.kind,
                                 f"the walk stopped after {MAX_HOPS} hops, so later copies are not listed")]
        found: list[CopyRetention] = []
        if resource.kind == "s3_bucket":
            found += self.replicas(parent, resource, seen)
            found += self.backups(parent, resource, seen)
            if events:
                found += self.access_logs(parent, resource, seen)
        if events:
            found += self.audit_logs(parent, resource, seen)
        return found

    def replicas(self, parent: CopyRetention, bucket: Resource, seen: frozenset[str]) -> list[CopyRetention]:
        try:
            routes = replication_routes(settings(bucket))
        except ConfigError as exc:
            return [self.unknown(parent, "replication", "destinations not read", bucket.arn, REPLICA,
                                 with_scan_errors(bucket, Retention.unknown(str(exc))).reason)]
        found = []
        for destination in sorted({r.destination for r in routes}):
            target = self.buckets.get(destination)
            arn = target.arn if target else f"arn:{bucket.arn.split(':')[1]}:s3:::{destination}"
            if arn in seen:
                continue
            labels = [r.label for r in routes if r.destination == destination]
            if target is None:
                kept = Retention.unknown(f"bucket {destination} is not in the inventory (it may be in another "
                                         "account or region), so its lifecycle was not read", labels)
            else:
                replica = replica_retention(settings(bucket), settings(target), today=self.today)
                kept = with_scan_errors(target, without_locks(replica))
            if not any(r.enabled for r in routes if r.destination == destination):
                kept = kept.with_notes(f"{', '.join(labels)} is disabled now, but objects it copied earlier stay")
            copy = self.child(parent, "replication", destination, arn, REPLICA, kept, made_within=parent.made_within,
                              copying=f"objects reach {bucket.name} this long after the write",
                              setting=f"lifecycle of bucket {destination}")
            found += [copy, *self.follow(copy, target, seen | {arn})]
        return found

    def backups(self, parent: CopyRetention, bucket: Resource, seen: frozenset[str]) -> list[CopyRetention]:
        found = []
        source = bucket.name
        copying = f"AWS Backup copies every unexpired version on each run while {source} keeps the data"
        for plan in sorted(self.inventory.of_kind("backup_plan"), key=lambda r: r.arn):
            plan_name = plan.get("BackupPlanName") or plan.name
            doubt = self.selection_doubt(plan, plan_name, bucket)
            if doubt is None:
                continue
            if not plan.known("Rules"):
                found.append(self.unknown(parent, f"backup plan {plan_name}", "rules not read", plan.arn, BACKUP,
                                          f"the rules of backup plan {plan_name} could not be read "
                                          f"({plan.errors.get('Rules', 'not recorded by the source')})"))
                continue
            for rule in thaw(plan.get("Rules")) or []:
                label = rule_label(rule)
                vault_name = rule.get("TargetBackupVaultName", "")
                kept = rule_retention(rule)
                if not rule.get("EnableContinuousBackup"):
                    kept = in_cold_storage(kept, rule.get("Lifecycle"), label)
                backup = self.child(parent, label, vault_name, self.vault_arn(plan, vault_name), BACKUP, kept,
                                    made_within=parent.retention, copying=copying, doubt=doubt,
                                    setting=f"{label} of plan {plan_name}")
                found.append(backup)
                for action in rule.get("CopyActions") or ():
                    destination = action.get("DestinationBackupVaultArn", "")
                    copy_kept = in_cold_storage(copy_retention(rule, action), action.get("Lifecycle"),
                                                 f"{label} copy to {destination}")
                    copied_on = f"{label} makes recovery points while {source} keeps the data, and each is " \
                                "copied when made"
                    found.append(self.child(
                        backup, "copy action", name_from_arn(destination) or "?", destination, BACKUP_COPY,
                        copy_kept, made_within=backup.made_within, copying=copied_on,
                        setting=f"copy action of {label} of plan {plan_name} to {destination}"))
        return found

    @staticmethod
    def selection_doubt(plan: Resource, plan_name: str, bucket: Resource) -> str | None:
        """Return None when the plan does not pick the bucket, "" when it does, or why that is unknown."""
        if not plan.known("Selections"):
            error = plan.errors.get("Selections", "not recorded by the source")
            return f"the selections of backup plan {plan_name} could not be read ({error})"
        selections = plan.get("Selections") or ()
        if "tags" in bucket.errors and selections:
            return (f"the tags of bucket {bucket.name} could not be read, so whether plan {plan_name} picks it "
                    "is unknown")
        return "" if any(selection_reason(s, bucket) for s in selections) else None

    def vault_arn(self, plan: Resource, vault_name: str) -> str:
        vault = next((v for v in self.inventory.of_kind("backup_vault")
                      if vault_name in (v.get("BackupVaultName"), v.name)), None)
        if vault is not None:
            return vault.arn
        parts = plan.arn.split(":")
        return f"arn:{parts[1]}:backup:{parts[3]}:{parts[4]}:backup-vault:{vault_name}"

    def access_logs(self, parent: CopyRetention, bucket: Resource, seen: frozenset[str]) -> list[CopyRetention]:
        if not bucket.known("Logging"):
            error = bucket.errors.get("Logging", "not recorded by the source")
            return [self.unknown(parent, "access log", "target not read", bucket.arn, ACCESS_LOG,
                                 f"the server access logging of bucket {bucket.name} could not be read ({error})",
                                 restart=ACCESS_EVENT)]
        logging = bucket.get("Logging") or {}
        target_name = logging.get("TargetBucket")
        if not target_name:
            return []
        target = self.buckets.get(target_name)
        arn = target.arn if target else f"arn:{bucket.arn.split(':')[1]}:s3:::{target_name}"
        if target is None:
            kept = Retention.unknown(f"access log bucket {target_name} is not in the inventory, so its lifecycle "
                                     "was not read", ("Logging",))
        else:
            kept = self.kept(target, ObjectScope(prefix=logging.get("TargetPrefix") or ""))
        copy = self.child(parent, "access log", target_name, arn, ACCESS_LOG, kept, restart=ACCESS_EVENT,
                          setting=f"lifecycle of bucket {target_name}")
        return [copy, *self.follow(copy, target, seen | {arn})]

    def audit_logs(self, parent: CopyRetention, resource: Resource, seen: frozenset[str]) -> list[CopyRetention]:
        recording = {trail.arn: "" for trail, _ in trails_recording(self.inventory, resource)}
        for trail in self.inventory.of_kind("cloudtrail_trail"):
            selectors = ("EventSelectors", "AdvancedEventSelectors")
            errors = [f"{a}: {trail.errors[a]}" for a in selectors if a in trail.errors]
            if trail.arn not in recording and (errors or not any(trail.known(a) for a in selectors)):
                recording[trail.arn] = (f"the event selectors of trail {trail.name} could not be read "
                                        f"({'; '.join(errors) or 'not recorded by the source'}), so whether it "
                                        f"records access to {resource.name} is unknown")
        found = []
        for trail_arn, doubt in sorted(recording.items()):
            trail = self.inventory.by_arn(trail_arn)
            hop = f"audit log (trail {trail.name})"
            bucket_name = trail.get("S3BucketName")
            if bucket_name:
                target = self.buckets.get(bucket_name)
                arn = target.arn if target else f"arn:{trail.arn.split(':')[1]}:s3:::{bucket_name}"
                kept = self.trail_bucket_kept(trail, target, bucket_name)
                copy = self.child(parent, hop, bucket_name, arn, AUDIT_LOG, kept, restart=ACCESS_EVENT, doubt=doubt,
                                  setting=f"lifecycle of bucket {bucket_name}")
                found += [copy, *self.follow(copy, target, seen | {arn})]
            group_arn = trail.get("CloudWatchLogsLogGroupArn")
            if group_arn:
                group = self.groups.get(log_group_name(group_arn))
                kept = self.kept(group) if group else Retention.unknown(
                    f"log group {log_group_name(group_arn)} of trail {trail.name} is not in the inventory, so its "
                    "retention was not read", ("CloudWatchLogsLogGroupArn",))
                found.append(self.child(parent, hop, log_group_name(group_arn), node_id(group_arn), AUDIT_LOG, kept,
                                        restart=ACCESS_EVENT, doubt=doubt,
                                        setting=f"retentionInDays of log group {log_group_name(group_arn)}"))
        return found

    def trail_bucket_kept(self, trail: Resource, bucket: Resource | None, bucket_name: str) -> Retention:
        if bucket is None:
            return Retention.unknown(f"bucket {bucket_name} of trail {trail.name} is not in the inventory, so its "
                                     "lifecycle was not read", ("S3BucketName",))
        if "S3KeyPrefix" not in trail.attributes:
            # Without the key prefix only rules that cover every object are sure to cover the log files.
            return self.kept(bucket).with_notes(f"the S3KeyPrefix of trail {trail.name} was not recorded, so only "
                                                "lifecycle rules that cover every object count")
        trail_settings = {"TrailARN": trail.arn, **thaw(trail.attributes)}
        result = trail_bucket_retention(trail_settings, settings(bucket), today=self.today)
        return with_scan_errors(bucket, without_locks(result))

    def exports(self, name: str, own: CopyRetention, resource: Resource) -> list[CopyRetention]:
        """Return a copy in each store that holds exports and that some principal can fill from this store."""
        targets = [s for s in (self.spec.stores if self.spec else ()) if s.holds_exports and s.name != name]
        found = []
        for target in targets:
            target_resource = next((r for n, r in self.stores if n == target.name), None)
            if target_resource is None:
                continue  # a spec store that is not deployed holds nothing
            doubt = self.export_doubt(name, resource, target.name, target_resource)
            if doubt is None:
                continue
            copy = self.child(own, "export", target.name, target_resource.arn, EXPORT, self.kept(target_resource),
                              restart=EXPORT_EVENT, doubt=doubt, setting=self.setting(target_resource))
            found += [copy, *self.follow(copy, target_resource, frozenset({resource.arn, target_resource.arn}))]
        return found

    def export_doubt(self, name: str, resource: Resource, target: str, target_resource: Resource) -> str | None:
        """Return None when nobody can export ``name`` into ``target``, "" when someone surely can, else why unsure."""
        if self.graph is None:
            return f"no access graph was given, so whether anyone can read {name} and export into {target} is unknown"
        source, sink = node_id(resource.arn), node_id(target_resource.arn)
        if source not in self.graph or sink not in self.graph:
            return f"the access graph has no node for {name if source not in self.graph else target}"
        statuses = ["allow" if (read, write) == ("allow", "allow") else "unknown"
                    for read, write in export_grants(self.graph, source, sink)]
        if not statuses:
            return None
        if "allow" in statuses:
            return ""
        return (f"who can read {name} and export into {target} depends on conditions the access analysis could "
                "not decide")

    def unlisted(self, own: CopyRetention, resource: Resource) -> list[CopyRetention]:
        """Return unknown copies for kinds of resources the scan could not list in full."""
        found = []
        for service, hop, kind in (("backup", "backup", BACKUP), ("cloudtrail", "audit log", AUDIT_LOG)):
            if kind == BACKUP and resource.kind != "s3_bucket":
                continue
            errors = [e for e in self.inventory.errors if e.split(":", 1)[0] == service]
            if errors:
                reason = (f"the scan could not list every {service} resource ({'; '.join(errors)}), so copies "
                          "may be missing")
                restart = ACCESS_EVENT if kind == AUDIT_LOG else ""
                found.append(self.unknown(own, hop, "not listed", resource.arn, kind, reason, restart=restart))
        return found
