"""CloudWatch's errors, by the query codes its API has always answered with.

CloudWatch left the query protocol for JSON and then CBOR but kept its query codes
(`awsQueryCompatible`): botocore reports `InvalidParameterValue`, not the shape's name, in all
three. So errors here are raised by those codes and `api/protocols/error_shapes.py` finds the
shape from them. The messages follow the ones CloudWatch gives (`The parameter Period must be
a multiple of 60.`, `The value AWS/X for parameter Namespace is invalid.`, the 1,440
datapoints message of GetMetricStatistics); where no sample was seen they are written in the
same style.
"""

from __future__ import annotations

from portside.errors import NamedError, RequestError


class ValidationError(RequestError):
    """The model's constraints broken (shape `ValidationException`, query code
    `ValidationError`): how the validator words a fault for CloudWatch."""


def invalid_value(message: str) -> NamedError:
    return NamedError("InvalidParameterValue", message)


def bad_value(value: object, parameter: str) -> NamedError:
    return invalid_value(f"The value {value} for parameter {parameter} is invalid.")


def missing(parameter: str) -> NamedError:
    return NamedError("MissingParameter", f"The parameter {parameter} is required.")


def combination(message: str) -> NamedError:
    return NamedError("InvalidParameterCombination", message)


def bad_token() -> NamedError:
    return NamedError("InvalidNextToken", "The service couldn't process the NextToken.")


def limit(message: str) -> NamedError:
    return NamedError("LimitExceeded", message)


def alarm_not_found(name: str) -> NamedError:
    return NamedError("ResourceNotFound", f"Could not find alarm {name}")


def resource_not_found(arn: str) -> NamedError:
    return NamedError("ResourceNotFoundException", f"The specified resource {arn} does not exist.")


def invalid_format(message: str) -> NamedError:
    return NamedError("InvalidFormat", message)
