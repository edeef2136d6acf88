"""The `blue-green` loop: carries CodeDeploy's ECS deployments out. Each pass (every
PASS_EVERY seconds) takes every deployment not yet complete, reads its facts (the service,
its task sets, the green task set's failed tasks), asks engine.decide and applies the
decision in one transaction: the green task set made, listeners' weights set
(elb/listeners.set_forward_weights, which HAProxy honours), the primary task set moved, a
task set drained, the deployment's status written.

PORTSIDE_CODEDEPLOY_WAIT_SCALE multiplies every wait the shift takes (canary and linear
intervals, the ready wait, the termination wait): 0 makes them immediate."""

from __future__ import annotations

import copy
import logging
import os
from typing import Any

from portside.codedeploy import records
from portside.controllers.blue_green.engine import DONE, Decision, Facts, decide, failed
from portside.controllers.loop import Loop, Loops
from portside.elb import listeners
from portside.errors import PortsideError
from portside.model.load_balancer import LoadBalancer
from portside.model.service import Service
from portside.ops import task_sets
from portside.ops import tasks as task_ops
from portside.ops.clusters import get_active
from portside.ops.context import Caller, Op, World, root_principal
from portside.ops.services import load as load_service
from portside.ops.task_sets import CreateTaskSet
from portside.store.base import Tx

log = logging.getLogger("portside.blue_green")

PASS_EVERY = 0.2  # seconds
WAIT_SCALE_ENV = "PORTSIDE_CODEDEPLOY_WAIT_SCALE"
_OPEN = ("Created", "Queued", "InProgress", "Baking", "Ready")


def wait_scale() -> float:
    try:
        return max(0.0, float(os.environ.get(WAIT_SCALE_ENV, "1")))
    except ValueError:
        return 1.0


class BlueGreenLoop:
    def __init__(self, world: World, account: str, scale: float | None = None) -> None:
        self.world = world
        self.account = account
        self.scale = wait_scale() if scale is None else scale

    def register(self, loops: Loops) -> Loop:
        return loops.add("blue-green", self.step, interval=PASS_EVERY, retry_after=1.0, log=log)

    def step(self) -> float:
        with self.world.store.read() as tx:
            keys = [
                key
                for status in _OPEN
                for key, _ in tx.scan(records.DEPLOYMENTS, where={"status": status})
            ]
        for key in keys:
            self.advance(key)
        return PASS_EVERY

    # -- one deployment ------------------------------------------------------------------

    def _op(self, scope: str) -> Op:
        account, region = scope.split("|", 1)
        return Op(self.world, Caller(account, region, "", root_principal(account)))

    def advance(self, key: str) -> None:
        try:
            self._advance(key, None)
        except PortsideError as exc:
            # What the engine asked could not be done (the green task set refused, a listener
            # gone): nothing of it was kept; the deployment fails, rolled back if it may be.
            log.info("deployment %s failed: %s", key, exc.message)
            self._advance(key, exc.message)

    def _advance(self, key: str, failure: str | None) -> None:
        with self.world.store.transaction() as tx:
            doc = tx.get(records.DEPLOYMENTS, key)
            if doc is None or doc["status"] not in _OPEN:
                return
            before = copy.deepcopy(doc)
            state = doc["engine"]
            op = self._op(state["scope"])
            now = op.now()
            if failure is None:
                decision = decide(state, self._facts(op, tx, state), now, self.scale)
            else:
                decision = failed(state, "ECS_UPDATE_ERROR", failure)
            self._apply(op, tx, doc, decision)
            self._finish(doc, decision, now)
            if decision.rollback_message is not None:
                _rollback_deployment(op, tx, doc, decision.rollback_message, now)
            if doc != before:
                tx.put(records.DEPLOYMENTS, key, doc)

    def _facts(self, op: Op, tx: Tx, state: dict[str, Any]) -> Facts:
        service = load_service(tx, state["service"])
        if service is None or service.status != "ACTIVE":
            return Facts(False, False, False)
        sets = {d["id"]: d for d in task_sets.of_service(tx, service.arn)}
        green = sets.get(state.get("green") or "")
        failures = 0
        if green is not None:
            docs = task_ops.of_group(
                tx,
                service.cluster_arn,
                f"service:{service.name}",
                stopped_since=float(state.get("greenSince") or 0),
                started_by=[green["id"]],
            )
            for _, task in docs:
                if task.get("startedBy") != green["id"] or task.get("desiredStatus") != "STOPPED":
                    continue
                reason = str(task.get("stoppedReason") or "")
                never_ran = task.get("lastStatus") == "STOPPED" and not task.get("startedAt")
                if reason.startswith("Task failed") or never_ran:
                    failures += 1
        steady = (
            green is not None
            and green["stabilityStatus"] == task_sets.STEADY_STATE
            and green["runningCount"] == green["computedDesiredCount"]
        )
        return Facts(True, state.get("blue") in sets, green is not None, steady, failures)

    def _apply(self, op: Op, tx: Tx, doc: dict[str, Any], d: Decision) -> None:
        state = doc["engine"]
        service = load_service(tx, state["service"])
        if service is None:
            return
        share = d.green_share
        if share is not None:
            blue, green = state["blueGroup"], state["greenGroup"]
            for listener in state["prod"]:
                _route(tx, listener, [(blue, 100 - share), (green, share)])
            state["greenShare"] = share
        if d.test_to is not None:
            group = state["greenGroup"] if d.test_to == "green" else state["blueGroup"]
            for listener in state["test"]:
                _route(tx, listener, [(group, 1)])
        if d.create_green:  # once its group is behind a listener (ECS checks that)
            state["green"] = self._create_green(op, tx, service, doc)
        sets = {s["id"]: s for s in task_sets.of_service(tx, service.arn)}
        if d.primary is not None:
            target = sets.get(state.get(d.primary) or "")
            if target is not None and target["status"] != task_sets.PRIMARY:
                task_sets.make_primary_in(op, tx, service, target)
                sets = {s["id"]: s for s in task_sets.of_service(tx, service.arn)}
        for side in d.drain:
            target = sets.get(state.get(side) or "")
            if target is not None and target["status"] == task_sets.SET_ACTIVE:
                task_sets.drain_in(op, tx, target)

    def _create_green(self, op: Op, tx: Tx, service: Service, doc: dict[str, Any]) -> str:
        state = doc["engine"]
        spec = state["appspec"]
        cluster = get_active(op, tx, service.cluster_arn)
        balancer = LoadBalancer.from_doc(
            {
                "targetGroupArn": state["greenGroup"],
                "containerName": spec["containerName"],
                "containerPort": spec["containerPort"],
            }
        )
        strategy = spec.get("capacityProviderStrategy")
        created = task_sets.create_in(
            op,
            tx,
            cluster,
            service,
            CreateTaskSet(
                service=service.arn,
                cluster=cluster.arn,
                task_definition=spec["taskDefinition"],
                external_id=doc["deploymentId"],
                network_configuration=spec.get("networkConfiguration"),
                load_balancers=(balancer,),
                capacity_provider_strategy=None if strategy is None else tuple(strategy),
                platform_version=spec.get("platformVersion"),
                started_by="CODE_DEPLOY",
            ),
        )
        return str(created["id"])

    @staticmethod
    def _finish(doc: dict[str, Any], d: Decision, now: float) -> None:
        state = doc["engine"]
        state.update(d.notes)
        state["phase"] = d.phase
        if d.status == "InProgress" and "startTime" not in doc:
            doc["startTime"] = now
        doc["status"] = d.status
        if d.phase == "TERMINATION_WAIT":
            doc["instanceTerminationWaitTimeStarted"] = True
        if d.error is not None:
            doc["errorInformation"] = {"code": d.error[0], "message": d.error[1]}
        if d.rollback_message is not None:
            doc["rollbackInfo"] = {"rollbackMessage": d.rollback_message}
        if d.complete or d.phase == DONE:
            doc["completeTime"] = now
            doc.setdefault("startTime", now)


def _rollback_deployment(op: Op, tx: Tx, doc: dict[str, Any], message: str, now: float) -> None:
    """The rollback as CodeDeploy shows one: a deployment of its own (creator
    `codeDeployRollback`) of the group's last successful revision, linked both ways through
    `rollbackInfo`. Traffic went back to blue in the same transaction, so it has Succeeded."""
    ident = records.new_deployment_id(op)
    group = (doc["applicationName"], doc["deploymentGroupName"])
    last = max(
        (
            d
            for _, d in tx.scan(records.DEPLOYMENTS, where={"status": "Succeeded"})
            if (d.get("applicationName"), d.get("deploymentGroupName")) == group
            and d.get("revision")
            and d["engine"].get("scope") == doc["engine"]["scope"]
        ),
        key=lambda d: float(d.get("completeTime") or 0),
        default=None,
    )
    rollback: dict[str, Any] = {
        key: doc[key]
        for key in (
            "applicationName",
            "deploymentGroupName",
            "deploymentConfigName",
            "autoRollbackConfiguration",
            "deploymentStyle",
            "blueGreenDeploymentConfiguration",
            "loadBalancerInfo",
            "computePlatform",
        )
        if key in doc
    }
    rollback.update(
        {
            "deploymentId": ident,
            "status": "Succeeded",
            "createTime": now,
            "startTime": now,
            "completeTime": now,
            "creator": "codeDeployRollback",
            "ignoreApplicationStopFailures": False,
            "updateOutdatedInstancesOnly": False,
            "instanceTerminationWaitTimeStarted": False,
            "fileExistsBehavior": "DISALLOW",
            "deploymentStatusMessages": [],
            "rollbackInfo": {
                "rollbackTriggeringDeploymentId": doc["deploymentId"],
                "rollbackMessage": f"Rollback of {doc['deploymentId']}: {message}",
            },
            "engine": {"scope": doc["engine"]["scope"], "phase": DONE},
        }
    )
    if last is not None:
        rollback["revision"] = last["revision"]
    doc["rollbackInfo"] = {"rollbackDeploymentId": ident, "rollbackMessage": message}
    tx.put(records.DEPLOYMENTS, f"{doc['engine']['scope']}|{ident}", rollback)


def _route(tx: Tx, listener: str, groups: list[tuple[str, int]]) -> None:
    """Forward by these weights, unless the listener already does (a reload saved)."""
    if listeners.forward_weights(tx, listener) != dict(groups):
        listeners.set_forward_weights(tx, listener, groups)
