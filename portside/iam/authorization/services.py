"""What the other services' actions authorize: the resources the Service Authorization
Reference lists for the calls a task and its agent make (CloudWatch Logs, SSM Parameter
Store, ECR, Secrets Manager, KMS), and "*" for everything else.

- logs: a log group's actions on `arn:aws:logs:<r>:<a>:log-group:<name>:*` (CloudWatch Logs
  authorizes a log group as its ARN with `:*`, which is why policies name groups so), a log
  stream's (CreateLogStream, PutLogEvents, GetLogEvents, DeleteLogStream) on
  `...:log-group:<name>:log-stream:<stream>`, DescribeLogGroups on `...:log-group:*`.
- ssm: a parameter's actions on `arn:aws:ssm:<r>:<a>:parameter/<name without its leading
  slash and selector>`, GetParametersByPath on the path's parameter ARN.
- ecr: a repository's actions on `arn:aws:ecr:<r>:<registry>:repository/<name>`;
  GetAuthorizationToken on "*".
- secretsmanager: a secret's actions on its ARN (a name goes through the resolver; without
  one, `secret:<name>-??????`, AWS's six-character suffix as wildcards).
- kms: a key's actions on `key/<id>` (an ARN as is; an alias through the resolver, else its
  alias ARN).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from portside.iam.authorization.checks import NO_RESOLVER, Check, Resolver, request_tags, target
from portside.iam.policy.context import ANY, Target

P = Mapping[str, Any]

_LOG_STREAM_ACTIONS = frozenset(
    {"CreateLogStream", "PutLogEvents", "GetLogEvents", "DeleteLogStream"}
)


def _logs(operation: str, p: P, account: str, region: str, resolver: Resolver) -> list[Target]:
    base = f"arn:aws:logs:{region}:{account}:log-group:"
    group = p.get("logGroupName")
    if operation == "DescribeLogGroups":
        return [Target(base + "*")]
    if not isinstance(group, str):
        identifier = p.get("logGroupIdentifier") or p.get("resourceArn")
        if isinstance(identifier, str) and identifier.startswith("arn:"):
            return [target(identifier, resolver)]
        if not isinstance(identifier, str):
            return [ANY]
        group = identifier
    if operation in _LOG_STREAM_ACTIONS and isinstance(p.get("logStreamName"), str):
        return [Target(f"{base}{group}:log-stream:{p['logStreamName']}")]
    return [target(f"{base}{group}:*", resolver)]


def _parameter_arn(name: str, account: str, region: str) -> str:
    if name.startswith("arn:"):
        return name
    name = name.split(":", 1)[0]  # name:version / name:label selects a version, not a resource
    return f"arn:aws:ssm:{region}:{account}:parameter/{name.lstrip('/')}"


def _ssm(operation: str, p: P, account: str, region: str, resolver: Resolver) -> list[Target]:
    names = [n for n in p.get("Names") or () if isinstance(n, str)]
    if isinstance(p.get("Name"), str):
        names.append(p["Name"])
    if isinstance(p.get("Path"), str):
        names.append(p["Path"])
    if operation in ("AddTagsToResource", "RemoveTagsFromResource", "ListTagsForResource"):
        rid = p.get("ResourceId")
        names = [rid] if isinstance(rid, str) else []
    return [target(_parameter_arn(n, account, region), resolver) for n in names] or [ANY]


def _ecr(operation: str, p: P, account: str, region: str, resolver: Resolver) -> list[Target]:
    if operation == "GetAuthorizationToken":
        return [ANY]
    registry = p.get("registryId") or account
    names = [n for n in p.get("repositoryNames") or () if isinstance(n, str)]
    if isinstance(p.get("repositoryName"), str):
        names.append(p["repositoryName"])
    if isinstance(p.get("resourceArn"), str):
        return [target(p["resourceArn"], resolver, prefix="ecr")]
    arns = [f"arn:aws:ecr:{region}:{registry}:repository/{n}" for n in names]
    return [target(a, resolver, prefix="ecr") for a in arns] or [ANY]


def _secrets(operation: str, p: P, account: str, region: str, resolver: Resolver) -> list[Target]:
    ref = p.get("SecretId") or p.get("Name")
    if not isinstance(ref, str):
        return [ANY]
    arn = ref if ref.startswith("arn:") else resolver.arn_of("secretsmanager", ref)
    arn = arn or f"arn:aws:secretsmanager:{region}:{account}:secret:{ref}-??????"
    return [target(arn, resolver, prefix="secretsmanager")]


def _kms(operation: str, p: P, account: str, region: str, resolver: Resolver) -> list[Target]:
    ref = p.get("KeyId") or p.get("TargetKeyId")
    if not isinstance(ref, str):
        return [ANY]
    arn = ref if ref.startswith("arn:") else resolver.arn_of("kms", ref)
    if arn is None:
        kind = "" if ref.startswith("alias/") else "key/"
        arn = f"arn:aws:kms:{region}:{account}:{kind}{ref}"
    return [target(arn, resolver)]


_MAPPERS = {"logs": _logs, "ssm": _ssm, "ecr": _ecr, "secretsmanager": _secrets, "kms": _kms}
# Operations of those services that act on no one resource: "*".
_UNSCOPED = frozenset(
    {"DescribeParameters", "ListSecrets", "GetRandomPassword", "CreateKey", "ListKeys",
     "ListAliases", "GenerateRandom", "DescribeRepositories"}
)  # fmt: skip


def service_checks(
    prefix: str,
    operation: str,
    params: Mapping[str, Any],
    *,
    account: str,
    region: str,
    resolver: Resolver = NO_RESOLVER,
) -> list[Check]:
    """The check for `prefix:operation`: on the resources mapped above for logs, ssm, ecr,
    secretsmanager and kms, on "*" for every other service (with the request's tags as
    aws:RequestTag/aws:TagKeys where it sends them as Key/Value or key/value)."""
    mapper = _MAPPERS.get(prefix)
    if mapper is None or (operation in _UNSCOPED and not params.get("repositoryNames")):
        targets: list[Target] = [ANY]
    else:
        targets = mapper(operation, params, account, region, resolver)
    tags = params.get("Tags") if "Tags" in params else params.get("tags")
    keys = request_tags(tags, "Key", "Value") or request_tags(tags)
    if isinstance(tags, Mapping):  # logs' CreateLogGroup: {"tags": {"k": "v"}}
        keys = {f"aws:RequestTag/{k}": str(v) for k, v in tags.items()}
        keys["aws:TagKeys"] = list(tags)
    return [Check(f"{prefix}:{operation}", tuple(targets), keys)]
