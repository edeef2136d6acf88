"""A refused call as each protocol's services answer it:

    json, smithy-rpc-v2-cbor   AccessDeniedException, HTTP 400 (ECS, Logs, KMS, Secrets
                               Manager, SSM, ECR, EventBridge: Coral's JSON services);
                               CloudWatch, query-compatible, answers query's AccessDenied
    rest-json                  AccessDeniedException, HTTP 403 (EventBridge Scheduler)
    query                      AccessDenied, HTTP 403 (STS, IAM, ELB, CloudWatch)
    ec2                        UnauthorizedOperation, HTTP 403: "You are not authorized to
                               perform this operation. " before the reason, and, for an
                               action on resources, "Encoded authorization failure message:
                               ..." after it (sts:DecodeAuthorizationMessage opens it);
                               Describe* calls carry no resource and no encoded message

The reason is the evaluator's (`Decision.message()`): `User: <arn> is not authorized to
perform: <action> on resource: <arn> because no identity-based policy allows the <action>
action`, or `... with an explicit deny in an identity-based policy`.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from portside.errors import NamedError, PortsideError
from portside.iam.policy import Decision, Request
from portside.iam.policy.context import normalise
from portside.ops.context import World

log = logging.getLogger("portside.iam")

EC2_PREFIX = "You are not authorized to perform this operation. "


# Services that left the query protocol and still answer its codes (`awsQueryCompatible`):
# their JSON and CBOR refusals carry query's AccessDenied (x-amzn-query-error), HTTP 403.
QUERY_COMPATIBLE = frozenset({"monitoring"})  # CloudWatch


def refusal(
    protocol: str,
    decision: Decision,
    *,
    world: World | None = None,
    request: Request | None = None,
    signing_name: str = "",
) -> PortsideError:
    """The error a call refused by `decision` answers with in `protocol`."""
    message = decision.message()
    if protocol == "query" or signing_name in QUERY_COMPATIBLE:
        return NamedError("AccessDenied", message, 403)
    if protocol == "ec2":
        return NamedError("UnauthorizedOperation", _ec2_message(decision, world, request), 403)
    if protocol == "rest-json":
        return NamedError("AccessDeniedException", message, 403)
    return NamedError("AccessDeniedException", message, 400)


def _ec2_message(decision: Decision, world: World | None, request: Request | None) -> str:
    action = decision.action.partition(":")[2]
    if action.startswith("Describe") and decision.resource == "*":
        return EC2_PREFIX + decision.message().replace(" on resource: *", "", 1)
    encoded = _encoded(decision, world, request)
    tail = f". Encoded authorization failure message: {encoded}" if encoded else ""
    return EC2_PREFIX + decision.message() + tail


def _encoded(decision: Decision, world: World | None, request: Request | None) -> str | None:
    if world is None or request is None:
        return None
    from portside.sts import messages

    try:
        return messages.encode(world, request.caller.account, decoded(decision, request))
    except Exception:  # no master key to seal with: the refusal stands without its detail
        log.warning("could not encode an authorization failure message", exc_info=True)
        return None


def decoded(decision: Decision, request: Request) -> Mapping[str, Any]:
    """What DecodeAuthorizationMessage shows for a refusal, in AWS's shape."""
    matched = decision.statement
    statements = []
    if matched is not None:
        statements.append(
            {
                "statementId": matched.sid or "",
                "effect": "DENY" if decision.explicit_deny else "ALLOW",
                "sourcePolicyName": matched.policy_name or "",
                "sourcePolicyArn": matched.policy_arn or "",
            }
        )
    keys = {**normalise(request.context)}
    for target in request.targets:
        if target.arn == decision.resource:
            keys.update(normalise(target.context))
    caller = request.caller
    return {
        "allowed": False,
        "explicitDeny": decision.explicit_deny,
        "matchedStatements": {"items": statements},
        "failures": {"items": []},
        "context": {
            "principal": {"id": caller.user_id or "", "arn": caller.arn},
            "action": decision.action,
            "resource": decision.resource,
            "conditions": {
                "items": [
                    {"key": k, "values": {"items": [{"value": v} for v in values]}}
                    for k, values in sorted(keys.items())
                ]
            },
        },
    }
