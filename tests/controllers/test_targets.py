"""controllers/targets.py's decisions, pure: which targets to register and deregister, what
to tell the service, when a held stop goes on; and where a task is reached."""

from __future__ import annotations

from typing import Any

from portside.controllers.targets import Wanted, plan, target_of
from portside.elb.registrations import Group, Target
from portside.ops.service_targets import Row

SVC = "arn:aws:ecs:us-east-1:000000000000:service/c1/web"
TG = "arn:aws:elasticloadbalancing:us-east-1:000000000000:targetgroup/web/0123456789abcdef"
TG2 = "arn:aws:elasticloadbalancing:us-east-1:000000000000:targetgroup/api/0123456789abcdef"
T1 = "arn:aws:ecs:us-east-1:000000000000:task/c1/t1"
T2 = "arn:aws:ecs:us-east-1:000000000000:task/c1/t2"
NOW = 1000.0


def wanted(task: str, *targets: Target) -> Wanted:
    return Wanted(task, SVC, targets, "us-east-1a")


def test_a_running_task_is_registered_in_each_group_once() -> None:
    a, b = Target(TG, "i-1", 32768), Target(TG2, "i-1", 32768)
    first = plan([wanted(T1, a, b), wanted(T2, Target(TG, "i-2", 32769))], [], {}, NOW)
    assert [(row.task_arn, row.target) for row, _ in first.register] == [
        (T1, b),
        (T1, a),
        (T2, Target(TG, "i-2", 32769)),
    ]
    assert first.events == [
        (SVC, f"(service web) registered 1 targets in (target-group {TG2})"),
        (SVC, f"(service web) registered 2 targets in (target-group {TG})"),
    ]
    rows = [row for row, _ in first.register]
    again = plan([wanted(T1, a, b), wanted(T2, Target(TG, "i-2", 32769))], rows, {}, NOW)
    assert again.empty()


def test_health_is_copied_into_the_rows() -> None:
    a = Target(TG, "10.0.0.5", 80)
    row = Row(T1, SVC, a, health="initial")
    found = plan([wanted(T1, a)], [row], {a: "healthy"}, NOW)
    assert found.update == [Row(T1, SVC, a, health="healthy")]
    assert not found.events


def test_a_task_no_longer_running_is_deregistered_at_once() -> None:
    """A container that exited (the task is no longer RUNNING) or a service deleted: its
    targets go without a drain to wait for."""
    a = Target(TG, "i-1", 32768)
    found = plan([], [Row(T1, SVC, a, health="healthy")], {}, NOW)
    assert found.deregister == [Row(T1, SVC, a, health="healthy")]
    assert found.events == [(SVC, f"(service web) deregistered 1 targets in (target-group {TG})")]
    assert not found.release


def test_a_stop_deregistered_and_held_is_told_then_released() -> None:
    a, b = Target(TG, "i-1", 32768), Target(TG, "i-2", 32770)
    rows = [
        Row(T1, SVC, a, deregistered=True, hold_until=NOW + 5),
        Row(T2, SVC, b, deregistered=True, hold_until=NOW + 3),
    ]
    told = plan([], rows, {}, NOW)
    assert told.events == [
        (SVC, f"(service web) deregistered 2 targets in (target-group {TG})"),
        (SVC, "(service web) has begun draining connections on 2 tasks."),
    ]
    assert [r.announced for r in told.update] == [True, True]
    assert told.due == NOW + 3 and not told.release and not told.forget
    # Once told, nothing more until a hold ends; then that task's stop goes on.
    later = plan([], told.update, {}, NOW + 3)
    assert not later.events and later.release == [T2]
    assert [r.task_arn for r in later.forget] == [T2] and later.due == NOW + 5
    assert plan([], told.update, {}, NOW + 5).release == [T1, T2]


def test_a_stop_with_nothing_to_drain_is_told_and_forgotten() -> None:
    a = Target(TG, "i-1", 32768)
    found = plan([], [Row(T1, SVC, a, deregistered=True)], {}, NOW)
    assert found.events == [(SVC, f"(service web) deregistered 1 targets in (target-group {TG})")]
    assert [r.task_arn for r in found.forget] == [T1] and not found.release


# -- where a task is reached ----------------------------------------------------------------


def task(**container: Any) -> dict[str, Any]:
    return {"containers": [{"name": "web", **container}], "attachments": []}


INSTANCE = Group(TG, "instance", True, 300)
IP = Group(TG, "ip", True, 300)


def test_bridge_is_the_instance_and_the_bound_host_port() -> None:
    bound = task(networkBindings=[{"containerPort": 80, "hostPort": 32771, "protocol": "tcp"}])
    assert target_of(bound, "bridge", "i-1", INSTANCE, "web", 80) == Target(TG, "i-1", 32771)
    assert target_of(task(), "bridge", "i-1", INSTANCE, "web", 80) is None  # not bound yet
    assert target_of(bound, "bridge", "i-1", INSTANCE, "other", 80) is None
    # Docker may bind IPv6 to another port than IPv4: the instance is reached on IPv4.
    both = task(
        networkBindings=[
            {"bindIP": "::", "containerPort": 80, "hostPort": 32772, "protocol": "tcp"},
            {"bindIP": "0.0.0.0", "containerPort": 80, "hostPort": 32773, "protocol": "tcp"},
        ]
    )
    assert target_of(both, "bridge", "i-1", INSTANCE, "web", 80) == Target(TG, "i-1", 32773)


def test_host_is_the_instance_and_the_container_port() -> None:
    assert target_of(task(), "host", "i-1", INSTANCE, "web", 8080) == Target(TG, "i-1", 8080)


def test_awsvpc_is_the_private_ip_and_the_container_port() -> None:
    nic = task(networkInterfaces=[{"attachmentId": "a", "privateIpv4Address": "10.0.0.7"}])
    assert target_of(nic, "awsvpc", None, IP, "web", 80) == Target(TG, "10.0.0.7", 80)
    assert target_of(nic, "awsvpc", None, INSTANCE, "web", 80) is None
    attached = {
        "containers": [{"name": "web"}],
        "attachments": [{"details": [{"name": "privateIPv4Address", "value": "10.0.0.8"}]}],
    }
    assert target_of(attached, "awsvpc", None, IP, "web", 80) == Target(TG, "10.0.0.8", 80)
