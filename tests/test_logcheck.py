"""tests/logcheck.py: the check every test gets on the logs of the servers and agents it runs,
in processes of their own or in the test's."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import pytest
import suite_files
from fleet import register, start_agent, wait_until
from harness import ServerProcess
from logcheck import LOGS, LogWatch, entries

from portside.agent.simulated import SimulatedDriver

pytest_plugins = ["pytester"]

TB = 'Traceback (most recent call last):\n  File "x.py", line 1, in f\nValueError: boom\n'


def test_entries_are_headers_with_what_follows() -> None:
    text = (
        "stray line\n"
        "12:00:00 INFO    portside.server: up\n"
        "INFO:     Uvicorn running\n"
        "12:00:01 ERROR   portside.api: request 1 failed\n" + TB + "Error: cannot listen\n"
    )
    got = [(e.level, e.bad) for e in entries(text)]
    assert got == [
        (None, False),
        ("INFO", False),
        ("INFO", False),
        ("ERROR", True),
        ("ERROR", True),
    ]
    assert entries(text)[3].text.endswith("ValueError: boom\n")
    warning_with_tb = entries("12:00:00 WARNING portside.agent: retrying\n" + TB)
    assert warning_with_tb[0].bad


def test_a_check_reads_what_is_new_and_complete(tmp_path: Path) -> None:
    log = tmp_path / "server.log"
    log.write_text("12:00:00 ERROR   portside.x: before the watch\n")
    watch = LogWatch()
    watch.watch(log)
    assert watch.check([]) == []
    with log.open("a") as f:
        f.write("12:00:01 ERROR   portside.x: first\n12:00:02 ERROR   portside.x: half a li")
    assert [e.split("\n")[1] for e in watch.check([])] == ["12:00:01 ERROR   portside.x: first"]
    with log.open("a") as f:
        f.write("ne\n")
    assert len(watch.check([])) == 1  # the completed line, once


def test_the_rest_of_a_reported_entry_is_not_reported_again(tmp_path: Path) -> None:
    log = tmp_path / "server.log"
    log.touch()
    watch = LogWatch()
    watch.watch(log)
    log.write_text("12:00:01 ERROR   portside.api: request 1 failed\nTraceback (most rec")
    assert len(watch.check([])) == 1
    with log.open("a") as f:
        f.write(TB.split("\n", 1)[1])
    assert watch.check([]) == []


def test_an_allowance_holds_for_its_check_and_the_next(tmp_path: Path) -> None:
    log = tmp_path / "server.log"
    log.touch()
    watch = LogWatch()
    watch.watch(log)
    line = "12:00:01 ERROR   portside.api: request 1 failed: storage full\n"
    for _ in range(2):
        with log.open("a") as f:
            f.write(line)
        assert watch.check(["storage full"]) == []
    with log.open("a") as f:
        f.write(line)
    assert watch.check([]) == []  # carried over from the test before
    with log.open("a") as f:
        f.write(line)
    assert len(watch.check([])) == 1


def test_a_test_whose_log_holds_an_unexpected_error_fails(pytester: pytest.Pytester) -> None:
    suite_files.copy_into(pytester.path)
    pytester.makepyfile(
        test_provoked="""
        import pytest
        from logcheck import LOGS

        def write(tmp_path, text):
            log = tmp_path / "server.log"
            log.touch()
            LOGS.watch(log)
            with log.open("a") as f:
                f.write(text)

        def test_error(tmp_path):
            write(tmp_path, "12:00:00 ERROR   portside.x: boom\\n")

        def test_traceback(tmp_path):
            write(tmp_path, "Exception in thread t:\\nTraceback (most recent call last):\\n")

        def test_allowed(tmp_path, server_logs):
            server_logs.allow("boom")
            write(tmp_path, "12:00:00 ERROR   portside.x: boom\\n")

        @pytest.mark.allow_log("bang")
        def test_marked(tmp_path):
            write(tmp_path, "12:00:00 ERROR   portside.x: bang\\n")

        def test_info(tmp_path):
            write(tmp_path, "12:00:00 INFO    portside.x: fine\\n")
        """
    )
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider")
    result.assert_outcomes(passed=5, errors=2)
    result.stdout.fnmatch_lines(["*ERROR at teardown of test_error*", "*portside.x: boom*"])


class BrokenDriver(SimulatedDriver):
    def pull(self, image: str) -> str | None:
        raise RuntimeError("provoked: the driver broke")


def test_what_an_in_process_agent_logs_is_checked(
    server: ServerProcess, tmp_path: Path, name: str, in_process_logs: Path, server_logs: Any
) -> None:
    ecs = server.client()
    ecs.create_cluster(clusterName=name)
    agent = start_agent(server, tmp_path / "agent", name, driver=BrokenDriver())
    try:
        td = register(ecs, name)
        ecs.run_task(cluster=name, taskDefinition=td)  # its steps fail on the agent's pool
        wait_until(lambda: "provoked" in in_process_logs.read_text(), what="a step to fail")
        found = LOGS.check([])
    finally:
        agent.stop()
        server_logs.allow("provoked: the driver broke")  # the steps after
    assert found
    for entry in found:
        assert entry.startswith(f"{in_process_logs}:\n")
        assert " ERROR   portside.agent: task arn:aws:ecs:" in entry
        assert "step failed\nTraceback (most recent call last):" in entry
        assert entry.rstrip().endswith("RuntimeError: provoked: the driver broke")


def test_what_a_unit_test_logs_through_agent_code_is_its_own(in_process_logs: Path) -> None:
    logging.getLogger("portside.agent").error("a unit test's own provoked error")
    assert LOGS.check([]) == []
