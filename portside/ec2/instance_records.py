"""Where EC2 keeps its instances, and how they are shown.

An instance is one document in `ec2_instances` under `ACCOUNT|REGION|ID`, in the Instance
shape DescribeInstances answers with, plus members of its own that start with `_` (never
shown):

    _State            the state's name, indexed (`state`): the loops read instances by state
    _Group            the Auto Scaling group's key when a group owns it, indexed (`grp`)
    _ReservationId, _OwnerId, _RequesterId   its reservation (one per RunInstances call)
    _Cluster, _Attributes, _UserData         what its agent is told (from the user data)
    _Host             the provider's word: "" until handed over, then its last HostState
    _ContainerInstanceArn                    once its agent registered
    _Asg              the group's view of it (LifecycleState, HealthStatus,
                      ProtectedFromScaleIn, LaunchTemplate...), for autoscaling/
    _EndedAt          when it reached terminated (kept an hour, then forgotten, as EC2 does)

States and codes are EC2's: pending 0, running 16, shutting-down 32, terminated 48,
stopping 64, stopped 80.
"""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Iterable
from typing import Any

from portside.errors import NamedError
from portside.ops.context import Op
from portside.store.base import Document, Tx

INSTANCES = "ec2_instances"
CODES = {
    "pending": 0,
    "running": 16,
    "shutting-down": 32,
    "terminated": 48,
    "stopping": 64,
    "stopped": 80,
}
LIVE = ("pending", "running")
KEEP_TERMINATED = 3600.0  # seconds a terminated instance stays visible
_ID = re.compile(r"^i-[0-9a-f]{8,17}$")


def scope_of(account: str, region: str) -> str:
    return f"{account}|{region}|"


def key_of(account: str, region: str, instance_id: str) -> str:
    return f"{account}|{region}|{instance_id}"


def key(op: Op, instance_id: str) -> str:
    return key_of(op.account, op.region, instance_id)


def new_instance_id(op: Op) -> str:
    return f"i-{op.world.new_id()[-17:]}"


def set_state(doc: Document, name: str, reason: str = "", message: str = "") -> None:
    """Move the instance to state `name`; `reason`: StateTransitionReason's text, `message`:
    StateReason's (its code is the message's first words)."""
    doc["State"] = {"Code": CODES[name], "Name": name}
    doc["_State"] = name
    if reason:
        doc["StateTransitionReason"] = reason
    if message:
        code = message.split(":", 1)[0]
        doc["StateReason"] = {"Code": code, "Message": message}


def state_of(doc: Document) -> str:
    return str(doc["_State"])


def shown(doc: Document) -> dict[str, Any]:
    out = {k: v for k, v in doc.items() if not k.startswith("_")}
    if not out.get("Tags"):
        out.pop("Tags", None)
    return out


def reservations(docs: Iterable[Document]) -> list[dict[str, Any]]:
    """Instances grouped by their reservation, in the order first met."""
    out: dict[str, dict[str, Any]] = {}
    for doc in docs:
        rid = doc["_ReservationId"]
        held = out.get(rid)
        if held is None:
            held = out[rid] = {
                "ReservationId": rid,
                "OwnerId": doc["_OwnerId"],
                "Groups": [],
                "Instances": [],
            }
            if doc.get("_RequesterId"):
                held["RequesterId"] = doc["_RequesterId"]
        held["Instances"].append(shown(doc))
    return list(out.values())


def check_id(instance_id: str) -> None:
    if not _ID.match(instance_id):
        raise NamedError(
            "InvalidInstanceID.Malformed", f'Invalid id: "{instance_id}" (expecting "i-...")'
        )


def not_found(ids: list[str]) -> NamedError:
    if len(ids) == 1:
        return NamedError(
            "InvalidInstanceID.NotFound", f"The instance ID '{ids[0]}' does not exist"
        )
    return NamedError(
        "InvalidInstanceID.NotFound", f"The instance IDs '{', '.join(ids)}' do not exist"
    )


def get_many(tx: Tx, op: Op, ids: Iterable[str]) -> list[Document]:
    """The instances of `ids` in the order given; every missing one named."""
    wanted = list(dict.fromkeys(ids))
    for instance_id in wanted:
        check_id(instance_id)
    found = [(i, tx.get(INSTANCES, key(op, i))) for i in wanted]
    gone = [i for i, doc in found if doc is None]
    if gone:
        raise not_found(gone)
    return [doc for _, doc in found if doc is not None]


def all_of(tx: Tx, op: Op) -> list[Document]:
    return [doc for _, doc in tx.scan(INSTANCES, prefix=scope_of(op.account, op.region))]


def put(tx: Tx, doc: Document) -> None:
    tx.put(INSTANCES, doc["_Key"], doc)


def user_data_text(doc: Document) -> str:
    encoded = doc.get("_UserData") or ""
    try:
        return base64.b64decode(encoded).decode("utf-8", "replace")
    except (binascii.Error, ValueError):
        return ""


def tag_map(doc: Document) -> dict[str, str]:
    return {t["Key"]: t.get("Value", "") for t in doc.get("Tags") or ()}
