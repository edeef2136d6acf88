"""A task's secrets, resolved for its agent when the task starts.

    POST /_portside/agent/v1/secrets   SecretsRequest -> TaskSecrets

The agent asks before it makes anything of the task; the gateway reads the task's definition
itself (the agent names only the task), answers only for a task placed on one of the asking
session's instances, and resolves every reference `references()` finds: a container's
`secrets` (environment variables), its `logConfiguration.secretOptions` (log driver options)
and its `repositoryCredentials.credentialsParameter` (registry auth for its image's pull).

A value lives in memory only, on both ends: never in the store, a document, a log line or the
agent's state directory; `repr()` of these messages leaves the values out. When one cannot be
resolved, `TaskSecrets.failure` is the task's stoppedReason in ECS's words and nothing else is
sent.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from portside.gateway.protocol.tasks import Json

ENVIRONMENT = "environment"  # a container's `secrets`
LOG_OPTION = "log-option"  # its `logConfiguration.secretOptions`
REGISTRY = "registry"  # its `repositoryCredentials.credentialsParameter`


def in_secrets_manager(value_from: str) -> bool:
    """Whether ECS reads `value_from` from Secrets Manager (a secretsmanager ARN) rather than
    from Parameter Store (a parameter name or ARN)."""
    parts = value_from.split(":", 3)
    return len(parts) > 2 and parts[0] == "arn" and parts[2] == "secretsmanager"


@dataclass(frozen=True, slots=True)
class SecretReference:
    """One value a task definition takes from a secret store."""

    container: str
    kind: str  # ENVIRONMENT | LOG_OPTION | REGISTRY
    name: str  # the variable or the log option; "" for registry credentials
    value_from: str

    @property
    def store(self) -> str:
        """asm (Secrets Manager) or ssm (Parameter Store), as ECS's stopped reasons name them."""
        if self.kind == REGISTRY or in_secrets_manager(self.value_from):
            return "asm"
        return "ssm"


def references(definition: Mapping[str, Any]) -> tuple[SecretReference, ...]:
    """Every secret a task definition (ECS's document shape) takes, container by container."""
    found: list[SecretReference] = []
    for c in definition.get("containerDefinitions") or ():
        name = str(c.get("name", ""))
        credentials = (c.get("repositoryCredentials") or {}).get("credentialsParameter")
        if credentials:
            found.append(SecretReference(name, REGISTRY, "", str(credentials)))
        for s in c.get("secrets") or ():
            found.append(SecretReference(name, ENVIRONMENT, str(s["name"]), str(s["valueFrom"])))
        for s in (c.get("logConfiguration") or {}).get("secretOptions") or ():
            found.append(SecretReference(name, LOG_OPTION, str(s["name"]), str(s["valueFrom"])))
    return tuple(found)


def takes_secrets(definition: Mapping[str, Any]) -> bool:
    """Whether `references(definition)` finds anything (without building them)."""
    return any(
        c.get("secrets")
        or (c.get("repositoryCredentials") or {}).get("credentialsParameter")
        or (c.get("logConfiguration") or {}).get("secretOptions")
        for c in definition.get("containerDefinitions") or ()
    )


@dataclass(frozen=True, slots=True)
class SecretsRequest:
    session: str
    task_arn: str

    def to_wire(self) -> Json:
        return {"session": self.session, "taskArn": self.task_arn}

    @classmethod
    def from_wire(cls, d: Mapping[str, Any]) -> SecretsRequest:
        return cls(str(d["session"]), str(d["taskArn"]))


@dataclass(frozen=True, slots=True)
class RegistryAuth:
    """Registry credentials for one container's image pull."""

    username: str
    password: str = field(repr=False)

    def to_wire(self) -> Json:
        return {"username": self.username, "password": self.password}

    @classmethod
    def from_wire(cls, d: Mapping[str, Any]) -> RegistryAuth:
        return cls(str(d["username"]), str(d["password"]))


def _pairs(items: Any) -> tuple[tuple[str, str], ...]:
    return tuple((str(i["name"]), str(i["value"])) for i in items or ())


@dataclass(frozen=True, slots=True)
class ContainerSecrets:
    """One container's resolved values: (name, value) pairs in the definition's order."""

    name: str
    environment: tuple[tuple[str, str], ...] = field(default=(), repr=False)
    log_options: tuple[tuple[str, str], ...] = field(default=(), repr=False)
    registry_auth: RegistryAuth | None = field(default=None, repr=False)

    def to_wire(self) -> Json:
        out: Json = {
            "name": self.name,
            "environment": [{"name": k, "value": v} for k, v in self.environment],
            "logOptions": [{"name": k, "value": v} for k, v in self.log_options],
        }
        if self.registry_auth is not None:
            out["registryAuth"] = self.registry_auth.to_wire()
        return out

    @classmethod
    def from_wire(cls, d: Mapping[str, Any]) -> ContainerSecrets:
        auth = d.get("registryAuth")
        return cls(
            name=str(d["name"]),
            environment=_pairs(d.get("environment")),
            log_options=_pairs(d.get("logOptions")),
            registry_auth=RegistryAuth.from_wire(auth) if auth else None,
        )


NO_SECRETS = ContainerSecrets("")


@dataclass(frozen=True, slots=True)
class TaskSecrets:
    """The answer: every container's values, or why the task cannot have them (`failure`,
    ECS's stoppedReason; no value is sent then)."""

    task_arn: str
    containers: tuple[ContainerSecrets, ...] = field(default=(), repr=False)
    failure: str | None = None

    def of(self, container: str) -> ContainerSecrets:
        return next((c for c in self.containers if c.name == container), NO_SECRETS)

    def to_wire(self) -> Json:
        return {
            "taskArn": self.task_arn,
            "containers": [c.to_wire() for c in self.containers],
            "failure": self.failure,
        }

    @classmethod
    def from_wire(cls, d: Mapping[str, Any]) -> TaskSecrets:
        failure = d.get("failure")
        return cls(
            task_arn=str(d["taskArn"]),
            containers=tuple(ContainerSecrets.from_wire(c) for c in d.get("containers") or ()),
            failure=str(failure) if failure is not None else None,
        )
