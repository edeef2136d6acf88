"""iam:SimulatePrincipalPolicy and iam:SimulateCustomPolicy: the decision each action would
get on each resource, from the evaluator enforcement uses (`portside.iam.policy.evaluate`),
with the same policies it reads (`portside.iam.enforce.sources`).

- SimulatePrincipalPolicy: a user's policies (its groups' included), a group's or a role's,
  plus PolicyInputList; the entity's permissions boundary unless
  PermissionsBoundaryPolicyInputList gives one; PolicyExclusionList leaves policies out by
  name. The caller is the principal itself (aws:username, aws:PrincipalTag/... from it), or
  CallerArn.
- SimulateCustomPolicy: PolicyInputList alone, for CallerArn (or an anonymous caller of
  the account).
- ResourcePolicy is the resources' resource-based policy; ContextEntries supply the keys
  (each as its ContextKeyType says: a *List type is several values).

One EvaluationResult per action and resource (ResourceArns, default "*"), EvalDecision
`allowed`, `explicitDeny` or `implicitDeny`, MatchedStatements naming the statement that
decided (SourcePolicyId: the policy's name, SourcePolicyType: user, group, role,
aws-managed, user-managed, resource, none), paged by MaxItems/Marker.
"""

from __future__ import annotations

from typing import Any

from portside.iam import errors, principals, records
from portside.iam.enforce import identities, sources
from portside.iam.operations import action
from portside.iam.policy import (
    Caller,
    CompiledPolicy,
    ContextValue,
    Decision,
    MalformedPolicyDocument,
    Request,
    compile_policy,
    evaluate,
)
from portside.ops.context import Op

_PAGE = 100
_KINDS = ("user", "group", "role")
_BAD_ARN = "Invalid Entity Arn: {} does not clearly define entity type and name."


def _input(texts: Any, kind: str, prefix: str) -> list[tuple[CompiledPolicy, str]]:
    out: list[tuple[CompiledPolicy, str]] = []
    for i, text in enumerate(texts or (), start=1):
        name = f"{prefix}.{i}"
        try:
            out.append((compile_policy(str(text), kind, name=name), "none"))  # type: ignore[arg-type]
        except MalformedPolicyDocument as e:
            raise errors.malformed(str(e)) from None
    return out


def _context(entries: Any) -> dict[str, ContextValue]:
    out: dict[str, ContextValue] = {}
    for e in entries or ():
        values = [str(v) for v in e.get("ContextKeyValues") or ()]
        if str(e.get("ContextKeyType", "string")).endswith("List"):
            out[str(e["ContextKeyName"])] = values
        elif values:
            out[str(e["ContextKeyName"])] = values[0]
    return out


def _entity_sources(op: Op, arn: str) -> tuple[Caller, list[sources.Source], sources.Source | None]:
    """The caller an entity ARN stands for, its policies and boundary."""
    parts = arn.split(":", 5)
    kind, _, rest = parts[5].partition("/") if len(parts) == 6 else ("", "", "")
    name = rest.rsplit("/", 1)[-1]
    if parts[2:3] != ["iam"] or parts[4:5] != [op.account] or kind not in _KINDS or not name:
        raise errors.invalid(_BAD_ARN.format(arn))
    with op.store.read() as tx:
        doc = records.entity(tx, op.account, kind, name)  # type: ignore[arg-type]
        if doc is None:
            raise errors.no_such(f"The {kind} with name {name} cannot be found.")
        if kind == "group":
            found = sources.of_entity(tx, op.account, "group", name)
            return Caller(str(doc["Arn"]), op.account), found, None
        found = sources.of_principal(tx, op.account, kind, name)  # type: ignore[arg-type]
        bound = sources.boundary(tx, op.account, doc)
    identity = identities.load(op.store, str(doc["Arn"]), op.account)
    return identity.caller, found, bound


def _result(
    decision: Decision, action_name: str, resource: str, types: dict[str, str], bounded: bool
) -> dict[str, Any]:
    if decision.allowed:
        verdict = "allowed"
    elif decision.explicit_deny:
        verdict = "explicitDeny"
    else:
        verdict = "implicitDeny"
    matched = []
    statement = decision.statement
    if statement is not None:
        name = statement.policy_name or ""
        matched.append({"SourcePolicyId": name, "SourcePolicyType": types.get(name, "none")})
    out: dict[str, Any] = {
        "EvalActionName": action_name,
        "EvalResourceName": resource,
        "EvalDecision": verdict,
        "MatchedStatements": matched,
        "MissingContextValues": [],
    }
    if bounded:
        out["PermissionsBoundaryDecisionDetail"] = {
            "AllowedByPermissionsBoundary": not (
                not decision.allowed and decision.policy_type == "permissions boundary"
            )
        }
    return out


def _simulate(
    op: Op,
    p: dict[str, Any],
    caller: Caller,
    policies: list[tuple[CompiledPolicy, str]],
    boundary: CompiledPolicy | None,
) -> dict[str, Any]:
    types = {c.name or "": kind for c, kind in policies}
    resource_policy = None
    if p.get("ResourcePolicy"):
        try:
            resource_policy = compile_policy(p["ResourcePolicy"], "resource", name="ResourcePolicy")
        except MalformedPolicyDocument as e:
            raise errors.malformed(str(e)) from None
        types["ResourcePolicy"] = "resource"
    context = _context(p.get("ContextEntries"))
    identity = [c for c, _ in policies]
    results: list[dict[str, Any]] = []
    for action_name in p["ActionNames"]:
        for resource in p.get("ResourceArns") or ["*"]:
            request = Request.of(str(action_name), caller, [str(resource)], context, op.now())
            decision = evaluate(request, identity, resource_policy, boundary)
            results.append(
                _result(decision, str(action_name), str(resource), types, boundary is not None)
            )
    start = int(p["Marker"]) if str(p.get("Marker") or "").isdigit() else 0
    size = int(p.get("MaxItems") or _PAGE)
    page = results[start : start + size]
    out: dict[str, Any] = {"EvaluationResults": page, "IsTruncated": start + size < len(results)}
    if out["IsTruncated"]:
        out["Marker"] = str(start + size)
    return out


def _with_caller_arn(op: Op, p: dict[str, Any], default: Caller) -> Caller:
    arn = p.get("CallerArn")
    if not arn:
        return default
    if principals.identity(str(arn)) is None:
        raise errors.invalid(f"Invalid CallerArn: {arn}")
    return identities.load(op.store, str(arn), op.account).caller


@action("SimulatePrincipalPolicy")
def simulate_principal_policy(op: Op, p: dict[str, Any]) -> dict[str, Any]:
    caller, found, bound = _entity_sources(op, str(p["PolicySourceArn"]))
    excluded = {str(x) for x in p.get("PolicyExclusionList") or ()}
    policies = [
        (c, s.policy_type)
        for s in found
        if s.policy_id not in excluded and s.arn not in excluded
        for c in [s.compiled()]
        if c is not None
    ]
    policies += _input(p.get("PolicyInputList"), "identity", "PolicyInputList")
    boundary = bound.compiled() if bound is not None else None
    given = _input(p.get("PermissionsBoundaryPolicyInputList"), "identity", "PermissionsBoundary")
    if given:
        boundary = given[0][0]
    return _simulate(op, p, _with_caller_arn(op, p, caller), policies, boundary)


@action("SimulateCustomPolicy")
def simulate_custom_policy(op: Op, p: dict[str, Any]) -> dict[str, Any]:
    policies = _input(p.get("PolicyInputList"), "identity", "PolicyInputList")
    given = _input(p.get("PermissionsBoundaryPolicyInputList"), "identity", "PermissionsBoundary")
    anonymous = Caller(f"arn:aws:iam::{op.account}:user/simulated", op.account)
    caller = _with_caller_arn(op, p, anonymous)
    return _simulate(op, p, caller, policies, given[0][0] if given else None)
