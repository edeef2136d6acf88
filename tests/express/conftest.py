"""The e2e fixtures (a Docker agent of the module's own) for Express Mode's e2e test."""

from __future__ import annotations

from e2e.conftest import agent

__all__ = ["agent"]
