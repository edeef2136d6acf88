"""ECS Managed Daemons as stored values: a daemon, its revisions and its deployments.

A daemon (CreateDaemon) keeps one task of its daemon task definition on every container
instance of its capacity providers. Each CreateDaemon or UpdateDaemon snapshots the daemon's
configuration as an immutable revision (`daemon-revision/CLUSTER/NAME/UUID`) and starts a
deployment (`daemon-deployment/CLUSTER/NAME/ID`) that rolls the instances over to it.

The rolling itself is the DAEMON service scheduler's (controllers/services/daemon.py): the
daemon keeps, in `scheduler`, the `Service` value that scheduler reconciles (its deployments,
back-off and circuit breaker bookkeeping), one scheduler deployment per daemon deployment
(`deployment_of` maps the scheduler's ids to the daemon deployment ARNs; a circuit-breaker
rollback makes a second scheduler deployment for the same daemon deployment).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from portside.model.doc import Stored

ACTIVE = "ACTIVE"
DELETE_IN_PROGRESS = "DELETE_IN_PROGRESS"

# Daemon deployment states (DaemonDeploymentStatus).
PENDING = "PENDING"
IN_PROGRESS = "IN_PROGRESS"
SUCCESSFUL = "SUCCESSFUL"
STOPPED = "STOPPED"
STOP_REQUESTED = "STOP_REQUESTED"
ROLLBACK_IN_PROGRESS = "ROLLBACK_IN_PROGRESS"
ROLLBACK_SUCCESSFUL = "ROLLBACK_SUCCESSFUL"
ROLLBACK_FAILED = "ROLLBACK_FAILED"
FINISHED = frozenset({SUCCESSFUL, STOPPED, ROLLBACK_SUCCESSFUL, ROLLBACK_FAILED})

DEFAULT_DRAIN_PERCENT = 25.0  # developer guide, "Creating and managing daemons"

DAEMONS = "daemons"
REVISIONS = "daemon_revisions"
DEPLOYMENTS = "daemon_deployments"


@dataclass(slots=True)
class Daemon(Stored):
    arn: str = field(metadata={"key": "daemonArn"})
    name: str = field(metadata={"key": "daemonName"})
    cluster_arn: str
    status: str = ACTIVE
    created_at: float = 0.0
    updated_at: float = 0.0
    deployment_arn: str = ""  # the newest deployment
    revision_arn: str = ""  # the newest revision (its target)
    capacity_provider_arns: list[str] = field(default_factory=list)
    client_token: str | None = None
    # The DAEMON scheduler's Service value as a document, and its deployments' daemon ones.
    scheduler: dict[str, Any] = field(default_factory=dict)
    deployment_of: dict[str, str] = field(default_factory=dict)
    # The revision each scheduler deployment runs (a rollback runs the one it returns to).
    revision_of: dict[str, str] = field(default_factory=dict)
    # The latest start the scheduler could not make, as ECS's service action event says it.
    last_failure: str | None = None
    # Failed tasks of critical revisions whose instances were drained (controllers/daemons/
    # critical.py), kept while the scheduler's facts show them.
    critical_handled: list[str] = field(default_factory=list)


@dataclass(slots=True)
class DaemonRevision(Stored):
    arn: str = field(metadata={"key": "daemonRevisionArn"})
    cluster_arn: str
    daemon_arn: str
    daemon_task_definition_arn: str
    created_at: float
    container_images: list[dict[str, str]] = field(default_factory=list)
    capacity_provider_arns: list[str] = field(default_factory=list)
    propagate_tags: str = "NONE"
    enable_ecs_managed_tags: bool = False
    enable_execute_command: bool = False
    critical: bool = True  # CreateDaemon's default


@dataclass(slots=True)
class DaemonDeployment(Stored):
    arn: str = field(metadata={"key": "daemonDeploymentArn"})
    daemon_arn: str
    cluster_arn: str
    target_revision_arn: str
    created_at: float
    status: str = PENDING
    status_reason: str | None = None
    source_revision_arns: list[str] = field(default_factory=list)
    # DaemonDeploymentConfiguration as given, with drainPercent filled in.
    deployment_configuration: dict[str, Any] = field(default_factory=dict)
    started_at: float | None = None
    stopped_at: float | None = None
    finished_at: float | None = None
    # When every instance ran the target revision: the bake time runs from then.
    settled_at: float | None = None
    failure_count: int = 0
    threshold: int = 0
    circuit_breaker_status: str = "MONITORING"
    rollback: dict[str, Any] | None = None
