"""STS's own error codes beyond the model's shapes: `ValidationError`, the code STS gives a
request that breaks a member's constraints (the edge's validator raises it) or a limit of
the call (a duration past the role's MaxSessionDuration, duplicate session tag keys)."""

from __future__ import annotations

from portside.errors import RequestError


class ValidationError(RequestError):
    """A request STS refuses as invalid (HTTP 400)."""
