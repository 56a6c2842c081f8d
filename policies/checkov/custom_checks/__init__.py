"""checkov custom checks of pilotctl, loaded by checkov from its own virtual environment.

checkov imports every module in this folder with ``--external-checks-dir``, and only
folders with an ``__init__.py``. The modules import checkov, which is not installed in
pilotctl's environment, so pilotctl code never imports them.
"""
