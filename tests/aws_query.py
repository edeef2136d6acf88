"""A boto3 client for a query-protocol service (ELBv2, ...) whose every successful reply is
held to the service's model: botocore's XML parser drops unknown elements, so what can be
checked is that required members are there and enum values are ones the SDKs know."""

from __future__ import annotations

from typing import Any

import boto3
from botocore.config import Config
from botocore.model import ListShape, OperationModel, Shape, StructureShape
from harness import ACCESS_KEY, REGION, SECRET_KEY, ServerProcess


def _problems(shape: Shape, value: Any, path: str) -> list[str]:
    found: list[str] = []
    if isinstance(shape, StructureShape) and isinstance(value, dict):
        for name in shape.required_members:
            if name not in value:
                found.append(f"{path}.{name}: required, missing")
        for name, item in value.items():
            if name in shape.members:
                found += _problems(shape.members[name], item, f"{path}.{name}")
    elif isinstance(shape, ListShape) and isinstance(value, list):
        for i, item in enumerate(value):
            found += _problems(shape.member, item, f"{path}[{i}]")
    elif getattr(shape, "enum", None) and value not in shape.enum:
        found.append(f"{path}: {value!r} is not one of {shape.enum}")
    return found


def query_client(server: ServerProcess, service: str) -> Any:
    client = boto3.client(
        service,
        endpoint_url=server.endpoint,
        region_name=REGION,
        aws_access_key_id=ACCESS_KEY,
        aws_secret_access_key=SECRET_KEY,
        config=Config(retries={"max_attempts": 1}),
    )

    def check(http_response: Any, parsed: Any, model: OperationModel, **_: Any) -> None:
        if http_response.status_code < 300 and model.output_shape is not None:
            problems = _problems(model.output_shape, parsed, model.name)
            assert not problems, "; ".join(problems)

    event = f"after-call.{client.meta.service_model.service_id.hyphenize()}"
    client.meta.events.register(event, check)
    return client
