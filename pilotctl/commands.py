"""The explicit list of command modules; nothing registers itself on import."""

from __future__ import annotations

from pilotctl import access_cmd, check_cmd, demo_cmd, iam_cmd, sandbox_cmd, scan_cmd

MODULES: list = [demo_cmd, sandbox_cmd, scan_cmd, access_cmd, check_cmd, iam_cmd]

from pilotctl import plan_cmd

MODULES.append(plan_cmd)

from pilotctl import import_cmd

MODULES.append(import_cmd)

from pilotctl import history_cmd

MODULES.append(history_cmd)

from pilotctl import drift_cmd

MODULES.append(drift_cmd)

from pilotctl import evidence_cmd

MODULES.append(evidence_cmd)
