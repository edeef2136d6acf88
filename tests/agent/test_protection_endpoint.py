"""The agent's task-protection endpoint's pure parts: the body read as the ECS agent's Go
decoder reads it, and ECS's answers in the agent's shapes."""

from __future__ import annotations

from portside.agent.metadata.protection import answer_of, decode, go_time

ARN = "arn:aws:ecs:us-east-1:000000000000:task/c/abc"


def test_decode_matches_members_without_case_and_refuses_others() -> None:
    assert decode(b'{"ProtectionEnabled": true, "ExpiresInMinutes": 60}') == (True, 60)
    assert decode(b'{"protectionEnabled": false}') == (False, None)
    assert decode(b"{}") == (None, None)
    assert decode(b"") == (None, None)
    assert decode(b'{"ProtectionEnabled": true, "Other": 1}') is None
    assert decode(b'{"ProtectionEnabled": "yes"}') is None
    assert decode(b'{"ExpiresInMinutes": 1.5}') is None
    assert decode(b"[1]") is None
    assert decode(b"{not json") is None


def test_answers_in_the_agent_shapes() -> None:
    task = {"taskArn": ARN, "protectionEnabled": True, "expirationDate": 1_700_000_000.5}
    protected = {"protectedTasks": [task], "failures": []}
    assert answer_of(protected) == (
        {
            "protection": {
                "ExpirationDate": "2023-11-14T22:13:20.5Z",
                "ProtectionEnabled": True,
                "TaskArn": ARN,
            }
        },
        200,
    )
    off = {"protectedTasks": [{"taskArn": ARN, "protectionEnabled": False}], "failures": []}
    assert answer_of(off)[0]["protection"]["ExpirationDate"] is None
    failed = {"protectedTasks": [], "failures": [{"arn": ARN, "reason": "TASK_NOT_VALID"}]}
    assert answer_of(failed) == (
        {"failure": {"Arn": ARN, "Detail": None, "Reason": "TASK_NOT_VALID"}},
        200,
    )
    assert go_time(1_700_000_000.0) == "2023-11-14T22:13:20Z"
