"""EventBridge rules and targets on the default bus: the only writer of their store rows."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

import orjson

from portside.errors import LimitExceededException, ResourceNotFoundException
from portside.events.errors import ValidationException
from portside.events.model import DEFAULT_BUS, ENABLED, Rule, Target, events_arn, target_key
from portside.events.patterns import compile_pattern
from portside.model.doc import from_doc, to_doc
from portside.ops import paging
from portside.ops.context import Op
from portside.ops.paging import encode_token
from portside.store.base import Tx

RULES = "event_rules"
TARGETS = "event_targets"
CURSORS = "event_cursors"
MAX_TARGETS = 5  # EventBridge's per-rule limit
_BUS_ARN = re.compile(r"^arn:aws[a-z-]*:events:[a-z0-9-]*:\d{12}:event-bus/(.+)$")
_DESTINATION_ARN = re.compile(r"^arn:aws[a-z-]*:events:([a-z0-9-]+):(\d{12}):api-destination/")


def decode_token(token: str | None) -> str:
    """A NextToken back to the key it resumes after (EventBridge's error when it is not one)."""
    return paging.decode_token(token, _invalid_token)


def _invalid_token(token: str) -> ValidationException:
    return ValidationException("The NextToken provided is invalid.")


def check_bus(name: str | None) -> None:
    """Only the default event bus exists."""
    bus = name or DEFAULT_BUS
    found = _BUS_ARN.match(bus)
    if (found.group(1) if found else bus) != DEFAULT_BUS:
        raise ResourceNotFoundException(f"Event bus {bus} does not exist.")


def rule_arn(op: Op, name: str) -> str:
    return events_arn(op.region, op.account, f"rule/{name}")


def load_rule(tx: Tx, op: Op, name: str) -> Rule:
    doc = tx.get(RULES, rule_arn(op, name))
    if doc is None:
        raise ResourceNotFoundException(f"Rule {name} does not exist on EventBus {DEFAULT_BUS}.")
    return from_doc(Rule, doc)


def _save(tx: Tx, rule: Rule) -> None:
    tx.put(RULES, rule.arn, to_doc(rule))


def _start_cursor(op: Op, tx: Tx, key: str) -> None:
    """A target delivers the events committed after this point (writers are serialised, so
    the last committed seq is the feed's head as this transaction sees it)."""
    tx.put(CURSORS, key, {"seq": op.store.last_seq()})


def _restart_cursors(op: Op, tx: Tx, rule: Rule) -> None:
    """A rule being enabled delivers only what happens from now on, as EventBridge does."""
    for key, *_ in tx.index(TARGETS, where={"rule": rule.arn}):
        _start_cursor(op, tx, key)


def put_rule(op: Op, p: Mapping[str, Any]) -> Rule:
    check_bus(p.get("EventBusName"))
    if p.get("ScheduleExpression"):
        raise ValidationException(
            "Portside does not run scheduled rules (ScheduleExpression); "
            "use EventBridge Scheduler's API (`aws scheduler create-schedule`) instead."
        )
    pattern = p.get("EventPattern")
    if not pattern:
        raise ValidationException(
            "Parameter(s) EventPattern or ScheduleExpression must be specified."
        )
    compile_pattern(pattern)
    name = p["Name"]
    with op.store.transaction() as tx:
        arn = rule_arn(op, name)
        old = tx.get(RULES, arn)
        rule = Rule(
            arn=arn,
            name=name,
            region=op.region,
            event_pattern=pattern,
            state=p.get("State") or ENABLED,
            description=p.get("Description"),
            role_arn=p.get("RoleArn"),
            created_by=op.account,
            tags=list(p.get("Tags") or (old or {}).get("tags") or []),
        )
        _save(tx, rule)
        if old is not None and rule.enabled and not from_doc(Rule, old).enabled:
            _restart_cursors(op, tx, rule)
    return rule


def describe_rule(op: Op, p: Mapping[str, Any]) -> Rule:
    check_bus(p.get("EventBusName"))
    with op.store.read() as tx:
        return load_rule(tx, op, p["Name"])


def list_rules(op: Op, p: Mapping[str, Any]) -> tuple[list[Rule], str | None]:
    check_bus(p.get("EventBusName"))
    limit = int(p.get("Limit") or 100)
    after = decode_token(p.get("NextToken"))
    prefix = rule_arn(op, p.get("NamePrefix") or "")
    with op.store.read() as tx:
        rows = list(tx.scan(RULES, prefix=prefix, after=after, limit=limit + 1))
    rules = [from_doc(Rule, doc) for _, doc in rows[:limit]]
    token = encode_token(rows[limit - 1][0]) if len(rows) > limit else None
    return rules, token


def set_state(op: Op, p: Mapping[str, Any], state: str) -> None:
    check_bus(p.get("EventBusName"))
    with op.store.transaction() as tx:
        rule = load_rule(tx, op, p["Name"])
        if rule.state != state:
            was_enabled = rule.enabled
            rule.state = state
            _save(tx, rule)
            if rule.enabled and not was_enabled:
                _restart_cursors(op, tx, rule)


def delete_rule(op: Op, p: Mapping[str, Any]) -> None:
    check_bus(p.get("EventBusName"))
    with op.store.transaction() as tx:
        arn = rule_arn(op, p["Name"])
        if tx.get(RULES, arn) is None:
            return  # EventBridge: deleting a rule that is not there succeeds
        if tx.count(TARGETS, where={"rule": arn}):
            raise ValidationException("Rule can't be deleted since it has targets.")
        tx.delete(RULES, arn)


# -- targets -----------------------------------------------------------------------------------


def _target_problem(op: Op, spec: Mapping[str, Any]) -> str | None:
    found = _DESTINATION_ARN.match(spec["Arn"])
    if found is None:
        return (
            f"Target {spec['Arn']} is not supported: Portside delivers to API destinations "
            "(arn:aws:events:REGION:ACCOUNT:api-destination/NAME/ID)."
        )
    if (found.group(1), found.group(2)) != (op.region, op.account):
        return f"Target {spec['Arn']} is not in this account and region."
    if sum(k in spec for k in ("Input", "InputPath", "InputTransformer")) > 1:
        return "Only one of Input, InputPath, or InputTransformer must be provided."
    if "InputTransformer" in spec:
        return "Portside does not support InputTransformer; use Input or InputPath."
    if "Input" in spec:
        try:
            orjson.loads(spec["Input"])
        except orjson.JSONDecodeError:
            return "Input is not valid JSON text."
    if "InputPath" in spec and not str(spec["InputPath"]).startswith("$"):
        return "InputPath is not a valid JSONPath."
    return None


def put_targets(op: Op, p: Mapping[str, Any]) -> list[dict[str, str]]:
    check_bus(p.get("EventBusName"))
    failed: list[dict[str, str]] = []
    with op.store.transaction() as tx:
        rule = load_rule(tx, op, p["Rule"])
        existing = {key for key, *_ in tx.index(TARGETS, where={"rule": rule.arn})}
        adding = {target_key(rule.arn, t["Id"]) for t in p["Targets"]}
        if len(existing | adding) > MAX_TARGETS:
            raise LimitExceededException(
                f"The requested resource exceeds the maximum number allowed ({MAX_TARGETS} "
                "targets per rule)."
            )
        for spec in p["Targets"]:
            problem = _target_problem(op, spec)
            if problem is not None:
                failed.append(
                    {
                        "TargetId": spec["Id"],
                        "ErrorCode": "ValidationException",
                        "ErrorMessage": problem,
                    }
                )
                continue
            target = Target(rule.arn, dict(spec))
            tx.put(TARGETS, target.key, {"ruleArn": rule.arn, "spec": target.spec})
            if target.key not in existing:
                _start_cursor(op, tx, target.key)
    return failed


def remove_targets(op: Op, p: Mapping[str, Any]) -> None:
    check_bus(p.get("EventBusName"))
    with op.store.transaction() as tx:
        rule = load_rule(tx, op, p["Rule"])
        for target_id in p["Ids"]:
            key = target_key(rule.arn, target_id)
            tx.delete(TARGETS, key)
            tx.delete(CURSORS, key)


def list_targets(op: Op, p: Mapping[str, Any]) -> tuple[list[Target], str | None]:
    check_bus(p.get("EventBusName"))
    limit = int(p.get("Limit") or 100)
    after = decode_token(p.get("NextToken"))
    with op.store.read() as tx:
        rule = load_rule(tx, op, p["Rule"])
        rows = list(tx.scan(TARGETS, prefix=rule.arn + "|", after=after, limit=limit + 1))
    targets = [Target(doc["ruleArn"], doc["spec"]) for _, doc in rows[:limit]]
    token = encode_token(rows[limit - 1][0]) if len(rows) > limit else None
    return targets, token


def load_targets(tx: Tx) -> list[Target]:
    return [Target(doc["ruleArn"], doc["spec"]) for _, doc in tx.scan(TARGETS)]


def load_rules(tx: Tx) -> list[Rule]:
    return [from_doc(Rule, doc) for _, doc in tx.scan(RULES)]
