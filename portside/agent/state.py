"""The agent's own durable state: its instance ARNs and every task run, so a restarted agent
re-registers as the same instance and re-adopts the containers it was running."""

from __future__ import annotations

import contextlib
import os
from pathlib import Path
from typing import Any

import orjson

from portside.agent.runner import TaskRun
from portside.model.doc import from_doc, to_doc


class AgentState:
    def __init__(self, root: Path) -> None:
        self.root = root
        (root / "tasks").mkdir(parents=True, exist_ok=True)

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
        self._write(self._task_path(run.arn), to_doc(run))

    def forget(self, arn: str) -> None:
        with contextlib.suppress(FileNotFoundError):
            self._task_path(arn).unlink()

    def runs(self) -> list[TaskRun]:
        out = []
        for path in sorted((self.root / "tasks").glob("*.json")):
            try:
                out.append(from_doc(TaskRun, orjson.loads(path.read_bytes())))
            except (orjson.JSONDecodeError, KeyError, TypeError):
                path.unlink()
        return out
