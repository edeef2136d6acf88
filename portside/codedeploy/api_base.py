"""The table of CodeDeploy actions: each codedeploy module registers its handlers here."""

from __future__ import annotations

from portside.api.registry import Operations

ACTIONS = Operations("CodeDeploy")
