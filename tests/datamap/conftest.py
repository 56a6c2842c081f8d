"""Fixtures of the datamap tests; the tenant itself is built in acme_tenant.py."""

from __future__ import annotations

import pytest
from acme_tenant import Tenant, make_tenant


@pytest.fixture()
def tenant() -> Tenant:
    return make_tenant()
