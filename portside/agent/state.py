"""The agent's own durable state: its instance ARNs and every task run, so a restarted agent
re-registers as the same instance and re-adopts the containers it was running."""

from __future__ import annotations

import contextlib
import os
from pathlib import Path
from typing import Any

import orjson

from portside.agent.runner import TaskRun
from portside.gateway.protocol import AgentTask
from portside.model.doc import from_doc, to_doc


def restart_key(run: TaskRun) -> tuple[Any, ...]:
    """What a restarted agent needs of a run and cannot learn from the driver again: which
    containers it made (to re-adopt rather than orphan them) and how the task ended. A step
    that changes none of these (a pull, a start, a status the driver will report again) is
    not written down. The task's resources are written with its first container; should the
    agent die between the two, what the driver set up for a task it no longer knows of is
    an orphan the restarted agent removes (Agent._remove_orphans)."""
    return (
        run.status == "STOPPED",
        run.stop_code,
        run.stopped_reason,
        run.torn_down,
        tuple(
            (c.name, c.runtime_id, c.state == "exited", c.exit_code, c.reason)
            for c in run.containers.values()
        ),
    )


def _nothing_yet(run: TaskRun) -> tuple[Any, ...]:
    """The restart key of a run that has made nothing and decided nothing: the control plane
    sends it again to a restarted agent, so it needs no file."""
    return (False, None, None, False, tuple((c, None, False, None, None) for c in run.containers))


def run_to_doc(run: TaskRun) -> dict[str, Any]:
    doc: dict[str, Any] = to_doc(run)
    doc["task"] = run.task.to_wire()  # the protocol's own form: it reads back typed
    return doc


def run_from_doc(doc: dict[str, Any]) -> TaskRun:
    if "doc" in doc:
        doc = _upgrade(doc)
    task = AgentTask.from_wire(doc["task"])
    run: TaskRun = from_doc(TaskRun, {**doc, "task": None})
    run.task = task
    return run


def _upgrade(doc: dict[str, Any]) -> dict[str, Any]:
    """A run written before the protocol was typed: the task as the store held it ("doc")
    and its definition beside it."""
    from portside.gateway.messages import agent_task

    rest = {k: v for k, v in doc.items() if k not in ("doc", "definition")}
    return {**rest, "task": agent_task(doc["doc"], doc.get("definition") or {}).to_wire()}


class AgentState:
    def __init__(self, root: Path) -> None:
        self.root = root
        (root / "tasks").mkdir(parents=True, exist_ok=True)
        self._saved: dict[str, tuple[Any, ...]] = {}  # ARN -> restart key last written

    def _write(self, path: Path, data: Any) -> None:
        tmp = path.with_suffix(".tmp")
        tmp.write_bytes(orjson.dumps(data))
        os.replace(tmp, path)

    def instance(self) -> dict[str, Any]:
        path = self.root / "instance.json"
        return orjson.loads(path.read_bytes()) if path.exists() else {}

    def save_instance(self, data: dict[str, Any]) -> None:
        self._write(self.root / "instance.json", data)

    def _task_path(self, arn: str) -> Path:
        return self.root / "tasks" / (arn.rsplit("/", 1)[1] + ".json")

    def save_run(self, run: TaskRun) -> None:
        """Write the run down if anything a restart needs changed since it last was. (Every
        step used to write a file: four to six per task, 80% of a simulated fleet's CPU.)"""
        key = restart_key(run)
        saved = self._saved.get(run.arn)
        if saved == key or (saved is None and key == _nothing_yet(run)):
            return
        self._write(self._task_path(run.arn), run_to_doc(run))
        self._saved[run.arn] = key

    def forget(self, arn: str) -> None:
        self._saved.pop(arn, None)
        with contextlib.suppress(FileNotFoundError):
            self._task_path(arn).unlink()

    def runs(self) -> list[TaskRun]:
        out = []
        for path in sorted((self.root / "tasks").glob("*.json")):
            try:
                run = run_from_doc(orjson.loads(path.read_bytes()))
                self._saved[run.arn] = restart_key(run)
                out.append(run)
            except (orjson.JSONDecodeError, KeyError, TypeError):
                path.unlink()
        return out
