"""Evaluation rules that the case files cannot express: parsing, principals, references."""

from __future__ import annotations

import pytest

from datamap.iam.context import RequestContext
from datamap.iam.errors import PolicyError
from datamap.iam.evaluation import Decision, Reason, Request, evaluate
from datamap.iam.evaluation import decide as decide_parsed
from datamap.iam.policy import parse_policy, unknown_policy
from datamap.iam.principals import DIRECT, ROLE, anonymous_caller, parse_caller, principal_match

ACCOUNT = "111122223333"
OBJECT = "arn:aws:s3:::b/k"
CONTEXT = {"aws:ResourceAccount": ACCOUNT}


def doc(*statements, version="2012-10-17"):
    return {"Version": version, "Statement": list(statements)}


def decide(principal, identity=(), resource=None, boundary=None, action="s3:GetObject", arn=OBJECT, context=None):
    return evaluate(Request(principal, action, arn, context or CONTEXT),
                    [parse_policy(d, f"identity[{i}]") for i, d in enumerate(identity)],
                    None if resource is None else parse_policy(resource, "bucket policy", "resource"),
                    None if boundary is None else parse_policy(boundary, "boundary", "boundary"))


def test_sid_names_statement():
    result = decide(f"arn:aws:iam::{ACCOUNT}:user/alice",
                    [doc({"Sid": "Read", "Effect": "Allow", "Action": "s3:GetObject", "Resource": "*"})])
    assert [str(ref) for ref in result.statements] == ["identity[0] statement Read (Allow)"]


def test_index_names_statement():
    result = decide(f"arn:aws:iam::{ACCOUNT}:user/alice",
                    [doc({"Effect": "Deny", "Action": "s3:*", "Resource": "*"})])
    assert result.reason is Reason.EXPLICIT_DENY
    assert [ref.sid for ref in result.statements] == ["#0"]


def test_identity_policy_rejects_principal():
    with pytest.raises(PolicyError, match="Principal: not allowed"):
        parse_policy(doc({"Effect": "Allow", "Principal": "*", "Action": "s3:*", "Resource": "*"}), "p")


def test_resource_policy_needs_principal():
    with pytest.raises(PolicyError, match="Principal: missing"):
        parse_policy(doc({"Effect": "Allow", "Action": "s3:*", "Resource": "*"}), "p", "resource")


def test_identity_policy_needs_resource():
    with pytest.raises(PolicyError, match="Resource: missing"):
        parse_policy(doc({"Effect": "Allow", "Action": "s3:*"}), "p")


def test_action_and_not_action_rejected():
    with pytest.raises(PolicyError, match="NotAction: not allowed together with Action"):
        parse_policy(doc({"Effect": "Allow", "Action": "s3:*", "NotAction": "iam:*", "Resource": "*"}), "p")


def test_bad_version_rejected():
    with pytest.raises(PolicyError, match="Version"):
        parse_policy(doc({"Effect": "Allow", "Action": "s3:*", "Resource": "*"}, version="2020-01-01"), "p")


def test_bad_principal_arn_rejected():
    with pytest.raises(PolicyError, match="principal: invalid value"):
        parse_caller("alice")


def test_session_role_without_path():
    caller = parse_caller(f"arn:aws:sts::{ACCOUNT}:assumed-role/app/s1")
    assert caller.role_arn == f"arn:aws:iam::{ACCOUNT}:role/app"


def test_session_role_from_context():
    role = f"arn:aws:iam::{ACCOUNT}:role/team/app"
    caller = parse_caller(f"arn:aws:sts::{ACCOUNT}:assumed-role/app/s1", RequestContext({"aws:PrincipalArn": role}))
    assert caller.role_arn == role


def test_role_principal_matches_sessions():
    caller = parse_caller(f"arn:aws:iam::{ACCOUNT}:role/app")
    element = parse_policy(doc({"Effect": "Allow", "Principal": {"AWS": f"arn:aws:sts::{ACCOUNT}:assumed-role/app/x"},
                                "Action": "s3:*", "Resource": "*"}), "p", "resource").statements[0].principal
    assert principal_match(element, caller) == DIRECT


def test_role_arn_grant_is_role():
    caller = parse_caller(f"arn:aws:sts::{ACCOUNT}:assumed-role/app/s1")
    element = parse_policy(doc({"Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{ACCOUNT}:role/app"},
                                "Action": "s3:*", "Resource": "*"}), "p", "resource").statements[0].principal
    assert principal_match(element, caller) == ROLE


def test_root_user_allowed():
    result = decide(f"arn:aws:iam::{ACCOUNT}:root")
    assert result.decision is Decision.ALLOW


def test_root_user_denied_explicitly():
    bucket = doc({"Effect": "Deny", "Principal": "*", "Action": "s3:*", "Resource": "*"})
    assert decide(f"arn:aws:iam::{ACCOUNT}:root", resource=bucket).reason is Reason.EXPLICIT_DENY


def anonymous(bucket):
    return decide_parsed(anonymous_caller(), RequestContext({"aws:PrincipalAccount": "anonymous"}), "s3:GetObject",
                         OBJECT, ACCOUNT, (), None, parse_policy(bucket, "bucket policy", "resource").statements)


def test_anonymous_allowed_by_everyone_grant():
    for principal in ("*", {"AWS": "*"}):
        result = anonymous(doc({"Effect": "Allow", "Principal": principal, "Action": "s3:GetObject", "Resource": "*"}))
        assert result.decision is Decision.ALLOW, principal


def test_anonymous_not_named_by_account():
    result = anonymous(doc({"Effect": "Allow", "Principal": {"AWS": ACCOUNT}, "Action": "s3:*", "Resource": "*"}))
    assert result.reason is Reason.IMPLICIT_DENY
    assert "anonymous request" in result.explanation


def test_anonymous_denied_by_not_principal():
    result = anonymous(doc({"Effect": "Allow", "Principal": "*", "Action": "s3:*", "Resource": "*"},
                           {"Effect": "Deny", "NotPrincipal": {"AWS": f"arn:aws:iam::{ACCOUNT}:root"},
                            "Action": "s3:*", "Resource": "*"}))
    assert result.reason is Reason.EXPLICIT_DENY


def test_unknown_policy_unknown():
    request = Request(f"arn:aws:iam::{ACCOUNT}:user/alice", "s3:GetObject", OBJECT, CONTEXT)
    result = evaluate(request, [unknown_policy("managed policy X", "identity", "managed policy X is missing")])
    assert result.decision is Decision.UNKNOWN
    assert result.unknown_conditions == ("managed policy X is missing",)


def test_unknown_policy_certain_deny():
    request = Request(f"arn:aws:iam::{ACCOUNT}:user/alice", "s3:GetObject", OBJECT, CONTEXT)
    denied = parse_policy(doc({"Effect": "Deny", "Action": "*", "Resource": "*"}), "deny")
    result = evaluate(request, [unknown_policy("managed policy X", "identity", "missing"), denied])
    assert result.reason is Reason.EXPLICIT_DENY


def test_implicit_deny_explains_boundary():
    result = decide(f"arn:aws:iam::{ACCOUNT}:user/alice", [doc({"Effect": "Allow", "Action": "s3:*", "Resource": "*"})],
                    boundary=doc({"Effect": "Allow", "Action": "ec2:*", "Resource": "*"}))
    assert result.reason is Reason.IMPLICIT_DENY
    assert result.explanation == "the permissions boundary does not allow it"
    assert [ref.policy for ref in result.statements] == ["identity[0]"]
