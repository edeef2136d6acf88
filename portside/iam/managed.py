"""The AWS managed policies every account has (arn:aws:iam::aws:policy/...), read once from
the JSON files beside this module: each holds the policy's name, path, default version, the
date of that version and its document as AWS publishes it.

They are the same for every account and never change here, so nothing of them is stored;
what an account does with one (its attachments) is.
"""

from __future__ import annotations

import hashlib
import json
from datetime import datetime
from functools import cache
from pathlib import Path
from typing import Any

_FOLDER = Path(__file__).with_name("managed")
ACCOUNT = "aws"


class ManagedPolicy:
    """One AWS managed policy: what GetPolicy and GetPolicyVersion show of it."""

    def __init__(self, data: dict[str, Any]) -> None:
        self.name: str = data["PolicyName"]
        self.path: str = data["Path"]
        self.version: str = data["DefaultVersionId"]
        self.date = datetime.fromisoformat(data["CreateDate"].replace("Z", "+00:00")).timestamp()
        self.document: dict[str, Any] = data["Document"]
        self.text = json.dumps(self.document, indent=4)
        self.arn = f"arn:aws:iam::aws:policy{self.path}{self.name}"
        # Portside's own id, the same on every server (AWS's ids are not published with the
        # documents): ANPA and 17 characters of the name's digest.
        digest = hashlib.sha256(self.arn.encode()).hexdigest().upper()
        self.policy_id = "ANPA" + digest[:17]
        # A service-linked role's policy is not attachable to a customer's role.
        self.attachable = self.path != "/aws-service-role/"


@cache
def catalog() -> dict[str, ManagedPolicy]:
    """Every AWS managed policy by ARN."""
    out = {}
    for file in sorted(_FOLDER.glob("*.json")):
        policy = ManagedPolicy(json.loads(file.read_text()))
        out[policy.arn] = policy
    return out


def find(arn: str) -> ManagedPolicy | None:
    return catalog().get(arn)
