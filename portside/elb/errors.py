"""ELB's errors. The model's error shapes are raised as `NamedError` with their query code
(the edge writes `<ErrorResponse>` with it); a constraint fault is `ValidationError`, the code
ELB gives every malformed request.

Wording follows ELB's answers where they are known (`One or more load balancers not found`,
`A listener already exists on this port for this load balancer '...'`, `Priority '10' is
currently in use`); chosen without a sample where none was found, in the same style.
"""

from __future__ import annotations

from portside.errors import NamedError, RequestError


class ValidationError(RequestError):
    """ELB's code for a request it cannot accept as written."""


def lb_not_found(message: str = "One or more load balancers not found") -> NamedError:
    return NamedError("LoadBalancerNotFound", message)


def tg_not_found(message: str = "One or more target groups not found") -> NamedError:
    return NamedError("TargetGroupNotFound", message)


def listener_not_found(message: str = "One or more listeners not found") -> NamedError:
    return NamedError("ListenerNotFound", message)


def rule_not_found(message: str = "One or more rules not found") -> NamedError:
    return NamedError("RuleNotFound", message)


def certificate_not_found(arn: str) -> NamedError:
    return NamedError("CertificateNotFound", f"Certificate '{arn}' not found")


def not_permitted(message: str) -> NamedError:
    return NamedError("OperationNotPermitted", message)
