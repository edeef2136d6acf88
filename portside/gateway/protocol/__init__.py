"""The agent protocol: its routes and the typed messages both ends import.

    POST /_portside/agent/v1/session       SessionOpen          -> SessionOpened
    POST /_portside/agent/v1/sync          SyncRequest          -> SyncAnswer
    POST /_portside/agent/v1/fargate       FargateRegistration  -> FargateRegistered
    POST /_portside/agent/v1/logs/prepare  LogsPrepare          -> {}
    POST /_portside/agent/v1/logs/put      LogsPut              -> LogsPutAnswer
    POST /_portside/agent/v1/secrets       SecretsRequest       -> TaskSecrets
    WS   /_portside/agent/v1/exec/<sessionId>  header X-Portside-Exec-Token: the agent token
                                           of the sync's ExecOffer  (exec/relay.py)

Requests are SigV4-signed like any ECS call (service `ecs`). A sync is a long poll: it returns
as soon as a task on one of the session's instances changes, or after `wait` seconds. `after`
is the change-feed position the agent has applied; 0 asks for a full snapshot. One session
carries any number of instances (the simulated fleet puts 10,000 in one). A sync also carries
the agent's reports: it is the agent's heartbeat and its SubmitTaskStateChange.

Each message is a frozen dataclass with `to_wire()` (an orjson-ready dict, camelCase) and
`from_wire(dict)`: nothing else on either side reads or writes the agent protocol's JSON. A
member the sender leaves out takes its default. The messages live by subject: `sync.py`
(session, sync, instances, exec offers, FARGATE registration), `tasks.py` (the task as the
agent sees it), `reports.py` (what the agent says of it), `logs.py` (awslogs shipping),
`secrets.py` (a task's secrets, resolved when it starts).
"""

from __future__ import annotations

from portside.gateway.protocol.logs import LogsPrepare, LogsPut, LogsPutAnswer
from portside.gateway.protocol.reports import ContainerReport, ManagedAgent, TaskReport
from portside.gateway.protocol.secrets import (
    ContainerSecrets,
    RegistryAuth,
    SecretReference,
    SecretsRequest,
    TaskSecrets,
)
from portside.gateway.protocol.sync import (
    MAX_WAIT,
    AgentInstance,
    ExecOffer,
    FargateRegistered,
    FargateRegistration,
    Refusal,
    SessionOpen,
    SessionOpened,
    SyncAnswer,
    SyncRequest,
)
from portside.gateway.protocol.tasks import (
    ENI,
    AgentTask,
    Attachment,
    ContainerOverride,
    TaskContainer,
    TaskOverrides,
)

PREFIX = "/_portside/agent/v1"
SESSION = f"{PREFIX}/session"
SYNC = f"{PREFIX}/sync"
FARGATE = f"{PREFIX}/fargate"
LOGS_PREPARE = f"{PREFIX}/logs/prepare"
LOGS_PUT = f"{PREFIX}/logs/put"
SECRETS = f"{PREFIX}/secrets"
EXEC = f"{PREFIX}/exec/"  # + the session id
EXEC_TOKEN_HEADER = "X-Portside-Exec-Token"

__all__ = [
    "ENI",
    "EXEC",
    "EXEC_TOKEN_HEADER",
    "FARGATE",
    "LOGS_PREPARE",
    "LOGS_PUT",
    "MAX_WAIT",
    "PREFIX",
    "SECRETS",
    "SESSION",
    "SYNC",
    "AgentInstance",
    "AgentTask",
    "Attachment",
    "ContainerOverride",
    "ContainerReport",
    "ContainerSecrets",
    "ExecOffer",
    "FargateRegistered",
    "FargateRegistration",
    "LogsPrepare",
    "LogsPut",
    "LogsPutAnswer",
    "ManagedAgent",
    "Refusal",
    "RegistryAuth",
    "SecretReference",
    "SecretsRequest",
    "SessionOpen",
    "SessionOpened",
    "SyncAnswer",
    "SyncRequest",
    "TaskContainer",
    "TaskOverrides",
    "TaskReport",
    "TaskSecrets",
]
