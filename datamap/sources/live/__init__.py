"""The live source: a read-only boto3 scan of one tenant in a deployed account.

Each service module reads top to bottom. ``fetch`` makes the AWS calls through
``calls.Reader`` and returns raw reads. The ``to_resource`` functions are pure and build
the inventory records from those reads, and ``collect`` joins the two steps.
``scanner.scan`` runs every service module in turn.
"""

from datamap.sources.live.calls import DEFAULT_MAX_ATTEMPTS, READ_PREFIXES
from datamap.sources.live.scanner import scan

__all__ = ["DEFAULT_MAX_ATTEMPTS", "READ_PREFIXES", "scan"]
