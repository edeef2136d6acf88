"""The agent protocol, both ends agree on these names.

    POST /_portside/agent/v1/session   {"cluster", "instances": [arn...]}        -> {"session"}
    POST /_portside/agent/v1/sync      {"session", "after", "reports": [...], "wait"}
                                       -> {"seq", "full", "tasks": [...], "instances": [...],
                                           "exec": [...]}   (ECS Exec sessions to dial in for)
    POST /_portside/agent/v1/fargate   {"totalResources", "versionInfo", "attributes",
                                        "containerInstanceArn"?}  -> {"containerInstanceArn"}
    POST /_portside/agent/v1/logs/prepare  {"group", "stream", "create"}       -> {}
    POST /_portside/agent/v1/logs/put      {"group", "stream", "first", "events": [...]}
                                           -> {"next"}   (gateway/logs.py)
    WS   /_portside/agent/v1/exec/<sessionId>  header X-Portside-Exec-Token: the token the
                                           sync's "exec" entry carried  (exec/relay.py)

Requests are SigV4-signed like any ECS call (service `ecs`). A sync is a long poll: it returns
as soon as a task on one of the session's instances changes, or after `wait` seconds. `after`
is the change-feed position the agent has applied; 0 asks for a full snapshot. One session
carries any number of instances (the simulated fleet puts 10,000 in one).
"""

from __future__ import annotations

PREFIX = "/_portside/agent/v1"
SESSION = f"{PREFIX}/session"
SYNC = f"{PREFIX}/sync"
FARGATE = f"{PREFIX}/fargate"
LOGS_PREPARE = f"{PREFIX}/logs/prepare"
LOGS_PUT = f"{PREFIX}/logs/put"
MAX_WAIT = 25.0
