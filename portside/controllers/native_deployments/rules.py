"""What a service's deployment configuration and load balancers must be for ECS's native
blue/green, linear and canary deployments, checked when CreateService or UpdateService
writes them. Ranges are the API reference's (LinearConfiguration, CanaryConfiguration,
DeploymentConfiguration.bakeTimeInMinutes, DeploymentLifecycleHook); the messages are ours
unless a comment says otherwise.

`fit` is pure (the configuration alone); `check_service` reads the load balancer's records.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import replace
from typing import Any

from portside.controllers.blue_green import shift
from portside.elb import registrations
from portside.elb.records import LISTENERS, RULES
from portside.errors import InvalidParameterException
from portside.model.deployment import DeploymentConfiguration
from portside.model.load_balancer import LoadBalancer
from portside.model.service import DAEMON, Service
from portside.store.base import Tx

ROLLING = "ROLLING"
BLUE_GREEN = "BLUE_GREEN"
LINEAR = "LINEAR"
CANARY = "CANARY"
NATIVE = frozenset({BLUE_GREEN, LINEAR, CANARY})
# DeploymentLifecycleHookStage: where a hook may run.
HOOK_STAGES = (
    "RECONCILE_SERVICE",
    "PRE_SCALE_UP",
    "POST_SCALE_UP",
    "TEST_TRAFFIC_SHIFT",
    "POST_TEST_TRAFFIC_SHIFT",
    "PRE_PRODUCTION_TRAFFIC_SHIFT",
    "PRODUCTION_TRAFFIC_SHIFT",
    "POST_PRODUCTION_TRAFFIC_SHIFT",
)
MAX_MINUTES = 1440  # every bake time: 0 to 1440 minutes
# The API reference's defaults.
LINEAR_STEP_PERCENT, LINEAR_STEP_MINUTES = 10.0, 6
CANARY_PERCENT, CANARY_MINUTES = 5.0, 10
HOOK_TIMEOUT_MINUTES, HOOK_TIMEOUT_ACTION = 1440, "ROLLBACK"


def strategy_of(config: DeploymentConfiguration) -> str:
    return config.strategy or ROLLING


def controller_of(service: Service) -> str:
    return str((service.deployment_controller or {}).get("type") or "ECS")


def is_native(service: Service) -> bool:
    """Deployed by the native engine: the ECS controller with a native strategy."""
    return controller_of(service) == "ECS" and strategy_of(service.deployment_configuration) in (
        NATIVE
    )


def is_native_doc(doc: Mapping[str, Any]) -> bool:
    """`is_native` on a service's stored document (the targets loop reads documents)."""
    controller = str((doc.get("deploymentController") or {}).get("type") or "ECS")
    strategy = (doc.get("deploymentConfiguration") or {}).get("strategy") or ROLLING
    return controller == "ECS" and strategy in NATIVE


# -- the configuration alone ----------------------------------------------------------------


def fit(given: DeploymentConfiguration, merged: DeploymentConfiguration) -> DeploymentConfiguration:
    """`merged` (the request's members over the service's) checked, without the stored
    members the new strategy has no use for (a LINEAR service switched to CANARY drops its
    linearConfiguration, unless the request gives it, which is then refused)."""
    strategy = strategy_of(merged)
    native = strategy in NATIVE
    if given.linear_configuration is not None and strategy != LINEAR:
        raise InvalidParameterException(
            "linearConfiguration can only be specified with the LINEAR deployment strategy."
        )
    if given.canary_configuration is not None and strategy != CANARY:
        raise InvalidParameterException(
            "canaryConfiguration can only be specified with the CANARY deployment strategy."
        )
    if given.lifecycle_hooks and not native:
        raise InvalidParameterException(
            "lifecycleHooks can only be specified with the BLUE_GREEN, LINEAR or CANARY "
            "deployment strategies."
        )
    _minutes("bakeTimeInMinutes", merged.bake_time_in_minutes)
    if strategy != LINEAR:
        merged = replace(merged, linear_configuration=None)
    else:
        linear = merged.linear_configuration or {}
        _percent("linearConfiguration.stepPercent", linear.get("stepPercent"), 3.0)
        _minutes("linearConfiguration.stepBakeTimeInMinutes", linear.get("stepBakeTimeInMinutes"))
    if strategy != CANARY:
        merged = replace(merged, canary_configuration=None)
    else:
        canary = merged.canary_configuration or {}
        _percent("canaryConfiguration.canaryPercent", canary.get("canaryPercent"), 0.1)
        _minutes(
            "canaryConfiguration.canaryBakeTimeInMinutes", canary.get("canaryBakeTimeInMinutes")
        )
    if not native:
        merged = replace(merged, lifecycle_hooks=None)
    for hook in merged.lifecycle_hooks or ():
        _check_hook(hook)
    return merged


def _minutes(name: str, value: Any) -> None:
    if value is not None and not 0 <= int(value) <= MAX_MINUTES:
        raise InvalidParameterException(f"{name} must be between 0 and {MAX_MINUTES} minutes.")


def _percent(name: str, value: Any, low: float) -> None:
    if value is None:
        return
    tenths = float(value) * 10
    if not low <= float(value) <= 100.0 or not math.isclose(tenths, round(tenths)):
        raise InvalidParameterException(
            f"{name} must be a multiple of 0.1 between {low} and 100.0."
        )


def _check_hook(hook: Mapping[str, Any]) -> None:
    kind = hook.get("targetType") or "AWS_LAMBDA"
    if kind == "AWS_LAMBDA" and not hook.get("hookTargetArn"):
        raise InvalidParameterException(
            "hookTargetArn must be specified for a lifecycle hook of target type AWS_LAMBDA."
        )
    stages = hook.get("lifecycleStages") or []
    if not stages:
        raise InvalidParameterException("A lifecycle hook must name at least one lifecycle stage.")
    for stage in stages:
        if stage not in HOOK_STAGES:
            raise InvalidParameterException(f"{stage} is not a valid lifecycle hook stage.")
    timeout = (hook.get("timeoutConfiguration") or {}).get("timeoutInMinutes")
    if timeout is not None and not 1 <= int(timeout) <= MAX_MINUTES:
        raise InvalidParameterException(
            f"timeoutConfiguration.timeoutInMinutes must be between 1 and {MAX_MINUTES}."
        )


def routing(config: DeploymentConfiguration) -> shift.Routing:
    """The production traffic shift, in the CodeDeploy engine's terms (shift.py): whole
    percents (a canary of less than 1 % sends 1 %)."""
    strategy = strategy_of(config)
    if strategy == LINEAR:
        linear = config.linear_configuration or {}
        step = float(linear.get("stepPercent") or LINEAR_STEP_PERCENT)
        minutes = linear.get("stepBakeTimeInMinutes")
        return shift.Routing(
            shift.LINEAR,
            max(1, round(step)),
            LINEAR_STEP_MINUTES if minutes is None else int(minutes),
        )
    if strategy == CANARY:
        canary = config.canary_configuration or {}
        share = float(canary.get("canaryPercent") or CANARY_PERCENT)
        minutes = canary.get("canaryBakeTimeInMinutes")
        return shift.Routing(
            shift.CANARY,
            min(100, max(1, round(share))),
            CANARY_MINUTES if minutes is None else int(minutes),
        )
    return shift.Routing(shift.ALL_AT_ONCE)


# -- the service and its load balancers -------------------------------------------------------


def pairs(balancers: Sequence[LoadBalancer]) -> list[tuple[str, str]]:
    """(target group, alternate target group) of each load balancer that has both."""
    out = []
    for lb in balancers:
        alt = (lb.advanced_configuration or {}).get("alternateTargetGroupArn")
        if lb.target_group_arn and alt:
            out.append((lb.target_group_arn, str(alt)))
    return out


def check_service(tx: Tx, service: Service) -> None:
    """A native strategy's needs: the ECS controller, REPLICA, and on every target group
    load balancer an advancedConfiguration with an alternate target group and a production
    listener rule that exist; advancedConfiguration only with a native strategy."""
    strategy = strategy_of(service.deployment_configuration)
    advanced = [lb for lb in service.load_balancers if lb.advanced_configuration]
    if strategy not in NATIVE:
        if advanced:
            raise InvalidParameterException(
                "advancedConfiguration can only be specified with the BLUE_GREEN, LINEAR or "
                "CANARY deployment strategies."
            )
        return
    if controller_of(service) != "ECS":
        raise InvalidParameterException(
            f"The {strategy} deployment strategy requires the ECS deployment controller."
        )
    if service.scheduling_strategy == DAEMON:
        raise InvalidParameterException(
            f"The {strategy} deployment strategy is not supported for services using the "
            "DAEMON scheduling strategy."
        )
    grouped = [lb for lb in service.load_balancers if lb.target_group_arn]
    if not grouped:
        raise InvalidParameterException(
            f"The {strategy} deployment strategy requires a load balancer with a target "
            "group and an advancedConfiguration."
        )
    for lb in grouped:
        _check_advanced(tx, lb, strategy)


def _check_advanced(tx: Tx, lb: LoadBalancer, strategy: str) -> None:
    config = lb.advanced_configuration or {}
    alt, prod = config.get("alternateTargetGroupArn"), config.get("productionListenerRule")
    if not alt or not prod:
        raise InvalidParameterException(
            f"The {strategy} deployment strategy requires an advancedConfiguration with "
            "alternateTargetGroupArn and productionListenerRule on each load balancer."
        )
    if alt == lb.target_group_arn:
        raise InvalidParameterException(
            "alternateTargetGroupArn must be different from targetGroupArn."
        )
    main = registrations.group(tx, str(lb.target_group_arn))
    other = registrations.group(tx, str(alt))
    if other is None:
        raise InvalidParameterException(f"The target group {alt} does not exist.")
    if main is not None and other.target_type != main.target_type:
        raise InvalidParameterException(
            f"The alternate target group {alt} has target type {other.target_type}; the "
            f"target group {lb.target_group_arn} has {main.target_type}."
        )
    for key in ("productionListenerRule", "testListenerRule"):
        rule = config.get(key)
        if rule is not None and not rule_exists(tx, str(rule)):
            raise InvalidParameterException(f"The listener rule {rule} ({key}) does not exist.")


def rule_exists(tx: Tx, arn: str) -> bool:
    """A listener rule (a listener's ARN also names its default rule)."""
    return tx.get(RULES, arn) is not None or tx.get(LISTENERS, arn) is not None
