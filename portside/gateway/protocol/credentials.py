"""A task role's credentials, asked by the agent for the task's credentials endpoint.

    POST /_portside/agent/v1/credentials   CredentialsRequest -> TaskCredentials

The agent names the task only; the gateway reads the task's role itself (RunTask's
`overrides.taskRoleArn`, else the definition's `taskRoleArn`), answers only for a task placed
on one of the asking session's instances, and assumes the role as ECS does, for the service
principal `ecs-tasks.amazonaws.com` with the task's id as the session name. When the role's
trust policy refuses, `TaskCredentials.failure` is the task's stoppedReason (the task is
stopped with it) and no key is sent. `repr()` leaves the secret and the token out.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from portside.gateway.protocol.tasks import Json

CREDENTIALS = "/_portside/agent/v1/credentials"


@dataclass(frozen=True, slots=True)
class CredentialsRequest:
    session: str
    task_arn: str

    def to_wire(self) -> Json:
        return {"session": self.session, "taskArn": self.task_arn}

    @classmethod
    def from_wire(cls, d: Mapping[str, Any]) -> CredentialsRequest:
        return cls(str(d["session"]), str(d["taskArn"]))


@dataclass(frozen=True, slots=True)
class TaskCredentials:
    """A role session's key for a task, or why the task cannot have one (`failure`)."""

    task_arn: str
    role_arn: str = ""
    access_key_id: str = ""
    secret_access_key: str = field(default="", repr=False)
    token: str = field(default="", repr=False)
    expiration: float = 0.0  # epoch seconds
    failure: str | None = None

    def to_wire(self) -> Json:
        return {
            "taskArn": self.task_arn,
            "roleArn": self.role_arn,
            "accessKeyId": self.access_key_id,
            "secretAccessKey": self.secret_access_key,
            "token": self.token,
            "expiration": self.expiration,
            "failure": self.failure,
        }

    @classmethod
    def from_wire(cls, d: Mapping[str, Any]) -> TaskCredentials:
        failure = d.get("failure")
        return cls(
            task_arn=str(d["taskArn"]),
            role_arn=str(d.get("roleArn") or ""),
            access_key_id=str(d.get("accessKeyId") or ""),
            secret_access_key=str(d.get("secretAccessKey") or ""),
            token=str(d.get("token") or ""),
            expiration=float(d.get("expiration") or 0.0),
            failure=str(failure) if failure is not None else None,
        )
