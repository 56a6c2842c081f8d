"""Run checkov on the program's plan as a separate process and parse its JSON report.

checkov 3.3.30 pins dependencies that conflict with pulumi, so it is installed in
``.venv-checkov`` by ``scripts/setup-checkov`` and never imported here. A run on the
acme plan (58 resources) took 3.0 s on an idle 2-core machine.

checkov reports nothing, rather than an error, in several broken situations: a plan it
cannot read, a check that raises, a custom check module that fails to import, a folder
without ``__init__.py``. It still exits 0 in those cases. So the runner raises
CheckovError, and never reports "no findings", on any of these: a non-zero exit code,
an ERROR line in checkov's log, or output that is not a checkov JSON report. It also
raises on parsing errors, on fewer resources scanned than the plan contains, and on a
custom check with no result on a resource it covers.

checkov runs offline. ``BC_SKIP_MAPPING=TRUE`` and ``--skip-download`` stop its
downloads, no Prisma Cloud API key is passed on, and its PyPI version check is off.
Proxies point at a closed port on 127.0.0.1, so any request that slips through fails
at once. Traced with strace, a run of checkov 3.3.30 with these settings opened no
network connection.
"""

from __future__ import annotations

import json
import logging
import os
import re
import subprocess
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from infra.errors import PilotError
from infra.sandbox.program import Registered
from policies.checkov.plan import TerraformPlan, to_plan

log = logging.getLogger(__name__)

REPO_ROOT = Path(__file__).resolve().parents[2]
CHECKOV = REPO_ROOT / ".venv-checkov" / "bin" / "checkov"
CUSTOM_CHECKS_DIR = Path(__file__).resolve().with_name("custom_checks")
TIMEOUT_SECONDS = 300.0

# Custom check id -> the Terraform types it reports on. checkov skips a custom check
# that fails to load without an error, so a missing result on one of these types
# means the check did not run.
CUSTOM_CHECK_TYPES: dict[str, tuple[str, ...]] = {
    "CKV_PILOT_1": ("aws_s3_bucket", "aws_cloudwatch_log_group"),
}

# Port 9 (discard) on the loopback interface: nothing listens, so a request fails fast.
_CLOSED_PROXY = "http://127.0.0.1:9"
# Variables that could point checkov at Prisma Cloud or change its behaviour.
_DROPPED_PREFIXES = ("BC_", "PRISMA_", "CKV_")
# checkov's log format puts the level in brackets: "... [MainThread  ] [ERROR]  Failed to run check ...".
_ERROR_LOG_LINE = re.compile(r"\[(ERROR|CRITICAL)\]")
_RESULT_KINDS = {"passed_checks": "passed", "failed_checks": "failed", "skipped_checks": "skipped"}


class CheckovError(PilotError):
    """checkov could not run, or its output cannot be trusted as a complete report."""


class CheckovNotInstalledError(CheckovError):
    """The separate checkov environment is missing; ``scripts/setup-checkov`` creates it."""


@dataclass(frozen=True)
class CheckRecord:
    """One checkov result on one resource, traced back to the Pulumi resource."""

    check_id: str
    name: str
    result: str                   # "passed", "failed" or "skipped"
    address: str                  # Terraform address in the plan
    pulumi_name: str | None       # None when checkov named an address that is not in the plan
    urn: str | None
    guideline: str | None
    details: tuple[str, ...] = ()


@dataclass(frozen=True)
class CheckovResult:
    """Every result of one checkov run, with the plan it ran on."""

    records: tuple[CheckRecord, ...]
    plan: TerraformPlan
    plan_path: Path
    checkov_version: str
    seconds: float

    def results(self, check_id: str) -> dict[str, str]:
        """Return address -> result of one check; an address with no entry was not checked."""
        return {r.address: r.result for r in self.records if r.check_id == check_id}

    def failed(self) -> tuple[CheckRecord, ...]:
        return tuple(r for r in self.records if r.result == "failed")

    def for_resource(self, pulumi_name: str) -> tuple[CheckRecord, ...]:
        return tuple(r for r in self.records if r.pulumi_name == pulumi_name)


def run_checkov(resources: Sequence[Registered], workdir: Path, *, executable: Path = CHECKOV,
                checks_dir: Path = CUSTOM_CHECKS_DIR,
                custom_check_types: Mapping[str, tuple[str, ...]] = CUSTOM_CHECK_TYPES,
                timeout: float = TIMEOUT_SECONDS) -> CheckovResult:
    """Convert ``resources`` to a plan in ``workdir``, run checkov on it and return every result.

    Raises CheckovNotInstalledError when ``executable`` does not exist, and CheckovError
    when checkov fails, times out or returns a report that is incomplete (see the module
    docstring). ``custom_check_types`` lists the custom checks in ``checks_dir`` and the
    Terraform types each must report on.
    """
    if not os.access(executable, os.X_OK):
        raise CheckovNotInstalledError(
            f"checkov not found at {executable}; run scripts/setup-checkov to install it")
    plan = to_plan(resources)
    if not plan.resources:
        raise CheckovError("the program declared no resource that converts to Terraform; nothing to check")

    workdir.mkdir(parents=True, exist_ok=True)
    plan_path = plan.write(workdir / "plan.json")
    command = [str(executable), "-f", str(plan_path), "--framework", "terraform_plan", "--skip-download",
               "--external-checks-dir", str(checks_dir), "-o", "json", "--compact", "--soft-fail"]
    log.debug("running %s", " ".join(command))
    started = time.monotonic()
    try:
        completed = subprocess.run(command, cwd=workdir, env=checkov_environment(), capture_output=True,
                                   text=True, timeout=timeout, check=False)
    except subprocess.TimeoutExpired:
        raise CheckovError(f"checkov timed out after {timeout:.0f} s on {plan_path}") from None
    seconds = time.monotonic() - started

    if completed.returncode != 0:
        # --soft-fail makes failed checks exit 0, so any other exit code is a crash.
        raise CheckovError(f"checkov failed with exit code {completed.returncode} on {plan_path}: "
                           f"{_last_line(completed.stderr)}")
    errors = [line.strip() for line in completed.stderr.splitlines() if _ERROR_LOG_LINE.search(line)]
    if errors:
        # checkov logs a check that raised or a custom check that failed to import, then goes on.
        raise CheckovError(f"checkov logged errors on {plan_path}, so its report is incomplete "
                           f"({len(errors)} error lines; the first: {errors[0]})")
    report = parse_report(completed.stdout)
    _require_complete(report, plan)
    records = tuple(_records(report, plan))
    _require_custom_checks(records, plan, custom_check_types)

    summary = report.get("summary", {})
    log.info("checkov %s: %d passed, %d failed, %d skipped on %d resources in %.1f s",
             summary.get("checkov_version", "?"), summary.get("passed", 0), summary.get("failed", 0),
             summary.get("skipped", 0), len(plan.resources), seconds)
    return CheckovResult(records=records, plan=plan, plan_path=plan_path,
                         checkov_version=str(summary.get("checkov_version", "")), seconds=seconds)


def checkov_environment(base: Mapping[str, str] | None = None) -> dict[str, str]:
    """Return the environment for the checkov process: offline, with no Prisma Cloud settings."""
    source = os.environ if base is None else base
    env = {key: value for key, value in source.items()
           if not key.upper().startswith(_DROPPED_PREFIXES) and key.upper() != "NO_PROXY"}
    env.update({
        "BC_SKIP_MAPPING": "TRUE",
        "CKV_SKIP_PACKAGE_UPDATE_CHECK": "true",
        "HTTP_PROXY": _CLOSED_PROXY, "HTTPS_PROXY": _CLOSED_PROXY, "ALL_PROXY": _CLOSED_PROXY,
        "http_proxy": _CLOSED_PROXY, "https_proxy": _CLOSED_PROXY, "all_proxy": _CLOSED_PROXY,
        "LOG_LEVEL": "WARNING",
    })
    return env


def parse_report(stdout: str) -> dict[str, Any]:
    """Return the terraform_plan report from checkov's ``-o json`` output.

    checkov prints one object for one framework and a list for several. When it
    scanned no resource it prints only a summary with no ``results``, which is an
    error here: an empty scan is not a clean one.
    """
    try:
        document = json.loads(stdout)
    except json.JSONDecodeError as error:
        raise CheckovError(f"checkov output is not JSON ({error}); output starts with {stdout[:200]!r}") from None
    reports = document if isinstance(document, list) else [document]
    for report in reports:
        if not isinstance(report, dict):
            continue
        if report.get("check_type") == "terraform_plan" and isinstance(report.get("results"), dict):
            return report
    raise CheckovError("checkov returned no terraform_plan results: it found no resources in the plan")


def _require_complete(report: Mapping[str, Any], plan: TerraformPlan) -> None:
    results = report["results"]
    parsing_errors = results.get("parsing_errors") or []
    if parsing_errors:
        raise CheckovError(f"checkov could not parse {', '.join(map(str, parsing_errors))}")
    scanned = report.get("summary", {}).get("resource_count")
    if scanned != len(plan.resources):
        raise CheckovError(f"checkov scanned {scanned} resources, but the plan has {len(plan.resources)}")


def _records(report: Mapping[str, Any], plan: TerraformPlan) -> list[CheckRecord]:
    records = []
    for kind, result in _RESULT_KINDS.items():
        for entry in report["results"].get(kind) or []:
            address = entry.get("resource_address") or entry.get("resource") or ""
            origin = plan.resources.get(address)
            if origin is None:
                log.warning("checkov reported %s on %s, which is not in the plan", entry.get("check_id"), address)
            records.append(CheckRecord(
                check_id=str(entry.get("check_id", "")),
                name=str(entry.get("check_name", "")),
                result=result,
                address=address,
                pulumi_name=origin.pulumi_name if origin else None,
                urn=origin.urn if origin else None,
                guideline=entry.get("guideline") or None,
                details=tuple(str(d) for d in entry.get("details") or ()),
            ))
    return records


def _require_custom_checks(records: Sequence[CheckRecord], plan: TerraformPlan,
                           custom_check_types: Mapping[str, tuple[str, ...]]) -> None:
    for check_id, types in custom_check_types.items():
        reported = {r.address for r in records if r.check_id == check_id}
        missing = sorted(address for address, resource in plan.resources.items()
                         if resource.terraform_type in types and address not in reported)
        if missing:
            raise CheckovError(
                f"custom check {check_id} returned no result on {', '.join(missing)}: it failed to load or "
                f"crashed (run checkov with LOG_LEVEL=DEBUG to see why)")


def _last_line(text: str) -> str:
    lines = [line for line in text.strip().splitlines() if line.strip()]
    return lines[-1] if lines else "no error output"
