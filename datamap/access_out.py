"""Write an access matrix as JSON and CSV for people who review access outside pilotctl."""

from __future__ import annotations

import csv
import json
from pathlib import Path

from datamap.matrix import AccessMatrix

COLUMNS = ("person", "role", "principal_arn", "resource_name", "resource_arn", "capability", "status",
           "actions", "statements", "unknown_conditions", "via")


def _rows(matrix: AccessMatrix) -> list[dict[str, str]]:
    rows = []
    for cell in matrix.cells:
        rows.append({
            "person": cell.person, "role": cell.role, "principal_arn": cell.principal_arn,
            "resource_name": cell.resource_name, "resource_arn": cell.resource_arn,
            "capability": str(cell.capability), "status": cell.status,
            "actions": " ".join(cell.actions),
            "statements": "; ".join(str(s) for s in cell.statements),
            "unknown_conditions": "; ".join(cell.unknown_conditions),
            "via": cell.via,
        })
    return sorted(rows, key=lambda r: (r["person"], r["role"], r["principal_arn"], r["resource_name"],
                                       r["capability"]))


def write_csv(matrix: AccessMatrix, path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=COLUMNS)
        writer.writeheader()
        writer.writerows(_rows(matrix))
    return path


def write_json(matrix: AccessMatrix, path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    document = {"customer": matrix.customer, "assumptions": list(matrix.assumptions),
                "unclassified_actions": list(matrix.unclassified_actions), "cells": _rows(matrix)}
    path.write_text(json.dumps(document, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    return path
