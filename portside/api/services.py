"""The AWS services the endpoint serves: one `ServiceSpec` each, from its own module."""

from __future__ import annotations

from portside.api.registry import ServiceSpec


def default_services() -> list[ServiceSpec]:
    from portside.acm.api import SERVICE as ACM
    from portside.api import scheduler
    from portside.api.ecs import SERVICE as ECS
    from portside.api.events import SERVICE as EVENTS
    from portside.api.logs import SERVICE as LOGS
    from portside.applicationautoscaling.api import SERVICE as APPLICATION_AUTOSCALING
    from portside.autoscaling.api import SERVICE as AUTOSCALING
    from portside.cloudwatch.api import SERVICE as CLOUDWATCH
    from portside.codedeploy.api import SERVICE as CODEDEPLOY
    from portside.ec2.api import SERVICE as EC2
    from portside.ecr.api import SERVICE as ECR
    from portside.elb.api import SERVICE as ELB
    from portside.iam.api import SERVICE as IAM
    from portside.kms.api import SERVICE as KMS
    from portside.secretsmanager.api import SERVICE as SECRETS_MANAGER
    from portside.servicediscovery.api import SERVICE as SERVICE_DISCOVERY
    from portside.ssm.api import SERVICE as SSM
    from portside.sts.api import SERVICE as STS

    return [
        ECS,
        LOGS,
        EVENTS,
        scheduler.SERVICE,
        STS,
        ELB,
        ACM,
        KMS,
        SECRETS_MANAGER,
        SSM,
        ECR,
        EC2,
        IAM,
        CLOUDWATCH,
        SERVICE_DISCOVERY,
        APPLICATION_AUTOSCALING,
        AUTOSCALING,
        CODEDEPLOY,
    ]
