"""The caches every codec shares (compiled.py): per-shape functions, which recurse and are
published to other threads only whole, and per-operation plans."""

from __future__ import annotations

import threading
import time

import pytest

from portside.api.protocols.compiled import Built, Compiled, PerOperation, complete
from portside.errors import PortsideError


def test_a_recursive_function_finds_itself_while_it_compiles() -> None:
    compiled: Compiled[list[object]] = Compiled()

    def node() -> Built[list[object]]:
        children: list[object] = []
        return children, lambda: children.append(compiled.get("node", node))

    found = compiled.get("node", node)
    assert found[0] is found
    assert compiled.get("node", node) is found


def test_what_a_build_compiles_first_is_published_only_with_the_whole_graph() -> None:
    # A list compiles its item before it registers; when the graph fails further on,
    # nothing of it is kept, the item neither.
    compiled: Compiled[str] = Compiled()

    def broken() -> Built[str]:
        compiled.get("item", lambda: ("item", complete))

        def finish() -> None:
            raise RuntimeError("a member did not compile")

        return "list", finish

    with pytest.raises(RuntimeError):
        compiled.get("list", broken)
    assert compiled.get("item", lambda: ("item again", complete)) == "item again"
    assert compiled.get("list", lambda: ("list again", complete)) == "list again"


def test_another_thread_gets_a_function_only_once_it_is_whole() -> None:
    compiled: Compiled[list[str]] = Compiled()
    finishing = threading.Event()
    seen: list[list[str]] = []

    def slow() -> Built[list[str]]:
        members: list[str] = []

        def finish() -> None:
            finishing.set()
            time.sleep(0.2)  # the other thread asks meanwhile
            members.append("member")

        return members, finish

    def other() -> None:
        finishing.wait()
        seen.append(list(compiled.get("shape", lambda: (["another"], complete))))

    thread = threading.Thread(target=other)
    thread.start()
    compiled.get("shape", slow)
    thread.join()
    assert seen == [["member"]]


def test_each_operation_is_built_once_and_an_unknown_one_is_a_404() -> None:
    built: list[str] = []

    def build(operation: str) -> None:
        built.append(operation)  # None (an operation without input) is kept too

    plans: PerOperation[None] = PerOperation(frozenset({"Known"}), build)
    assert plans.get("Known") is None
    assert plans.get("Known") is None
    assert built == ["Known"]
    with pytest.raises(PortsideError) as caught:
        plans.get("Unknown")
    assert (caught.value.code, caught.value.status) == ("UnknownOperationException", 404)
    assert built == ["Known"]
