"""IAM action names for API calls: a service's signing name (the credential scope's service)
to its IAM service prefix, and `prefix:Operation`.

Most services sign with their IAM prefix (ecs, logs, ssm, kms, ecr, ec2, events, scheduler,
sts, iam, secretsmanager, acm, elasticloadbalancing, servicediscovery,
application-autoscaling); the exceptions are listed (CloudWatch signs as `monitoring` and is
`cloudwatch:` in IAM; SES signs as `email` and is `ses:`).
"""

from __future__ import annotations

SIGNING_TO_PREFIX = {"monitoring": "cloudwatch", "email": "ses"}


def iam_prefix(signing_name: str) -> str:
    """The IAM service prefix of the service that signs as `signing_name`."""
    return SIGNING_TO_PREFIX.get(signing_name, signing_name)


def iam_action(signing_name: str, operation: str) -> str:
    """The IAM action an API operation is authorized as (`ecs:RunTask`,
    `cloudwatch:PutMetricData`): every operation Portside serves is an action of its name."""
    return f"{iam_prefix(signing_name)}:{operation}"
