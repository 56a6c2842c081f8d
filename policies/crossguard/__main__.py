"""Entry point Pulumi runs for the policy pack (``--policy-pack policies/crossguard``).

The Pulumi CLI starts the pack with this file as ``__main__``, which starts the gRPC
server and never returns. Tests import ``policies.crossguard.pack`` instead.
"""

import sys
from pathlib import Path

try:
    from policies.crossguard.pack import serve
except ModuleNotFoundError:
    # An interpreter without pilotctl installed: import it from this checkout.
    sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
    from policies.crossguard.pack import serve

if __name__ == "__main__":
    serve()
