"""ELB's names, ARNs and DNS names (pure).

ARNs as AWS forms them: `loadbalancer/app/NAME/ID`, `targetgroup/NAME/ID`,
`listener/app/LB/LBID/ID`, `listener-rule/app/LB/LBID/LISTENERID/ID` (16 hex digits each).
A listener's and a rule's ARN begin with their load balancer's path, so a load balancer's
listeners are a prefix scan.

DNS names follow AWS's shape under a local suffix instead of `amazonaws.com`:
`[internal-]NAME-ID.REGION.elb.portside.internal`, ID ten digits for an application load
balancer (as AWS's are) and sixteen hex digits for a network one.
"""

from __future__ import annotations

import re

from portside.elb.errors import ValidationError

PARTITION = "aws"
SERVICE = "elasticloadbalancing"
DNS_SUFFIX = "elb.portside.internal"
# Route 53 has no say here; one fixed made-up zone per type stands in for AWS's per-region ids.
HOSTED_ZONES = {"application": "ZPORTSIDEALB0001", "network": "ZPORTSIDENLB0001"}
TYPE_PATH = {"application": "app", "network": "net"}
PATH_TYPE = {v: k for k, v in TYPE_PATH.items()}

_NAME = re.compile(r"^[A-Za-z0-9-]*$")
_ARN = re.compile(
    r"^arn:aws[a-z-]*:elasticloadbalancing:([a-z0-9-]+):(\d{12}):"
    r"(loadbalancer|targetgroup|listener|listener-rule|truststore)/(.+)$"
)


def base(region: str, account: str) -> str:
    return f"arn:{PARTITION}:{SERVICE}:{region}:{account}:"


def lb_arn(region: str, account: str, lb_type: str, name: str, ident: str) -> str:
    return f"{base(region, account)}loadbalancer/{TYPE_PATH[lb_type]}/{name}/{ident}"


def tg_arn(region: str, account: str, name: str, ident: str) -> str:
    return f"{base(region, account)}targetgroup/{name}/{ident}"


def lb_path(arn: str) -> str:
    """`app/NAME/ID` of a load balancer ARN (or of a listener's or rule's)."""
    return "/".join(arn.split(":", 5)[5].split("/")[1:4])


def listener_arn(lb: str, ident: str) -> str:
    return f"{lb.split(':loadbalancer/')[0]}:listener/{lb_path(lb)}/{ident}"


def rule_arn(listener: str, ident: str) -> str:
    head, _, path = listener.partition(":listener/")
    return f"{head}:listener-rule/{path}/{ident}"


def listener_prefix(lb: str) -> str:
    """What every ARN of a load balancer's listeners begins with."""
    return f"{lb.split(':loadbalancer/')[0]}:listener/{lb_path(lb)}/"


def rule_prefix(listener: str) -> str:
    head, _, path = listener.partition(":listener/")
    return f"{head}:listener-rule/{path}/"


def lb_of(arn: str) -> str:
    """The load balancer ARN a listener or rule ARN belongs to."""
    head = ":".join(arn.split(":", 5)[:5])
    return f"{head}:loadbalancer/{lb_path(arn)}"


def listener_of(rule: str) -> str:
    head, _, path = rule.partition(":listener-rule/")
    return f"{head}:listener/{path.rsplit('/', 1)[0]}"


def kind(arn: str) -> str | None:
    """`loadbalancer`, `targetgroup`, `listener`, `listener-rule`, or None for no ELB ARN."""
    found = _ARN.match(arn)
    return found.group(3) if found else None


def check_arn(arn: str, want: str, what: str) -> None:
    if kind(arn) != want:
        raise ValidationError(f"'{arn}' is not a valid {what} ARN")


def dns_name(name: str, lb_type: str, scheme: str, region: str, ident: str) -> str:
    dns_id = str(int(ident, 16) % 10**10).rjust(10, "0") if lb_type == "application" else ident
    internal = "internal-" if scheme == "internal" else ""
    return f"{internal}{name}-{dns_id}.{region}.{DNS_SUFFIX}"


def check_lb_name(name: str) -> None:
    _check_name(name, "Load balancer", " character")
    if name.lower().startswith("internal-"):
        raise ValidationError("Load balancer name cannot start with 'internal-'")


def check_tg_name(name: str) -> None:
    _check_name(name, "Target group", "")


def _check_name(name: str, what: str, hyphen_tail: str) -> None:
    """ELB's rules for a load balancer's or target group's name; `hyphen_tail` ends the
    message on a leading or trailing hyphen, which ELB words differently for each."""
    if len(name) > 32:
        raise ValidationError(f"{what} name '{name}' cannot be longer than '32' characters")
    if not name or not _NAME.match(name):
        raise ValidationError(
            f"{what} name '{name}' can only contain characters that are alphanumeric "
            "characters or hyphens(-)"
        )
    if name.startswith("-") or name.endswith("-"):
        raise ValidationError(f"{what} name '{name}' cannot begin or end with '-'{hyphen_tail}")
