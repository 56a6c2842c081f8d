"""Turn declared Pulumi resources into inventory records, the way the live scanner would record them.

The input is what a Pulumi program declares: each resource's type token, logical name,
URN, camelCase properties and per-property dependencies (``infra.sandbox.program.Registered``
or anything with the same attributes). Two sources use it: the plan source runs the program
under mocks (``datamap.sources.program``), and the CrossGuard policy pack receives the
stack's resources from the Pulumi engine (``policies.crossguard``).

- ``values``: the unknown marker, one declared resource, the index of a whole stack, and
  the record builder that turns a failed or unknown value into an ``errors`` entry.
- ``s3``, ``iam``, ``services`` (KMS, CloudWatch Logs, AWS Backup, CloudTrail): one
  converter per inventory kind.
"""
