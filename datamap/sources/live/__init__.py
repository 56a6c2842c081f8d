"""The live source: a read-only boto3 scan of one tenant in a deployed account.

Each service module reads top to bottom. ``fetch`` makes the AWS calls through
``calls.Reader`` and returns raw reads. The ``to_resource`` functions are pure and build
the inventory records from those reads, and ``collect`` joins the two steps.
``scanner.scan`` runs every service module in turn for one tenant, and
``tenants.scan_tenants`` runs each once for every tenant of an account.
"""

from datamap.sources.live.calls import DEFAULT_MAX_ATTEMPTS, READ_PREFIXES
from datamap.sources.live.scanner import scan
from datamap.sources.live.tenants import scan_tenants

__all__ = ["DEFAULT_MAX_ATTEMPTS", "READ_PREFIXES", "scan", "scan_tenants"]
