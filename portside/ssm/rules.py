"""What PutParameter checks of a value and its settings, and what it keeps of the last version
(pure: no store).

Sizes: a Standard parameter's value holds 4096 characters, an Advanced one's 8192;
Intelligent-Tiering picks Standard when the value fits, Advanced else; an Advanced
parameter never goes back to Standard. An overwrite that leaves out Type, Description,
AllowedPattern, DataType, KeyId or Tier keeps the last version's. KeyId belongs to
SecureString alone: given with another type it is dropped, as AWS drops it
(hashicorp/terraform-provider-aws#21095: the key never reads back).

Messages seen from AWS: the 4096 one (aws/aws-sdk-net#3157), the downgrade one
(go-to-k/cdk-real-drift#408), the empty value one (crossplane-contrib/provider-upjet-aws#1559:
AWS leaves the value out of it). Chosen without a sample: the 8192 one (Coral's form),
AllowedPattern's two, the data type one and UnsupportedParameterType for `aws:ec2:image` on
a type other than String (AWS documents that data type for String parameters only).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from portside.api.validation import java_pattern
from portside.errors import NamedError, ValidationException

STANDARD_LIMIT = 4096
ADVANCED_LIMIT = 8192
DATA_TYPES = ("text", "aws:ec2:image")

STANDARD_TOO_BIG = (
    f"Standard tier parameters support a maximum parameter value of {STANDARD_LIMIT} "
    "characters. To create a larger parameter value, upgrade the parameter to use the "
    "advanced-parameter tier. For more information, see "
    "https://docs.aws.amazon.com/systems-manager/latest/userguide/parameter-store-advanced-parameters.html"
)
DOWNGRADE = (
    "This parameter uses the advanced-parameter tier. You can't downgrade a parameter from the "
    "advanced-parameter tier to the standard-parameter tier. If necessary, you can delete the "
    "advanced parameter and recreate it as a standard parameter."
)
TAGS_AND_OVERWRITE = (
    # hashicorp/terraform-provider-aws#18550, getmoto/moto#4283 (AWS's answer quoted).
    "Invalid request: tags and overwrite can't be used together. To create a parameter with "
    "tags, please remove overwrite flag. To update tags for an existing parameter, please use "
    "AddTagsToResource or RemoveTagsFromResource."
)
TYPE_REQUIRED = "A parameter type is required when you create a parameter."
ALREADY_EXISTS = (
    "The parameter already exists. To overwrite this value, set the overwrite option in the "
    "request to true."
)


def _value_fault(rule: str) -> ValidationException:
    return ValidationException(
        f"1 validation error detected: Value at 'value' failed to satisfy constraint: {rule}"
    )


@dataclass(frozen=True, slots=True)
class Settings:
    """A version's settings once the request and the last version are merged."""

    type: str
    key_id: str | None
    description: str | None
    allowed_pattern: str | None
    data_type: str
    tier: str


def merge(p: dict[str, Any], last: dict[str, Any] | None) -> Settings:
    """The new version's settings: the request's, else the last version's, else AWS's
    defaults; every rule on the value checked."""
    value: str = p["Value"]
    if value == "":
        raise _value_fault("Member must have length greater than or equal to 1")
    held = last or {}
    kind = p.get("Type") or held.get("Type")
    if kind is None:
        raise ValidationException(TYPE_REQUIRED)
    data_type = p.get("DataType") or held.get("DataType") or "text"
    if data_type not in DATA_TYPES:
        raise ValidationException(
            f"The following data type is not supported: {data_type} "
            "(Data type names are all lowercase.)"
        )
    if data_type == "aws:ec2:image" and kind != "String":
        raise NamedError("UnsupportedParameterType", "The parameter type isn't supported.")
    pattern = p["AllowedPattern"] if "AllowedPattern" in p else held.get("AllowedPattern")
    check_pattern(pattern or None, value)
    key_id = None
    if kind == "SecureString":
        key_id = p.get("KeyId") or (held.get("KeyId") if held.get("Type") == kind else None)
    description = p["Description"] if "Description" in p else held.get("Description")
    return Settings(
        type=kind,
        key_id=key_id,
        description=description or None,
        allowed_pattern=pattern or None,
        data_type=data_type,
        tier=tier(p.get("Tier"), held.get("Tier"), value),
    )


def check_pattern(pattern: str | None, value: str) -> None:
    """The whole value must match AllowedPattern (Java's `matches`)."""
    if pattern is None:
        return
    compiled = java_pattern(pattern)
    if compiled is None:
        raise NamedError(
            "InvalidAllowedPatternException",
            "The request doesn't meet the regular expression requirement.",
        )
    if compiled.fullmatch(value) is None:
        raise NamedError(
            "ParameterPatternMismatchException",
            f"Parameter value, cannot be validated against allowedPattern: {pattern}",
        )


def tier(requested: str | None, held: str | None, value: str) -> str:
    """The tier the version is stored in: what was asked (Intelligent-Tiering resolved), the
    last version's when nothing was, Standard for a new parameter."""
    chosen = requested or held or "Standard"
    if chosen == "Intelligent-Tiering":
        big = len(value) > STANDARD_LIMIT
        chosen = "Advanced" if big or held == "Advanced" else "Standard"
    if held == "Advanced" and chosen == "Standard":
        raise ValidationException(DOWNGRADE)
    if chosen == "Standard" and len(value) > STANDARD_LIMIT:
        raise ValidationException(STANDARD_TOO_BIG)
    if len(value) > ADVANCED_LIMIT:
        raise _value_fault(f"Member must have length less than or equal to {ADVANCED_LIMIT}")
    return chosen
