"""IAM's policy language, pure: documents read and checked (`parse`), compiled once
(`compile_policy`), evaluated the AWS way (`evaluate` -> `Decision`, whose `message()` is
AWS's refusal text), and trust policies for sts:AssumeRole (`allowed_to_assume`).

Nothing here reads the store, the clock or the network: the caller hands in the principal,
its policies and the request's keys (see `portside.iam.authorization` for what each API
action authorizes).
"""

from __future__ import annotations

from portside.iam.policy.compiled import CompiledPolicy, Matched, PolicyLike, compile_policy
from portside.iam.policy.context import ANY, Caller, ContextValue, Request, Target
from portside.iam.policy.document import Kind, Policy, parse
from portside.iam.policy.errors import MalformedPolicyDocument
from portside.iam.policy.evaluate import (
    BOUNDARY,
    IDENTITY,
    RESOURCE,
    SESSION,
    Decision,
    evaluate,
)
from portside.iam.policy.trust import allowed_to_assume

__all__ = [
    "ANY",
    "BOUNDARY",
    "IDENTITY",
    "RESOURCE",
    "SESSION",
    "Caller",
    "CompiledPolicy",
    "ContextValue",
    "Decision",
    "Kind",
    "MalformedPolicyDocument",
    "Matched",
    "Policy",
    "PolicyLike",
    "Request",
    "Target",
    "allowed_to_assume",
    "compile_policy",
    "evaluate",
    "parse",
]
