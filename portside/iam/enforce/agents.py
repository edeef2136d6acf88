"""An agent's key asked for the instances it serves. The agent authenticates to the gateway
as its instance role (the key it is started with); a session is opened for container
instances, and everything the session then does (sync, reports, secrets, credentials) is
confined to them. So the question is asked once, at the session's opening: may this
principal act as each instance's agent, as the ECS agent's ecs:Poll on the instance
(Resource `container-instance/<cluster>/<id>`, condition key ecs:cluster) is authorized?
An instance role limited to one cluster (`"Condition": {"ArnEquals": {"ecs:cluster": ...}}`
or its container instances' ARNs) is refused another cluster's instances. The account's
root is never refused.
"""

from __future__ import annotations

from collections.abc import Iterable

from portside.errors import AccessDeniedException
from portside.iam.enforce.edge import enforcer, is_root
from portside.ops.context import Op


def cluster_of(instance_arn: str) -> str:
    """arn:...:container-instance/<cluster>/<id> -> arn:...:cluster/<cluster>."""
    head, _, path = instance_arn.partition(":container-instance/")
    return f"{head}:cluster/{path.split('/', 1)[0]}"


def check_instances(op: Op, instance_arns: Iterable[str]) -> None:
    """Nothing when `op`'s caller may serve every instance; else AccessDeniedException with
    the evaluator's words for the first it may not."""
    if is_root(op.caller.principal_arn):
        return
    decide = enforcer(op.store).decide
    for arn in instance_arns:
        params = {"cluster": cluster_of(arn), "containerInstance": arn}
        refused = decide(op, "ecs", "Poll", params)
        if refused is not None:
            raise AccessDeniedException(refused[0].message())
