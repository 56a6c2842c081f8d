"""The input of every rule: the inventory, the pilot spec, the access matrix and the date of the check.

The spec and the matrix may be missing (an account without a spec, a run that did not
evaluate IAM). Rules that need them report unknown. ``stores`` ties inventory
resources to spec stores, by the ``pilot:store`` tag or, failing that, by the names
the program gives them.

A context is made per ``run_checks`` call and its inputs are frozen, so it also keeps
what several rules derive from them: the inventory indexed by kind and ARN, the
parsed IAM principals, and results that rules store with ``derived``.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Hashable
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any, TypeVar

from datamap.iam.identities import PolicyStore, Principal, load_principals
from datamap.inventory import Inventory, Resource
from datamap.matrix import AccessMatrix
from infra import naming, tags
from infra.spec import PilotSpec, Store

STORE_KINDS = {"s3_bucket": "s3", "log_group": "log_group"}
T = TypeVar("T")


@dataclass(frozen=True)
class StoreResource:
    """A tenant resource that is a store, with its spec entry when the spec declares it."""

    resource: Resource
    name: str                     # store name: the pilot:store tag, or the spec name matched by resource name
    spec_store: Store | None


@dataclass(frozen=True)
class RetentionLimit:
    """The maximum days a store's data may live, and where that number comes from."""

    days: int
    source: str                   # e.g. "tag pilot:retention-days" or "the pilot spec"


@dataclass(frozen=True)
class CheckContext:
    inventory: Inventory
    spec: PilotSpec | None
    matrix: AccessMatrix | None
    today: dt.date
    # Values that rules computed from the inputs, by the key given to ``derived``.
    _derived: dict[Hashable, Any] = field(default_factory=dict, init=False, repr=False, compare=False)

    def derived(self, key: Hashable, compute: Callable[[], T]) -> T:
        """Return ``compute()``, computed once per context and per ``key``.

        The key must name everything the value depends on besides the context's inputs,
        and callers must not change the value they get.
        """
        if key not in self._derived:
            self._derived[key] = compute()
        return self._derived[key]

    def derived_for(self, resource: Resource, name: str, compute: Callable[[], T]) -> T:
        """Return ``compute()`` for one inventory record, computed once per context.

        Two records with the same ARN get a value each, because the cached value is
        reused only for the record it was computed for.
        """
        key = (name, resource.arn)
        found = self._derived.get(key)
        if found is None or found[0] is not resource:
            found = self._derived[key] = (resource, compute())
        return found[1]

    @cached_property
    def _by_kind(self) -> dict[str, tuple[Resource, ...]]:
        grouped: dict[str, list[Resource]] = {}
        for resource in self.inventory.resources:
            grouped.setdefault(resource.kind, []).append(resource)
        return {kind: tuple(resources) for kind, resources in grouped.items()}

    @cached_property
    def _by_arn(self) -> dict[str, Resource]:
        index: dict[str, Resource] = {}
        for resource in self.inventory.resources:
            index.setdefault(resource.arn, resource)  # the first record wins, as in Inventory.by_arn
        return index

    def of_kind(self, kind: str) -> tuple[Resource, ...]:
        """Return ``inventory.of_kind(kind)`` from an index built once."""
        return self._by_kind.get(kind, ())

    def by_arn(self, arn: str) -> Resource | None:
        """Return ``inventory.by_arn(arn)`` from an index built once."""
        return self._by_arn.get(arn)

    @cached_property
    def policy_store(self) -> PolicyStore:
        """The inventory's managed policies, parsed on first use."""
        return PolicyStore(self.inventory)

    @cached_property
    def principals(self) -> tuple[Principal, ...]:
        """The inventory's IAM users and roles with their parsed policies, as ``load_principals`` returns them."""
        return tuple(load_principals(self.inventory, self.policy_store))

    @cached_property
    def stores(self) -> tuple[StoreResource, ...]:
        """Return the inventory resources that are stores, in inventory order."""
        found = []
        for resource in self.inventory.resources:
            if resource.kind not in STORE_KINDS:
                continue
            name = resource.tags.get(tags.STORE) or self.spec_name_of(resource)
            if not name:
                continue
            spec_store = None
            if self.spec is not None:
                spec_store = next((s for s in self.spec.stores if s.name == name), None)
            found.append(StoreResource(resource, name, spec_store))
        return tuple(found)

    def missing_stores(self) -> tuple[Store, ...]:
        """Return the spec stores that no inventory resource carries."""
        if self.spec is None:
            return ()
        present = {s.name for s in self.stores}
        return tuple(s for s in self.spec.stores if s.name not in present)

    def retention_limit(self, store: StoreResource) -> RetentionLimit | None:
        """Return the stricter of the store's pilot:retention-days tag and its spec retention.

        None when neither is known. A tag that is not a positive whole number is
        ignored here, because the tag rule reports it.
        """
        tag_days = positive_days(store.resource.tags.get(tags.RETENTION_DAYS))
        spec_days = store.spec_store.retention_days if store.spec_store else None
        if tag_days is not None and spec_days is not None:
            if tag_days == spec_days:
                return RetentionLimit(tag_days, f"tag {tags.RETENTION_DAYS} and the pilot spec")
            if tag_days < spec_days:
                return RetentionLimit(tag_days, f"tag {tags.RETENTION_DAYS}, shorter than the pilot spec's "
                                                f"{spec_days} days")
            return RetentionLimit(spec_days, f"the pilot spec, shorter than tag {tags.RETENTION_DAYS} "
                                             f"({tag_days} days)")
        if tag_days is not None:
            return RetentionLimit(tag_days, f"tag {tags.RETENTION_DAYS}")
        if spec_days is not None:
            return RetentionLimit(spec_days, "the pilot spec")
        return None

    def declared_limit(self, resource: Resource) -> RetentionLimit | None:
        """Return the retention limit of any bucket or log group: a store's, or one its tags declare.

        A resource that is not a store gets the ``pilot:retention-days`` tag, and the
        audit bucket and log group also the spec's audit retention, whichever is
        shorter. None when nothing declares a limit.
        """
        store = next((s for s in self.stores if s.resource.arn == resource.arn), None)
        if store is not None:
            return self.retention_limit(store)
        candidates = []
        tag_days = positive_days(resource.tags.get(tags.RETENTION_DAYS))
        if tag_days is not None:
            candidates.append(RetentionLimit(tag_days, f"tag {tags.RETENTION_DAYS}"))
        customer = self.inventory.customer
        audit_names = (naming.audit_bucket(customer, self.inventory.account_id), naming.audit_log_group(customer))
        is_audit = resource.tags.get(tags.PURPOSE) == "audit" or resource.name in audit_names
        if is_audit and self.spec is not None:
            candidates.append(RetentionLimit(self.spec.audit_retention_days, "the pilot spec's audit retention"))
        return min(candidates, key=lambda limit: limit.days, default=None)

    def spec_name_of(self, resource: Resource) -> str:
        """Return the spec store whose program-given name the resource has, or ""."""
        if self.spec is None:
            return ""
        for store in self.spec.stores:
            if STORE_KINDS[resource.kind] != store.kind:
                continue
            if resource.kind == "s3_bucket" and \
                    resource.name == naming.bucket(self.spec.customer, store.name, self.inventory.account_id):
                return store.name
            if resource.kind == "log_group" and resource.name == naming.log_group(self.spec.customer, store.name):
                return store.name
        return ""


def positive_days(value: object) -> int | None:
    """Return a tag value such as "90" as an int, or None when it is not a positive whole number."""
    if not isinstance(value, str) or not value.strip().isdigit():
        return None
    days = int(value.strip())
    return days if days > 0 else None
