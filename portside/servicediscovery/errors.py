"""Cloud Map's errors: the model's shapes, with the messages Cloud Map gives.

Constraint faults are `InvalidInput` (the edge's validator words them; this class names the
code). Everything else is a `NamedError` with the shape's name."""

from __future__ import annotations

from portside.errors import NamedError, RequestError


class InvalidInput(RequestError):
    pass


def namespace_not_found(ref: str) -> NamedError:
    return NamedError("NamespaceNotFound", f"Namespace not found: {ref}")


def service_not_found(ref: str) -> NamedError:
    return NamedError("ServiceNotFound", f"Service not found: {ref}")


def instance_not_found(instance_id: str, service_id: str) -> NamedError:
    return NamedError(
        "InstanceNotFound", f"Instance {instance_id} not found in service {service_id}"
    )


def resource_in_use(message: str) -> NamedError:
    return NamedError("ResourceInUse", message)


def duplicate_request(operation_id: str) -> NamedError:
    return NamedError(
        "DuplicateRequest",
        f"CreatorRequestId was already used by the request of operation {operation_id}.",
    )
