"""Parameter names, paths, selectors, labels and ARNs, checked in Parameter Store's words.

A name is `foo` or a path `/a/b/foo` (letters, digits, `.`, `-`, `_`; up to 15 levels).
`/foo` and `foo` are one parameter (the user guide: "/TestParam1 and TestParam1 are not
unique"), so a parameter is kept under its name without the leading slash, and its ARN is
`arn:aws:ssm:REGION:ACCOUNT:parameter/` followed by that. Reads take `name:version` and
`name:label` selectors, and ARNs where AWS does (GetParameter, GetParameters,
GetParameterHistory).

Messages as AWS sends them:
* a bad name: ValidationException `Parameter name: can't be prefixed with "ssm" ...`, for any
  fault, not only the prefix (aws/aws-sdk-php#1952 and boto/boto3#1499 on PutParameter,
  localstack/localstack#7712 quoting AWS on GetParameter);
* a name beginning with `aws`: AccessDeniedException `No access to reserved parameter name:
  NAME.` (aws-solutions/quota-monitor-for-aws#30 on PutParameter,
  awslabs/aws-deployment-framework#119 on DeleteParameter);
* a bad path (GetParametersByPath, the Path filter): ValidationException `The parameter
  doesn't meet the parameter name requirements...`, with its backslashes around aws and ssm
  (aws-samples/resource-autotagger#1);
* too deep: HierarchyLevelLimitExceededException in the model's own words (no sample).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from portside.errors import AccessDeniedException, NamedError, ValidationException

NAME_RULES = (
    'Parameter name: can\'t be prefixed with "ssm" (case-insensitive). If formed as a path, '
    "it can consist of sub-paths divided by slash symbol; each sub-path can be formed as a mix "
    "of letters, numbers and the following 3 symbols .-_"
)
PATH_RULES = (
    "The parameter doesn't meet the parameter name requirements. The parameter name must begin "
    'with a forward slash "/". It can\'t be prefixed with \\"aws\\" or \\"ssm\\" '
    "(case-insensitive). It must use only letters, numbers, or the following symbols: . "
    "(period), - (hyphen), _ (underscore). Special characters are not allowed. All sub-paths, "
    'if specified, must use the forward slash symbol "/". Valid example: '
    "/get/parameters2-/by1./path0_."
)
DEPTH_RULE = (
    "A hierarchy can have a maximum of 15 levels. For more information, see Requirements and "
    "constraints for parameter names in the Amazon Web Services Systems Manager User Guide."
)
MAX_LEVELS = 15
MAX_NAME = 1011  # counting the ARN before the name (PutParameter's Name documentation)

_SEGMENT = r"[a-zA-Z0-9_.\-]+"
_NAME = re.compile(rf"(?:{_SEGMENT}|(?:/{_SEGMENT})+)")
_PATH = re.compile(rf"/|(?:/{_SEGMENT})+/?")
_ARN = re.compile(r"arn:aws[a-z-]*:ssm:([a-z0-9-]+):(\d{12}):parameter/(.+)")
_LABEL = re.compile(r"[a-zA-Z0-9_.\-]{1,100}")


def ident(name: str) -> str:
    """The parameter a name stands for: `/foo` and `foo` are the same one."""
    return name[1:] if name.startswith("/") else name


def arn(region: str, account: str, name: str) -> str:
    return f"arn:aws:ssm:{region}:{account}:parameter/{ident(name)}"


def _reserved(name: str, prefix: str) -> bool:
    return ident(name).lower().startswith(prefix)


@dataclass(frozen=True, slots=True)
class Ref:
    """A parameter as a request names it."""

    name: str  # without selector: `foo` or `/a/b`
    account: str
    region: str
    selector: str | None = None  # `3` (a version) or `prod` (a label)
    given_arn: str | None = None  # the ARN it was named by, selector removed

    @property
    def version(self) -> int | None:
        return int(self.selector) if self.selector and self.selector.isdigit() else None

    @property
    def label(self) -> str | None:
        return self.selector if self.selector and not self.selector.isdigit() else None

    @property
    def shown(self) -> str:
        """The name answers give back: the ARN when the caller used one (the ECS agent
        matches GetParameters' answers to its `valueFrom` by it)."""
        return self.given_arn or self.name


def parse(
    text: str, account: str, region: str, *, arns: bool = True, selectors: bool = True
) -> Ref:
    """The parameter `text` names in (account, region); ValidationException when it is no
    name. Surrounding spaces are dropped, as AWS does."""
    text = text.strip()
    name = text
    by_arn = arns and text.startswith("arn:")
    if by_arn:
        found = _ARN.fullmatch(text)
        if found is None:
            raise ValidationException(NAME_RULES)
        region, account, rest = found.groups()
        name = "/" + rest if "/" in rest.split(":", 1)[0] else rest
    selector = None
    if selectors and ":" in name:
        name, selector = name.split(":", 1)
        if not _LABEL.fullmatch(selector):
            raise ValidationException(NAME_RULES)
    if _NAME.fullmatch(name) is None or _reserved(name, "ssm"):
        raise ValidationException(NAME_RULES)
    return Ref(name, account, region, selector, arn(region, account, name) if by_arn else None)


def check_not_reserved(ref: Ref) -> None:
    """Names beginning with `aws` are AWS's own: no account writes or deletes them."""
    if _reserved(ref.name, "aws"):
        raise AccessDeniedException(f"No access to reserved parameter name: {ref.name}.")


def check_writable(ref: Ref) -> None:
    """What PutParameter adds to a name's rules: not reserved, at most 15 levels, at most
    1011 characters with the ARN before it."""
    check_not_reserved(ref)
    if len(ident(ref.name).split("/")) > MAX_LEVELS:
        raise NamedError("HierarchyLevelLimitExceededException", DEPTH_RULE)
    if len(arn(ref.region, ref.account, ref.name)) > MAX_NAME:
        raise ValidationException(
            f"1 validation error detected: Value '{ref.name}' at 'name' failed to satisfy "
            f"constraint: Member must have length less than or equal to {MAX_NAME}"
        )


def path_prefix(path: str) -> str:
    """The start every parameter below `path` has (as `ident` keeps names): "" for `/`,
    `a/b/` for `/a/b` or `/a/b/`. ValidationException for a path that is none."""
    if _PATH.fullmatch(path) is None or _reserved(path, "ssm"):
        raise ValidationException(PATH_RULES)
    inner = ident(path).rstrip("/")
    return inner + "/" if inner else ""


def below(name: str, prefix: str, recursive: bool) -> bool:
    """Whether parameter `name` is under the path whose prefix is `prefix`: at any depth,
    or (not recursive) directly."""
    own = ident(name)
    if not own.startswith(prefix):
        return False
    return recursive or "/" not in own[len(prefix) :]


def valid_label(label: str) -> bool:
    """LabelParameterVersion's rules: letters, digits, `.`, `-`, `_`, at most 100; not
    beginning with a digit, `aws` or `ssm`. A label that breaks them is refused, not an
    error (it comes back in InvalidLabels)."""
    lowered = label.lower()
    return (
        _LABEL.fullmatch(label) is not None
        and not label[0].isdigit()
        and not lowered.startswith(("aws", "ssm"))
    )
