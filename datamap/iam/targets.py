"""Tenant resources as the access matrix evaluates them: ARN forms, an index, sample child ARNs.

Each tenant resource has one or more ARN forms, each with the actions authorized
against it (``datamap.iam.actions.FORMS``):

- S3 bucket: the bucket ARN, and its objects ``arn:aws:s3:::NAME/KEY``;
- log group: ``...:log-group:NAME:*`` for most actions, the bare ``...:log-group:NAME``
  for TagResource, UntagResource and ListTagsForResource (CloudWatch Logs User Guide,
  "CloudWatch Logs resources and operations"), and its streams
  ``...:log-group:NAME:log-stream:STREAM``;
- KMS key, trail, IAM user or role: the resource's own ARN.

Objects and streams are children whose names the inventory does not list. A
capability on them exists when some child allows it, so each child form is
evaluated on sample names. One sample is a name that no policy names, made of a
private-use character that no ARN pattern contains as a literal. The others are,
for every Resource pattern that could match a child, a name that pattern matches.
A grant on ``bucket/reports/*`` is then seen even when the rest of the bucket is
denied.

NOTE: samples come from single patterns, so a region allowed only where two partial
patterns overlap (identity ``b/team/*``, boundary ``b/*/reports/*``) can be missed.
"""

from __future__ import annotations

import bisect
from collections.abc import Iterable
from dataclasses import dataclass
from functools import lru_cache

from datamap.iam.context import LITERAL_QUESTION, LITERAL_STAR
from datamap.iam.matching import literal_prefix, resource_matches
from datamap.inventory import Resource

# A private-use character that no policy pattern contains as a literal, so only wildcards match it.
FRESH = "\ue000"
LOG_TAGGING_ACTIONS = frozenset({"logs:tagresource", "logs:untagresource", "logs:listtagsforresource"})
MAX_SAMPLES = 32


@dataclass(frozen=True)
class Form:
    """One ARN form of a tenant resource."""

    name: str                 # the catalogue form: "bucket", "object", "log_group", ...
    arn: str                  # the ARN, or the ARN prefix of every child for a child form
    child: bool = False
    # Actions to evaluate on this ARN: "" for all of the form, else "tagging" / "other"
    # (log groups authorize their tagging actions on a different ARN).
    subset: str = ""

    def accepts(self, action: str) -> bool:
        if not self.subset:
            return True
        return (action.lower() in LOG_TAGGING_ACTIONS) == (self.subset == "tagging")


@dataclass(frozen=True, eq=False)
class Target:
    """A tenant resource with its capability-table kind and the name the matrix shows."""

    resource: Resource
    kind: str
    name: str
    holds_exports: bool
    forms: tuple[Form, ...]

    @property
    def arn(self) -> str:
        return self.resource.arn


def forms_of(resource: Resource) -> tuple[str, tuple[Form, ...]] | None:
    """Return (capability kind, forms) for a tenant resource, or None if the matrix skips its kind."""
    arn = resource.arn
    if resource.kind == "s3_bucket":
        return "s3", (Form("bucket", arn), Form("object", arn + "/", child=True))
    if resource.kind == "log_group":
        bare = arn[:-2] if arn.endswith(":*") else arn
        return "log_group", (Form("log_group", bare + ":*", subset="other"),
                             Form("log_group", bare, subset="tagging"),
                             Form("log_stream", bare + ":log-stream:", child=True))
    if resource.kind == "kms_key":
        return "kms_key", (Form("key", arn),)
    if resource.kind == "cloudtrail_trail":
        return "cloudtrail", (Form("trail", arn),)
    if resource.kind == "iam_user":
        return "iam_principal", (Form("user", arn),)
    if resource.kind == "iam_role":
        return "iam_principal", (Form("role", arn),)
    return None


class ResourceIndex:
    """Targets sorted by form ARN, to find the ones a Resource pattern may match.

    A lookup returns a superset: every target with a form ARN that starts with the
    pattern's literal prefix, or a child form whose prefix the literal prefix extends.
    """

    def __init__(self, targets: Iterable[Target]):
        entries = sorted(((form.arn, target) for target in targets for form in target.forms), key=lambda e: e[0])
        self._keys = [arn for arn, _ in entries]
        self._targets = [target for _, target in entries]
        self._children: dict[str, list[Target]] = {}
        for target in self._targets:
            for form in target.forms:
                if form.child:
                    self._children.setdefault(form.arn, []).append(target)
        self.all = tuple(dict.fromkeys(self._targets))

    def lookup(self, pattern: str) -> tuple[Target, ...]:
        prefix = literal_prefix(pattern)
        if not prefix:
            return self.all
        start = bisect.bisect_left(self._keys, prefix)
        found: dict[int, Target] = {}
        for position in range(start, len(self._keys)):
            if not self._keys[position].startswith(prefix):
                break
            target = self._targets[position]
            found[id(target)] = target
        for cut in range(len(prefix), 0, -1):
            if prefix[cut - 1] in "/:":
                for target in self._children.get(prefix[:cut], ()):
                    found[id(target)] = target
        return tuple(found.values())


def samples(form: Form, patterns: Iterable[str]) -> tuple[str, ...]:
    """Return the ARNs to evaluate for a form: itself, or sample children for a child form."""
    if not form.child:
        return (form.arn,)
    names = {FRESH: None}
    for pattern in patterns:
        name = child_name(pattern, form.arn)
        if name is not None:
            names[name] = None
        if len(names) >= MAX_SAMPLES:
            break
    return tuple(form.arn + name for name in names)


@lru_cache(maxsize=65536)
def child_name(pattern: str, prefix: str) -> str | None:
    """Return a non-empty name such that ``pattern`` matches ``prefix + name``, or None.

    Wildcards that reach past the prefix are filled with FRESH, so the sample stands
    for every name the pattern covers rather than one picked by chance.
    """
    literal = literal_prefix(pattern)
    if not literal.startswith(prefix) and not prefix.startswith(literal):
        return None  # the literal parts already disagree
    if pattern == literal + "*" and prefix.startswith(literal):
        return FRESH  # a trailing "*" that ends the last segment covers every name
    tokens = _tokens(pattern)
    # Every character of the literal prefix is one token, so the common part of the
    # two prefixes is consumed without simulation.
    common = min(len(literal), len(prefix))
    states = _closure({common}, tokens)
    for char in prefix[common:]:
        states = _closure(_step(states, tokens, char), tokens)
        if not states:
            return None
    for state in sorted(states, reverse=True):  # the shortest remainder is the most general sample
        rest = "".join(FRESH if kind in ("star", "any") else value for kind, value in tokens[state:])
        if rest and resource_matches(pattern, prefix + rest):
            return rest
    return None


def _tokens(pattern: str) -> list[tuple[str, str]]:
    tokens = []
    for index, char in enumerate(pattern):
        if char == "*":
            at_end = index + 1 == len(pattern) or pattern[index + 1] == ":"
            tokens.append(("star", "cross" if at_end else ""))
        elif char == "?":
            tokens.append(("any", ""))
        else:
            literal = {LITERAL_STAR: "*", LITERAL_QUESTION: "?"}.get(char, char)
            tokens.append(("char", literal))
    return tokens


def _closure(states: set[int], tokens: list[tuple[str, str]]) -> set[int]:
    result = set(states)
    for state in sorted(states):
        position = state
        while position < len(tokens) and tokens[position][0] == "star":
            position += 1
            result.add(position)
    return result


def _step(states: set[int], tokens: list[tuple[str, str]], char: str) -> set[int]:
    following = set()
    for state in states:
        if state >= len(tokens):
            continue
        kind, value = tokens[state]
        if kind == "star" and (value == "cross" or char != ":"):
            following.add(state)
        elif kind == "any" and char != ":":
            following.add(state + 1)
        elif kind == "char" and value == char:
            following.add(state + 1)
    return following
