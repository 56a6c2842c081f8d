"""The CrossGuard pack on acme's resources captured under Pulumi mocks: acme passes, broken variants fail.

Each test builds the StackValidationArgs the engine would pass (pulumi_policy's own
classes) and calls every policy's ``validate``. The enforcement tests go through
pulumi_policy's gRPC servicer, the code the engine talks to, because the servicer is
what applies the levels of ``--policy-pack-config``.
"""

from __future__ import annotations

import copy
import datetime as dt
import json
import runpy
from pathlib import Path

import pytest
import yaml
from crossguard_stack import ACCOUNT, Violations, analyze_request, capture, first_preview, stack_args
from pulumi.runtime import proto
from pulumi_policy import EnforcementLevel
from pulumi_policy.policy import _PolicyAnalyzerServicer  # the servicer the engine calls; private in 1.21.0
from pulumi_policy.proxy import UNKNOWN_STRING_VALUE

from infra.errors import SpecError
from infra.spec import load_stack_file, to_pulumi_config
from policies.catalog import RULES
from policies.crossguard import pack

ROOT = Path(__file__).resolve().parents[2]
PACK_DIR = ROOT / "policies" / "crossguard"
CHECK_DAY = dt.date(2027, 2, 1)  # mid-pilot
RECORDS = f"acme-records-{ACCOUNT}"


@pytest.fixture(scope="module")
def spec():
    return load_stack_file(ROOT / "Pulumi.acme.yaml")


@pytest.fixture(scope="module")
def resources(spec):
    return capture(spec)


@pytest.fixture
def policies(spec):
    return pack.build_policies(load_spec=lambda: spec, today=lambda: CHECK_DAY)


def urn_of(resources, name: str) -> str:
    return next(resource.urn for resource in resources if resource.name == name)


def run_all(policies, args) -> dict[str, Violations]:
    """Call every policy's validate and return what each reported, by policy name."""
    found = {}
    for policy in policies:
        found[policy.name] = Violations()
        policy.validate(args, found[policy.name])
    return found


def reported(found: dict[str, Violations]) -> dict[str, list[str]]:
    return {name: violations.messages() for name, violations in found.items() if violations.reported}


def lifecycle_days(days: int):
    def edit(resource, props):
        if resource.name == "pilot-acme-storage-records-lifecycle":
            props["rules"][0]["expiration"]["days"] = days
        return props
    return edit


# The pack itself --------------------------------------------------------------------------

def test_pack_policy_names(policies):
    assert [policy.name for policy in policies] == [*(rule.id for rule in RULES), pack.UNDECIDED_POLICY]


def test_pack_default_levels(policies):
    levels = {policy.name: policy.enforcement_level for policy in policies}
    for rule in RULES:
        expected = EnforcementLevel.MANDATORY if str(rule.severity) in ("critical", "high") \
            else EnforcementLevel.ADVISORY
        assert levels[rule.id] is expected, rule.id
    assert levels[pack.UNDECIDED_POLICY] is EnforcementLevel.ADVISORY


def test_pack_main_import_only():
    # Run as a module other than __main__, the entry point must not start the gRPC server.
    namespace = runpy.run_path(str(PACK_DIR / "__main__.py"), run_name="policies.crossguard.entry")
    assert namespace["serve"] is pack.serve


def test_pack_policy_yaml():
    document = yaml.safe_load((PACK_DIR / "PulumiPolicy.yaml").read_text(encoding="utf-8"))
    assert document["runtime"]["name"] == "python"
    assert document["version"]


def test_example_config_valid(policies):
    config = json.loads((PACK_DIR / "enforcement.example.json").read_text(encoding="utf-8"))
    names = {policy.name for policy in policies} | {"all"}
    for key, value in config.items():
        level = value if isinstance(value, str) else value["enforcementLevel"]
        assert key in names, key
        assert level in ("advisory", "mandatory", "disabled"), key


# acme and broken variants ------------------------------------------------------------------

def test_acme_passes_everything(policies, resources):
    assert reported(run_all(policies, stack_args(resources))) == {}


def test_lifecycle_longer_than_tag(policies, resources):
    found = run_all(policies, stack_args(resources, lifecycle_days(200)))
    (message,) = found["PILOT-RET-002"].messages()
    assert message.startswith("[PILOT-RET-002] Bucket acme-records-")
    assert "keeps current versions for 200 days, but its limit is 90 days" in message
    assert "Fix:" in message
    assert found["PILOT-RET-002"].reported[0][1] == urn_of(resources, "pilot-acme-storage-records")
    assert found["PILOT-RET-004"].messages()[0].startswith("[PILOT-RET-004]")
    assert found["PILOT-RET-003"].reported == []
    assert found[pack.UNDECIDED_POLICY].reported == []


def test_export_for_recorder(policies, resources):
    def edit(resource, props):
        if resource.name == "pilot-acme-access-role-recorder-access":
            document = json.loads(props["policy"])
            document["Statement"].append({"Sid": "ReadReports", "Effect": "Allow", "Action": ["s3:GetObject"],
                                          "Resource": [f"arn:aws:s3:::acme-reports-{ACCOUNT}/*"]})
            props["policy"] = json.dumps(document)
        return props

    found = run_all(policies, stack_args(resources, edit))
    export = found["PILOT-ACC-002"].messages()
    people = found["PILOT-ACC-001"].messages()
    assert len(export) == 6  # one per recorder
    assert all(message.startswith("[PILOT-ACC-002] Person ") for message in export)
    assert "has export on reports" in export[0]
    assert len(people) == 6
    assert all("[PILOT-ACC-001]" in message and "export on store reports" in message for message in people)


def test_bucket_without_public_access_block(policies, resources):
    def edit(resource, props):
        return None if resource.name == "pilot-acme-storage-records-public-access" else props

    if "PILOT-PRO-002" not in {rule.id for rule in RULES}:
        pytest.skip("the catalogue has no public access block rule PILOT-PRO-002")
    found = run_all(policies, stack_args(resources, edit))
    ((message, urn),) = found["PILOT-PRO-002"].reported
    assert message.startswith("[PILOT-PRO-002]")
    assert RECORDS in message
    assert urn == urn_of(resources, "pilot-acme-storage-records")


def test_preview_unknown_undecided(policies, resources):
    def edit(resource, props):
        if resource.name == "pilot-acme-access-role-recorder-access":
            props["policy"] = UNKNOWN_STRING_VALUE
        return props

    found = run_all(policies, stack_args(resources, edit))
    baseline = run_all(policies, stack_args(resources))
    undecided = found[pack.UNDECIDED_POLICY].messages()
    # The unknown document adds no rule violation; it only adds undecided messages.
    for policy in policies[:-1]:
        assert found[policy.name].reported == baseline[policy.name].reported, policy.name
    (wildcards,) = [message for message in undecided if message.startswith("unknown: [PILOT-ACC-005]")]
    assert "pilot-acme-access-role-recorder-access.policy is not known before deploy" in wildcards
    assert any(message.startswith("unknown: [PILOT-ACC-001] ") for message in undecided)


def test_first_preview_no_violations(policies, resources):
    found = run_all(policies, stack_args(resources, first_preview))
    undecided = found[pack.UNDECIDED_POLICY].messages()
    for policy in policies[:-1]:
        assert found[policy.name].reported == [], policy.name
    assert any(message.startswith("unknown: [PILOT-ACC-001] ") for message in undecided)
    assert all(message.startswith("unknown: [PILOT-") for message in undecided)  # the account id was found


def test_invalid_spec_undecided(resources):
    def broken():
        raise SpecError("Pulumi.acme.yaml", "pilot:roles", "<missing>", "a value for this required key")

    policies = pack.build_policies(load_spec=broken, today=lambda: CHECK_DAY)
    found = run_all(policies, stack_args(resources))
    messages = found[pack.UNDECIDED_POLICY].messages()
    assert messages[0].startswith("The pilot spec is invalid, so rules that need it report unknown: ")
    assert "pilot:roles" in messages[0]


def test_untagged_stack_not_applicable(resources):
    def untag(resource, props):
        props.pop("tags", None)
        return props

    policies = pack.build_policies(load_spec=lambda: None, today=lambda: CHECK_DAY)
    with pytest.raises(Exception) as raised:
        policies[0].validate(stack_args(resources, untag), Violations())
    assert type(raised.value).__name__ == "_NotApplicableError"  # what StackValidationArgs.not_applicable raises
    assert "not a pilot tenant" in raised.value.reason


def test_evaluation_shared(policies, resources, monkeypatch):
    calls = []
    original = pack.build_matrix
    monkeypatch.setattr(pack, "build_matrix", lambda *args: calls.append(1) or original(*args))
    run_all(policies, stack_args(resources))
    assert len(calls) == 1


# The spec from the stack -------------------------------------------------------------------

def test_spec_from_stack_config(monkeypatch):
    monkeypatch.setenv("PULUMI_CONFIG", json.dumps(to_pulumi_config(ROOT / "Pulumi.acme.yaml")))
    monkeypatch.setattr(pack.pulumi, "get_stack", lambda: "acme")
    spec = pack.spec_from_stack()
    assert spec.customer == "acme"
    assert spec.source == "Pulumi.acme.yaml (stack config)"


def test_spec_from_stack_file(monkeypatch):
    monkeypatch.delenv("PULUMI_CONFIG", raising=False)
    monkeypatch.setattr(pack.pulumi, "get_stack", lambda: "globex")
    spec = pack.spec_from_stack()
    assert spec.customer == "globex"
    assert spec.source == "Pulumi.globex.yaml"


def test_spec_missing_none(monkeypatch):
    monkeypatch.delenv("PULUMI_CONFIG", raising=False)
    monkeypatch.setattr(pack.pulumi, "get_stack", lambda: "nobody")
    assert pack.spec_from_stack() is None


# Enforcement levels through the servicer ---------------------------------------------------

def analyze(policies, request, config: dict | None = None):
    servicer = _PolicyAnalyzerServicer(pack.PACK_NAME, "0.1.0", policies, EnforcementLevel.ADVISORY)
    if config is not None:
        servicer.Configure(proto.ConfigureAnalyzerRequest(policyConfig=config), None)
    return {diagnostic.policyName: diagnostic for diagnostic in servicer.AnalyzeStack(request, None).diagnostics}


def test_servicer_default_mandatory(policies, resources):
    broken = capture_with_lifecycle(resources, 200)
    diagnostics = analyze(policies, analyze_request(broken))
    assert diagnostics["PILOT-RET-002"].enforcementLevel == proto.MANDATORY
    assert "[PILOT-RET-002]" in diagnostics["PILOT-RET-002"].message
    assert diagnostics["PILOT-RET-002"].urn == urn_of(resources, "pilot-acme-storage-records")


def test_servicer_config_levels(policies, resources):
    broken = capture_with_lifecycle(resources, 200)
    config = {"PILOT-RET-002": proto.PolicyConfig(enforcementLevel=proto.ADVISORY),
              "PILOT-RET-004": proto.PolicyConfig(enforcementLevel=proto.DISABLED)}
    diagnostics = analyze(policies, analyze_request(broken), config)
    assert diagnostics["PILOT-RET-002"].enforcementLevel == proto.ADVISORY
    assert "PILOT-RET-004" not in diagnostics


def test_servicer_acme_clean(policies, resources):
    assert analyze(policies, analyze_request(resources)) == {}


def capture_with_lifecycle(resources, days: int):
    """Return copies of the resources in which the records bucket expires current versions after ``days``."""
    changed = copy.deepcopy(resources)
    for resource in changed:
        if resource.name == "pilot-acme-storage-records-lifecycle":
            resource.inputs["rules"][0]["expiration"]["days"] = days
    return changed
