"""A task's secrets at its start, the agent's side: asked of the control plane (which resolves
them: gateway/secrets.py), asked again while it cannot be reached, and a failure worded as
ECS words it, so the worker only has to stop the task with that reason.

The values stay in the task's run, in memory (runner.TaskRun.secrets), until its last
container is created; they are never written to the agent's state directory nor logged.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping
from typing import Any

import httpx

from portside.agent.client import ApiError
from portside.gateway.protocol import TaskSecrets
from portside.gateway.protocol.secrets import REGISTRY, references

log = logging.getLogger("portside.agent")

ATTEMPTS = 4  # one call and three retries
BACKOFF = 0.5  # seconds before the first retry, doubled for each next one
# ECS's stoppedReason for a task whose secrets or registry auth could not be had.
FAILED = "ResourceInitializationError: unable to pull secrets or registry auth: "
RETRIEVAL = FAILED + "execution resource retrieval failed: "

Ask = Callable[[str], TaskSecrets]  # task ARN -> the control plane's answer


def fetch(
    ask: Ask,
    task_arn: str,
    definition: Mapping[str, Any],
    *,
    url: str,
    attempts: int = ATTEMPTS,
    backoff: float = BACKOFF,
    sleep: Callable[[float], None] = time.sleep,
) -> TaskSecrets:
    """The task's secrets, or a TaskSecrets whose `failure` is why it cannot start. A control
    plane that does not answer (or answers with a fault of its own) is asked `attempts` times
    in all; one that refuses is not asked again."""
    last = ""
    for attempt in range(attempts):
        if attempt:
            sleep(backoff * 2 ** (attempt - 1))
        try:
            return ask(task_arn)
        except ApiError as exc:
            if exc.status < 500:
                return TaskSecrets(task_arn, failure=f"{RETRIEVAL}{exc.code}: {exc.message}")
            last = f"{exc.code}: {exc.message} status code: {exc.status}"
        except (httpx.HTTPError, ValueError, KeyError) as exc:
            # Go's SDK words a call that never got an answer so ("dial tcp ...").
            last = f'RequestError: send request failed caused by: Post "{url}": {exc}'
        log.warning("task %s: secrets not resolved (try %d): %s", task_arn, attempt + 1, last)
    return TaskSecrets(task_arn, failure=unreachable(definition, attempts - 1, last))


def unreachable(definition: Mapping[str, Any], retries: int, cause: str) -> str:
    """ECS's stoppedReason when the secret stores could not be reached, naming the store the
    ECS agent would have asked first (registry auth, then Parameter Store, then Secrets
    Manager)."""
    refs = references(definition)
    if all(r.kind != REGISTRY for r in refs) and any(r.store == "ssm" for r in refs):
        where = "unable to retrieve secrets from ssm"
    else:
        where = "unable to retrieve secret from asm"
    return f"{RETRIEVAL}{where}: service call has been retried {retries} time(s): {cause}"
