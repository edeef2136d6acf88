"""A DAEMON service behind a load balancer on simulated fleets, through boto3 against a real
server and its HAProxy: each instance's target is reached at the address its agent registered
(two agents, two loopback addresses), and a task whose target fails the target group's health
checks is replaced on its own instance once the grace period is over, with ECS's event and
stoppedReason; the service says it has reached a steady state only once the replacement's
target is healthy.

The fleets and helpers are test_services_sim.py's and test_services_lb_sim.py's."""

from __future__ import annotations

import socket
import threading
import time
from contextlib import ExitStack
from http.server import ThreadingHTTPServer
from pathlib import Path
from typing import Any

from aws_query import query_client
from harness import ServerProcess
from test_daemon_sim import daemon
from test_services_lb_sim import Backend, ec2_ids, health, messages, target_group, unique, web
from test_services_sim import describe_tasks, sim, task_arns, wait_until

from portside.controllers.load_balancers import ADDRESS_ATTRIBUTE

GRACE = 18  # seconds: longer than a failing target takes to be judged unhealthy (~12 s)
STEADY = "(service agent) has reached a steady state."


def serving(elb: Any, tg: str) -> None:
    """Wait until HAProxy serves the group's listener: targets registered from then on are
    added to the running HAProxy (the way a task's are), not to a fresh one's configuration."""
    (lb,) = elb.describe_target_groups(TargetGroupArns=[tg])["TargetGroups"][0]["LoadBalancerArns"]
    (listener,) = elb.describe_listeners(LoadBalancerArn=lb)["Listeners"]

    def accepts() -> bool:
        with socket.socket() as probe:
            probe.settimeout(1)
            return probe.connect_ex(("127.0.0.1", listener["Port"])) == 0

    wait_until(accepts, 20, "HAProxy to serve the listener")


def since_stop(events: list[str]) -> list[str]:
    """The events after the one that says a task was unhealthy (oldest first)."""
    marks = [n for n, m in enumerate(events) if "is unhealthy in (target-group" in m]
    return events[marks[-1] + 1 :] if marks else []


def serve_also_at(backend: Backend, host: str) -> ThreadingHTTPServer:
    """`backend`'s answers on `host`, same port."""
    found = ThreadingHTTPServer((host, backend.port), backend.server.RequestHandlerClass)
    threading.Thread(target=found.serve_forever, daemon=True).start()
    return found


def test_a_daemon_task_whose_target_fails_is_replaced_on_its_instance(
    server: ServerProcess, tmp_path: Path
) -> None:
    elb = query_client(server, "elbv2")
    with ExitStack() as stack:
        near = Backend()  # serves 127.0.0.1 only
        stack.callback(near.close)
        fleet = stack.enter_context(sim(server, tmp_path, "daemon-lb"))
        # Two agents: one on this host (no address given), one that says it is reached at
        # 127.0.0.2, where nothing serves the port yet.
        (here,) = fleet.add(1)
        (there,) = fleet.add(1, attributes={ADDRESS_ATTRIBUTE: "127.0.0.2"})
        ids = ec2_ids(fleet, [here, there])
        tg = target_group(elb, unique("dmn"), delay=1)
        serving(elb, tg)
        td = web(fleet, "lbdaemon", near.port)
        balancer = {"targetGroupArn": tg, "containerName": "app", "containerPort": near.port}
        daemon(fleet, "agent", td, loadBalancers=[balancer], healthCheckGracePeriodSeconds=GRACE)
        well_target, sick_target = (ids[here], near.port), (ids[there], near.port)
        states = wait_until(
            lambda: (found := health(elb, tg)).get(sick_target) == "unhealthy" and found,
            40,
            "the target at 127.0.0.2 to fail its health checks",
        )
        assert states[well_target] == "healthy"  # reached at 127.0.0.1

        # Judged unhealthy within the grace period: nothing is replaced yet.
        tasks = describe_tasks(fleet, task_arns(fleet, "agent"))
        by_instance = {t["containerInstanceArn"]: t for t in tasks}
        well, sick = by_instance[here], by_instance[there]
        assert time.time() - sick["startedAt"].timestamp() < GRACE
        assert sick["desiredStatus"] == "RUNNING"
        said = messages(fleet, "agent")
        assert not [m for m in said if "is unhealthy in" in m]
        assert STEADY not in said  # one of its targets has never been healthy

        # Once it is over: stopped with ECS's reason and event.
        (stopped,) = wait_until(
            lambda: [
                t
                for t in describe_tasks(fleet, [sick["taskArn"]])
                if t["desiredStatus"] == "STOPPED"
            ],
            GRACE + 20,
            "the failing task to be stopped",
        )
        assert stopped["stoppedReason"] == f"Task failed ELB health checks in (target-group {tg})"
        assert stopped["stoppingAt"].timestamp() - stopped["startedAt"].timestamp() >= GRACE
        short = sick["taskArn"].rsplit("/", 1)[1]
        assert (
            f"(service agent) (task {short}) is unhealthy in (target-group {tg}) due to "
            "(reason Health checks failed)."
        ) in messages(fleet, "agent")

        # The port now answers at 127.0.0.2 too: the replacement's target turns healthy.
        far = serve_also_at(near, "127.0.0.2")
        stack.callback(far.server_close)
        stack.callback(far.shutdown)

        def replacement() -> dict[str, Any] | None:
            found = [
                t
                for t in describe_tasks(fleet, task_arns(fleet, "agent"))
                if t["containerInstanceArn"] == there
            ]
            return found[0] if found and found[0]["taskArn"] != sick["taskArn"] else None

        new = wait_until(replacement, 30, "a replacement on the same instance")
        # Not steady while the replacement's target is not yet healthy (the events are read
        # before the target's state: a steady event seen with it not healthy came first).
        deadline = time.monotonic() + 40
        while True:
            said = STEADY in since_stop(messages(fleet, "agent"))
            state = health(elb, tg).get(sick_target)
            assert not (said and state != "healthy"), f"steady with the target {state}"
            if said:
                break
            assert time.monotonic() < deadline, f"never steady; the target is {state}"
            time.sleep(0.2)

        # One replacement, on that instance only; the healthy task was left alone.
        tasks = describe_tasks(fleet, task_arns(fleet, "agent"))
        assert {t["taskArn"] for t in tasks} == {well["taskArn"], new["taskArn"]}
        assert task_arns(fleet, "agent", "STOPPED") == [sick["taskArn"]]
        assert health(elb, tg) == {well_target: "healthy", sick_target: "healthy"}
        fleet.ecs.delete_service(cluster=fleet.cluster, service="agent", force=True)
