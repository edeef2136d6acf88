"""The agent gateway with an agent whose key is an IAM user's (its instance role), in
process over HTTP (httpx through ASGI, requests signed by botocore): a session for its
own cluster's instance opens; one naming another cluster's instance is refused with
AccessDeniedException, HTTP 400, and no session is made."""

from __future__ import annotations

import asyncio
import json
import time
from pathlib import Path
from typing import Any

import httpx
import orjson
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials
from starlette.applications import Starlette

from portside.api.auth import SigV4Verifier, StaticKeyRing
from portside.gateway import protocol
from portside.gateway.server import AgentGateway
from portside.iam.api import SERVICE
from portside.iam.keys import IamKeyRing
from portside.model.container_instance import InstanceResources
from portside.ops import instances
from portside.ops.clusters import create_cluster
from portside.testing.store import sqlite_store
from portside.testing.world import ACCOUNT, REGION, make_op, make_world

RESOURCES = InstanceResources.of(
    [{"name": "CPU", "type": "INTEGER", "integerValue": 1024},
     {"name": "MEMORY", "type": "INTEGER", "integerValue": 2048}]
)  # fmt: skip


def _signed(app: Starlette, key: dict[str, str], body: dict[str, Any]) -> httpx.Response:
    data = orjson.dumps(body)
    request = AWSRequest(
        method="POST",
        url=f"http://testserver{protocol.SESSION}",
        data=data,
        headers={"Content-Type": "application/json"},
    )
    credentials = Credentials(key["AccessKeyId"], key["SecretAccessKey"])
    SigV4Auth(credentials, "ecs", REGION).add_auth(request)

    async def send() -> httpx.Response:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as c:
            return await c.post(protocol.SESSION, content=data, headers=dict(request.headers))

    return asyncio.run(send())


def test_an_instance_role_opens_sessions_for_its_own_cluster_only(tmp_path: Path) -> None:
    store = sqlite_store(tmp_path)
    world = make_world(store, clock=time.time)  # signatures carry the real time
    root = make_op(world)
    arns = {}
    for cluster in ("web", "db"):
        create_cluster(root, name=cluster)
        arns[cluster] = instances.register(root, cluster=cluster, total_resources=RESOURCES)
    handlers = SERVICE.handlers
    handlers["CreateUser"](root, {"UserName": "web-agent"})
    policy = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Action": ["ecs:Poll", "ecs:Submit*", "ecs:RegisterContainerInstance"],
                "Resource": "*",
                "Condition": {
                    "ArnEquals": {"ecs:cluster": f"arn:aws:ecs:{REGION}:{ACCOUNT}:cluster/web"}
                },
            }
        ],
    }
    handlers["PutUserPolicy"](
        root,
        {"UserName": "web-agent", "PolicyName": "agent", "PolicyDocument": json.dumps(policy)},
    )
    key = handlers["CreateAccessKey"](root, {"UserName": "web-agent"})["AccessKey"]
    keys = IamKeyRing(store, StaticKeyRing({}, ACCOUNT))
    gateway = AgentGateway(world, SigV4Verifier(keys, world.clock), ACCOUNT)
    app = Starlette(routes=gateway.routes())

    web, db = arns["web"].instance.arn, arns["db"].instance.arn
    opened = _signed(app, key, {"instances": [web]})
    assert opened.status_code == 200, opened.text
    assert opened.json()["session"] in gateway.sessions

    refused = _signed(app, key, {"instances": [web, db]})
    assert refused.status_code == 400
    assert refused.json() == {
        "__type": "AccessDeniedException",
        "message": f"User: arn:aws:iam::{ACCOUNT}:user/web-agent is not authorized to perform: "
        f"ecs:Poll on resource: {db} because no identity-based policy allows the ecs:Poll "
        "action",
    }
    assert len(gateway.sessions) == 1
