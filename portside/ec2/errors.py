"""EC2's errors: every one a `NamedError` carrying EC2's code, which the ec2 codec writes as
`<Response><Errors><Error>` (the model declares no error shapes).

Seen from EC2: `The vpc ID 'vpc-1' does not exist` (InvalidVpcID.NotFound, and the same form
for subnets, network interfaces, route tables and network ACLs), `The security group 'sg-1'
does not exist`, `The CIDR '10.0.1.0/24' conflicts with another subnet`, `The CIDR
'10.10.1.0/24' is invalid.` (InvalidSubnet.Range), `resource sg-1 has a dependent object`
(DependencyViolation), `the specified rule "peer: 0.0.0.0/0, TCP, from port: 22, to port: 22,
ALLOW" already exists`, `The specified rule does not exist in this security group.`, `Fields
for multiple attribute types specified: enableDnsSupport, enableDnsHostnames`
(InvalidParameterCombination), `Value ( 1 ) for parameter maxResults is invalid. Expecting a
value greater than 5.` Chosen without a sample, in the same style: the malformed-id texts, the
tag rules and the zone and filter messages.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from portside.api.validation import CoralDialect, Violation
from portside.errors import NamedError, RequestError


def not_found(code: str, what: str, ids: list[str]) -> NamedError:
    """`The vpc ID 'vpc-1' does not exist`, or for several `The vpc IDs 'vpc-1, vpc-2' do not
    exist`."""
    if len(ids) == 1:
        return NamedError(code, f"The {what} ID '{ids[0]}' does not exist")
    return NamedError(code, f"The {what} IDs '{', '.join(ids)}' do not exist")


def group_not_found(refs: list[str]) -> NamedError:
    shown = ", ".join(refs)
    return NamedError("InvalidGroup.NotFound", f"The security group '{shown}' does not exist")


def malformed(code: str, value: str, prefix: str) -> NamedError:
    return NamedError(code, f'Invalid id: "{value}" (expecting "{prefix}-...")')


def invalid_value(parameter: str, value: object, why: str) -> NamedError:
    return NamedError(
        "InvalidParameterValue", f"Value ({value}) for parameter {parameter} is invalid. {why}"
    )


def combination(message: str) -> NamedError:
    return NamedError("InvalidParameterCombination", message)


def missing(parameter: str) -> NamedError:
    return NamedError("MissingParameter", f"The request must contain the parameter {parameter}")


def dependency(message: str) -> NamedError:
    return NamedError("DependencyViolation", message)


def refuse_unsupported(p: Mapping[str, Any], members: Iterable[str], operation: str) -> None:
    """UnsupportedOperation for the first of `members` the request sets (IPv6, IPAM,
    Outposts: what Portside's networks do not have)."""
    for member in members:
        if p.get(member) not in (None, False):
            raise NamedError(
                "UnsupportedOperation", f"Portside does not support {member} on {operation}."
            )


def dry_run() -> NamedError:
    return NamedError(
        "DryRunOperation", "Request would have succeeded, but DryRun flag is set.", 412
    )


def _camel(name: str) -> str:
    return name[:1].lower() + name[1:]


class Ec2Dialect(CoralDialect):
    """How EC2 words a request the model refuses: a missing member is MissingParameter, any
    other fault InvalidParameterValue naming the parameter (first fault only)."""

    def report(self, faults: list[Violation]) -> RequestError:
        first = faults[0]
        name = _camel(first.leaf())
        if first.is_null:
            return missing(name)
        if first.enum is not None:
            return invalid_value(name, first.value, f"Expecting one of {', '.join(first.enum)}.")
        bound = first.constraint.rsplit(" ", 1)[-1]
        if "greater than" in first.constraint:
            return invalid_value(
                name, f" {first.value} ", f"Expecting a value greater than {bound}."
            )
        if "less than" in first.constraint:
            return invalid_value(name, f" {first.value} ", f"Expecting a value less than {bound}.")
        return invalid_value(name, first.value, first.constraint)
