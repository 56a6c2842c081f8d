"""Tenant access: one IAM role per spec role, one IAM user per person, nothing shared.

A person signs in as their own user and can only assume the role the spec gives
them; the role's trust policy names exactly the people assigned to it and requires
MFA. Role policies come from ``infra.capabilities`` through ``infra.documents``.
"""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from infra import documents, naming, tags
from infra.components.common import base_tags
from infra.spec import PilotSpec


@dataclass
class AccessArgs:
    spec: PilotSpec
    account_id: pulumi.Input[str]
    partition: pulumi.Input[str]
    key_arn: pulumi.Input[str]
    # Store name -> bucket ARN or log group ARN.
    store_arns: dict[str, pulumi.Input[str]]


class TenantAccess(pulumi.ComponentResource):
    roles: dict[str, aws.iam.Role]
    users: dict[str, aws.iam.User]

    def __init__(self, name: str, args: AccessArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("pilotctl:tenant:Access", name, None, opts)
        spec = args.spec
        path = naming.iam_path(spec.customer)

        self.users = {}
        for person in spec.people:
            self.users[person.id] = aws.iam.User(
                f"{name}-user-{person.id}",
                name=naming.user(spec.customer, person.id),
                path=path,
                force_destroy=True,
                tags=base_tags(spec, "access", **{tags.PERSON: person.id, tags.ROLE: person.role}),
                opts=pulumi.ResourceOptions(parent=self))

        store_refs = pulumi.Output.all(**{k: pulumi.Output.from_input(v) for k, v in args.store_arns.items()})
        user_path_arn = pulumi.Output.all(args.account_id, args.partition).apply(
            lambda v: f"arn:{v[1]}:iam::{v[0]}:user{path}")

        self.roles = {}
        for role in spec.roles:
            members = [self.users[p.id].arn for p in spec.people_in(role.name)]
            trust = pulumi.Output.all(*members).apply(
                lambda arns: documents.dumps(documents.role_trust_policy(arns)))
            iam_role = aws.iam.Role(
                f"{name}-role-{role.name}",
                name=naming.role(spec.customer, role.name),
                path=path,
                description=role.description or f"Pilot role {role.name} of customer {spec.customer}",
                assume_role_policy=trust,
                max_session_duration=3600,
                tags=base_tags(spec, "access", **{tags.ROLE: role.name}),
                opts=pulumi.ResourceOptions(parent=self))
            policy = pulumi.Output.all(store_refs, args.key_arn, user_path_arn).apply(
                lambda v, role=role: documents.dumps(documents.role_access_policy(
                    role.capabilities,
                    [documents.StoreRef(s.name, s.kind, v[0][s.name], s.holds_exports) for s in spec.stores],
                    v[1], v[2])))
            aws.iam.RolePolicy(f"{name}-role-{role.name}-access", name="pilot-access", role=iam_role.id,
                               policy=policy, opts=pulumi.ResourceOptions(parent=iam_role))
            self.roles[role.name] = iam_role

        for person in spec.people:
            aws.iam.UserPolicy(
                f"{name}-user-{person.id}-assume",
                name="assume-own-role",
                user=self.users[person.id].name,
                policy=self.roles[person.role].arn.apply(
                    lambda arn: documents.dumps(documents.assume_own_role_policy(arn))),
                opts=pulumi.ResourceOptions(parent=self.users[person.id]))

        self.register_outputs({})
