"""The agent's HTTP client: SigV4-signed JSON calls to the ECS API and the agent gateway."""

from __future__ import annotations

from typing import Any, Protocol

import httpx
import orjson
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

from portside.agent.endpoints import Endpoints
from portside.gateway import protocol
from portside.gateway.protocol import (
    LogsPrepare,
    LogsPut,
    LogsPutAnswer,
    SecretsRequest,
    TaskSecrets,
)

ECS_TARGET = "AmazonEC2ContainerServiceV20141113"
ECR_TARGET = "AmazonEC2ContainerRegistry_V20150921"


class Message(Protocol):
    def to_wire(self) -> dict[str, Any]: ...


class ApiError(Exception):
    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(f"{code}: {message}")
        self.status = status
        self.code = code
        self.message = message


class ControlPlaneClient:
    def __init__(
        self,
        endpoint: str | Endpoints,
        access_key: str,
        secret_key: str,
        region: str,
        timeout: float = 40.0,
    ) -> None:
        # One URL, a comma-separated list, or a name resolving to several: the replicas
        # this agent fails over between (agent/endpoints.py).
        self.endpoints = endpoint if isinstance(endpoint, Endpoints) else Endpoints([endpoint])
        keys = Credentials(access_key, secret_key)
        # ECS and the gateway take calls signed for ecs; ECR's for ecr.
        self._signers = {name: SigV4Auth(keys, name, region) for name in ("ecs", "ecr")}
        # A replica cut off is found by the connect timeout, not the long poll's.
        self._http = httpx.Client(timeout=httpx.Timeout(timeout, connect=min(timeout, 5.0)))

    @property
    def endpoint(self) -> str:
        """The endpoint calls go to now."""
        return self.endpoints.current

    def _post(
        self,
        path: str,
        body: dict[str, Any],
        headers: dict[str, str],
        timeout: float | None = None,
        service: str = "ecs",
    ) -> Any:
        data = orjson.dumps(body)
        url = self.endpoints.current
        for attempt in range(len(self.endpoints)):
            request = AWSRequest(method="POST", url=url + path, data=data, headers=headers)
            self._signers[service].add_auth(request)
            try:
                response = self._http.post(
                    url + path,
                    content=data,
                    headers=dict(request.headers.items()),
                    timeout=timeout if timeout is not None else httpx.USE_CLIENT_DEFAULT,
                )
                break
            except httpx.TransportError as exc:
                # Unreachable or hung: the next replica takes the call (every agent call may
                # be repeated: reports and log batches are idempotent).
                if attempt + 1 >= len(self.endpoints):
                    raise
                url = self.endpoints.failed(url, exc)
        payload = orjson.loads(response.content) if response.content else {}
        if response.status_code != 200:
            raise ApiError(
                response.status_code,
                str(payload.get("__type", "Unknown")).rsplit("#", 1)[-1],
                str(payload.get("message", "")),
            )
        return payload

    def ecs(self, action: str, **params: Any) -> Any:
        return self._post(
            "/",
            params,
            {
                "Content-Type": "application/x-amz-json-1.1",
                "X-Amz-Target": f"{ECS_TARGET}.{action}",
            },
        )

    def ecr(self, action: str, **params: Any) -> Any:
        """A call of ECR's API (the agent's registry login)."""
        headers = {
            "Content-Type": "application/x-amz-json-1.1",
            "X-Amz-Target": f"{ECR_TARGET}.{action}",
        }
        return self._post("/", params, headers, service="ecr")

    def agent(self, path: str, **params: Any) -> Any:
        """A gateway call with the body given as is."""
        return self._post(path, params, {"Content-Type": "application/json"})

    def send(self, path: str, message: Message) -> dict[str, Any]:
        """A gateway call carrying one of the protocol's messages; the answer's wire form."""
        out = self._post(path, message.to_wire(), {"Content-Type": "application/json"})
        return out if isinstance(out, dict) else {}

    def logs_prepare(
        self, group: str, stream: str, create: bool, task_arn: str | None = None
    ) -> None:
        """awslogs: make sure the stream exists (and the group, when `create`), for the
        container of `task_arn` (whose execution role may have to allow it)."""
        self.send(protocol.LOGS_PREPARE, LogsPrepare(group, stream, create, task_arn))

    def logs_put(self, group: str, stream: str, first: int, events: list[tuple[int, str]]) -> int:
        """awslogs: one batch of (timestamp ms, message); `first` is how many events this
        stream got from us before it. Returns the server's count after the batch."""
        batch = LogsPut(group, stream, first, events)
        return LogsPutAnswer.from_wire(self.send(protocol.LOGS_PUT, batch), batch).next

    def secrets(self, session: str, task_arn: str, timeout: float = 10.0) -> TaskSecrets:
        """A task's secrets, resolved by the control plane (held in memory only)."""
        ask = SecretsRequest(session, task_arn)
        headers = {"Content-Type": "application/json"}
        return TaskSecrets.from_wire(self._post(protocol.SECRETS, ask.to_wire(), headers, timeout))

    def close(self) -> None:
        self._http.close()
