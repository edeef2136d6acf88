"""STS's operations on the edge (query protocol, signing name `sts`).

GetCallerIdentity answers with the principal the request was signed by: the admin key is
the account's root (`arn:aws:iam::<account>:root`, UserId the account id, as AWS answers for
root credentials). Terraform's AWS provider calls it at start to learn the account.
"""

from __future__ import annotations

from typing import Any

from portside.api.registry import Operations, ServiceSpec
from portside.ops.context import Op

ACTIONS = Operations("STS")


@ACTIONS.action("GetCallerIdentity")
def get_caller_identity(op: Op, p: dict[str, Any]) -> dict[str, Any]:
    arn = op.caller.principal_arn
    resource = arn.split(":", 5)[5] if arn.count(":") >= 5 else ""
    # Root's UserId is the account id; other principals' ids arrive with IAM.
    user_id = op.account if resource == "root" else op.caller.access_key
    return {"UserId": user_id, "Account": op.account, "Arn": arn}


SERVICE = ServiceSpec("sts", ACTIONS, signing_name="sts", body_limit=64 * 1024)
