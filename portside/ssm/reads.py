"""GetParameter, GetParameters and GetParameterHistory: a parameter by name or ARN, a version
or a label's version by selector (`name:3`, `name:prod`).

GetParameters answers in name order (its documentation says so) and lists what it could
not find, as asked, in InvalidParameters: missing names, versions or labels, and names that
are none (ECS showed such a name, `/api//new-relic-license-key`, in its own "invalid ssm
parameters" message: HHS/simpler-grants-gov#4330).
"""

from __future__ import annotations

from typing import Any

from portside.errors import NamedError, RequestError, ValidationException
from portside.ops import paging
from portside.ops.context import Op
from portside.ssm import names, records, views
from portside.ssm.names import Ref
from portside.ssm.operations import action
from portside.store.base import Document, Tx

HISTORY_PAGE = 50
_MISSES = frozenset({"ParameterNotFound", "ParameterVersionNotFound"})


def invalid_token() -> NamedError:
    return NamedError("InvalidNextToken", "The specified token isn't valid.")


def found(op: Op, tx: Tx, ref: Ref) -> Document:
    """The parameter `ref` names; only the caller's account and region hold any here."""
    if (ref.account, ref.region) != (op.account, op.region):
        raise records.not_found()
    return records.load(tx, ref)


@action("GetParameter")
def get_parameter(op: Op, p: dict[str, Any]) -> dict[str, Any]:
    ref = names.parse(p["Name"], op.account, op.region)
    with op.store.read() as tx:
        doc = found(op, tx, ref)
        version = records.selected(tx, doc, ref)
        shown = views.parameter(op, tx, doc, version, bool(p.get("WithDecryption")), ref)
    return {"Parameter": shown}


def lookup_many(
    op: Op, tx: Tx, given: list[str], decrypt: bool
) -> tuple[dict[str, dict[str, Any]], list[str]]:
    """({name as given: the parameter it names}, [the names that named none])."""
    shown: dict[str, dict[str, Any]] = {}
    invalid: list[str] = []
    for text in dict.fromkeys(given):
        try:
            ref = names.parse(text, op.account, op.region)
            doc = found(op, tx, ref)
            version = records.selected(tx, doc, ref)
        except (ValidationException, NamedError) as fault:
            if not _is_miss(fault):
                raise
            invalid.append(text)
            continue
        shown[text] = views.parameter(op, tx, doc, version, decrypt, ref)
    return shown, invalid


def _is_miss(fault: RequestError) -> bool:
    return isinstance(fault, ValidationException) or fault.code in _MISSES


@action("GetParameters")
def get_parameters(op: Op, p: dict[str, Any]) -> dict[str, Any]:
    with op.store.read() as tx:
        shown, invalid = lookup_many(op, tx, p["Names"], bool(p.get("WithDecryption")))
    parameters = sorted(shown.values(), key=lambda item: str(item["Name"]))
    return {"Parameters": parameters, "InvalidParameters": invalid}


@action("GetParameterHistory")
def get_parameter_history(op: Op, p: dict[str, Any]) -> dict[str, Any]:
    ref = names.parse(p["Name"], op.account, op.region, selectors=False)
    size = p.get("MaxResults") or HISTORY_PAGE
    after = paging.decode_token(p.get("NextToken"), lambda token: invalid_token())
    if after and not after.isdigit():
        raise invalid_token()
    decrypt = bool(p.get("WithDecryption"))
    with op.store.read() as tx:
        doc = found(op, tx, ref)
        first = max(doc["Oldest"], int(after or 0) + 1)
        last = doc["Current"]["Version"]
        numbers = range(first, min(last, first + size - 1) + 1)
        versions = [
            views.history(op, tx, doc, records.version(tx, doc, n), decrypt) for n in numbers
        ]
    out: dict[str, Any] = {"Parameters": versions}
    if numbers and numbers[-1] < last:
        out["NextToken"] = paging.encode_token(str(numbers[-1]))
    return out
