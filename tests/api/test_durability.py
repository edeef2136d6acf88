"""kill -9 of the server after a burst of acknowledged writes loses none of them."""

from __future__ import annotations

import threading
from pathlib import Path

from harness import ServerProcess


def test_kill_9_loses_no_acknowledged_write(tmp_path: Path) -> None:
    server = ServerProcess(tmp_path / "data").start()
    acked: list[str] = []
    lock = threading.Lock()
    try:

        def burst(worker: int) -> None:
            ecs = server.client()
            for i in range(40):
                family = f"dur{worker}"
                arn = ecs.register_task_definition(
                    family=family,
                    containerDefinitions=[{"name": "c", "image": "busybox", "memory": 32}],
                )["taskDefinition"]["taskDefinitionArn"]
                ecs.create_cluster(clusterName=f"dur-{worker}-{i}")
                with lock:
                    acked.append(arn)
                    acked.append(f"cluster/dur-{worker}-{i}")

        threads = [threading.Thread(target=burst, args=(w,)) for w in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        server.kill()  # SIGKILL straight after the last acknowledgement
    finally:
        server.kill()

    again = ServerProcess(tmp_path / "data", server.port).start()
    try:
        ecs = again.client()
        for item in acked:
            if item.startswith("cluster/"):
                name = item.split("/", 1)[1]
                found = ecs.describe_clusters(clusters=[name])["clusters"]
                assert [c["status"] for c in found] == ["ACTIVE"], item
            else:
                td = ecs.describe_task_definition(taskDefinition=item)["taskDefinition"]
                assert td["taskDefinitionArn"] == item
        for w in range(4):
            revs = ecs.list_task_definitions(familyPrefix=f"dur{w}")["taskDefinitionArns"]
            assert len(revs) == 40
        # Revision numbers go on from where they stopped: nothing was reused.
        td = ecs.register_task_definition(
            family="dur0", containerDefinitions=[{"name": "c", "image": "busybox", "memory": 32}]
        )["taskDefinition"]
        assert td["revision"] == 41
    finally:
        again.stop()
