"""Policy documents as IAM takes and gives them: checked on the way in, URL-encoded on the
way out, measured against IAM's size quotas.

The grammar is the policy language's (`portside.iam.policy.parse`, the same reading the
evaluator makes, with IAM's MalformedPolicyDocument texts): what IAM stores, enforcement
can read. IAM keeps a document's text as it was sent and answers with it percent-encoded
(`%7B%22Version%22...`: GetRole's AssumeRolePolicyDocument, GetPolicyVersion's Document,
Get*Policy's PolicyDocument); botocore decodes it back into a dict for its callers
(botocore/handlers.py `json_decode_policies`) and Terraform's provider unescapes it before
comparing documents by meaning.
"""

from __future__ import annotations

from urllib.parse import quote

from portside.iam import policy
from portside.iam.policy import Kind


def check(text: str, kind: Kind = "identity") -> str:
    """`text`, once it reads as a policy of `kind` (else MalformedPolicyDocument)."""
    policy.parse(text, kind)
    return text


def encode(text: str) -> str:
    """A document as IAM answers with it: every byte but letters, digits and -_.~ escaped
    (a space is %20, never +: botocore unquotes without turning + into a space)."""
    return quote(text, safe="-_.~")


def size(text: str) -> int:
    """A document's size as IAM counts it against its quotas: white space is not counted."""
    return sum(1 for c in text if not c.isspace())
