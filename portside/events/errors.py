"""EventBridge's own error codes (the class name is the `__type` the caller sees); the codes
it shares with ECS (ResourceNotFoundException, LimitExceededException) come from
portside.errors."""

from __future__ import annotations

from portside.errors import RequestError


class InvalidEventPatternException(RequestError):
    pass


class ValidationException(RequestError):
    pass


class ResourceAlreadyExistsException(RequestError):
    pass
