"""Run checkov on the Pulumi program's plan: convert, run checkov from its own venv, parse.

checkov 3.3.30 conflicts with pulumi's dependencies, so it lives in ``.venv-checkov``
(``scripts/setup-checkov``) and runs as a separate process. ``plan`` converts the
program's resources into a Terraform plan document, ``runner`` runs checkov on it, and
``custom_checks`` contains pilotctl's own checks, which checkov loads.
"""
