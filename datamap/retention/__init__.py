"""Retention arithmetic: how long AWS keeps data, computed from the settings as boto3 returns them.

Pure functions, no AWS calls. Every function returns a ``Retention`` (days, forever
or unknown) or a ``Verdict`` (True, False or None for unknown). Each result carries
the reason and the settings that decided it (``decided_by``), such as a lifecycle
rule ID, a backup rule or ``retentionInDays``. An input that was not read or is
malformed gives unknown with the reason, never a number.

Modules: ``s3`` (lifecycle, versioning, Object Lock), ``replication``, ``backup``
(AWS Backup plans and vaults), ``logs`` (CloudWatch Logs and CloudTrail).
"""

from datamap.retention.backup import (
    backup_job_allowed, backup_plan_retention, cold_storage_minimum_met, continuous_backup_retention,
    copy_retention, lifecycle_retention, rule_retention,
)
from datamap.retention.logs import (
    TrailRetention, event_data_store_retention, log_group_name, log_group_retention, trail_bucket_retention,
    trail_key_prefix, trail_retention,
)
from datamap.retention.replication import ReplicationRoute, replica_retention, replicates_to, replication_routes
from datamap.retention.result import Kind, Retention, Verdict, longest, plus
from datamap.retention.s3 import (
    BucketRetention, bucket_retention, covers_every_object, deletes_noncurrent_versions, object_retention,
)
from datamap.retention.s3_config import ConfigError, LifecycleRule, object_lock, parse_lifecycle, versioning_state
from datamap.retention.s3_scope import EVERY_OBJECT, MAX_OBJECT_SIZE, ObjectFilter, ObjectScope

__all__ = [
    "EVERY_OBJECT", "MAX_OBJECT_SIZE", "BucketRetention", "ConfigError", "Kind", "LifecycleRule", "ObjectFilter",
    "ObjectScope", "ReplicationRoute", "Retention", "TrailRetention", "Verdict", "backup_job_allowed",
    "backup_plan_retention", "bucket_retention", "cold_storage_minimum_met", "continuous_backup_retention",
    "copy_retention", "covers_every_object", "deletes_noncurrent_versions", "event_data_store_retention",
    "lifecycle_retention", "log_group_name", "log_group_retention", "longest", "object_lock", "object_retention",
    "parse_lifecycle", "plus", "replica_retention", "replicates_to", "replication_routes", "rule_retention",
    "trail_bucket_retention", "trail_key_prefix", "trail_retention", "versioning_state",
]
