"""The one error the policy language raises: `MalformedPolicyDocument`, IAM's code (HTTP 400)
for a document that is not a policy, carrying IAM's own words for what is wrong."""

from __future__ import annotations

from portside.errors import RequestError

SYNTAX = "Syntax errors in policy."


class MalformedPolicyDocument(RequestError):
    """A policy document that IAM would refuse; `message` is IAM's text for the fault."""
