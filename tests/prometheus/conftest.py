"""The e2e fixtures (an agent on Docker of the test's own) for this folder's Docker test."""

from e2e.conftest import start_agent

__all__ = ["start_agent"]
