"""The CrossGuard policy pack: the rule catalogue run by ``pulumi preview`` and ``pulumi up`` (see README.md)."""
