"""A boto3 `scheduler` client on the session's server, with every response checked against
botocore's model: outputs by contract.check_output, errors as rest-json sends them (the code
in x-amzn-ErrorType, one the operation declares, with the model's HTTP status, and a body
that is {"Message": ...})."""

from __future__ import annotations

from typing import Any

import boto3
import orjson
from botocore.config import Config
from botocore.model import OperationModel
from contract import check_output
from harness import ACCESS_KEY, REGION, SECRET_KEY, ServerProcess

AUTH_ERRORS = {
    "InvalidSignatureException",
    "UnrecognizedClientException",
    "IncompleteSignatureException",
    "MissingAuthenticationTokenException",
}


def check_rest_error(status: int, headers: Any, body: Any, model: OperationModel) -> None:
    code = str(headers.get("x-amzn-ErrorType", "")).split(":", 1)[0]
    assert code, f"{model.name}: error without x-amzn-ErrorType ({status} {body!r})"
    assert isinstance(body, dict) and set(body) == {"Message"}, f"{model.name}: body {body!r}"
    assert isinstance(body["Message"], str) and body["Message"], f"{model.name}: empty message"
    if code in AUTH_ERRORS:
        assert status == 403, f"{code}: status {status}"
        return
    declared = {shape.name: shape for shape in model.error_shapes}
    assert code in declared or code == "SerializationException", (
        f"{model.name} does not declare {code}"
    )
    if code in declared:
        expected = declared[code].metadata["error"]["httpStatusCode"]
        assert status == expected, f"{code}: status {status}, the model says {expected}"


def attach_rest(client: Any) -> Any:
    def check(http_response: Any, model: OperationModel, **_: Any) -> None:
        raw = http_response.content
        body = orjson.loads(raw) if raw else {}
        if http_response.status_code < 300:
            check_output("scheduler", model.name, body)
        else:
            check_rest_error(http_response.status_code, http_response.headers, body, model)

    client.meta.events.register(
        "after-call.scheduler", check, unique_id=f"portside-rest-contract-{id(client)}"
    )
    return client


def scheduler_client(server: ServerProcess, **kwargs: Any) -> Any:
    client = boto3.client(
        "scheduler",
        endpoint_url=server.endpoint,
        region_name=kwargs.pop("region", REGION),
        aws_access_key_id=ACCESS_KEY,
        aws_secret_access_key=kwargs.pop("secret_key", SECRET_KEY),
        config=Config(retries={"max_attempts": 1}),
    )
    return attach_rest(client)
