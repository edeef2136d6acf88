"""IAM users' access keys as the edge sees them: who a key belongs to (`lookup`), and a
key ring that asks the server's own keys first (the admin key: the account's root) and
IAM's after.

A key signs only while it is Active and its user exists; its principal is the user's ARN
as it is now (a user moved to another path signs with its new ARN).
"""

from __future__ import annotations

import threading

from portside.api.auth import KeyRing, SigningKey
from portside.iam import records
from portside.store.base import Store


def lookup(store: Store, access_key: str) -> SigningKey | None:
    """The signing key of an IAM user's access key, or None (unknown, inactive, or its user
    gone)."""
    if not access_key.startswith("AKIA"):
        return None  # not one IAM made: spare the read
    with store.read() as tx:
        doc = tx.get(records.ACCESS_KEYS, access_key)
        if doc is None or doc["Status"] != "Active":
            return None
        user = tx.get(records.USERS, doc["Owner"])
    if user is None:
        return None
    return SigningKey(doc["SecretAccessKey"], user["Arn"], doc["Account"])


class IamKeyRing:
    """`first` (the server's own keys), then IAM users' keys from the store.

    Keys found are kept until the store commits a change to access keys or users (the
    store's per-table change sequence says so without a read), so a signature costs no
    read of its own; a key made Inactive or deleted is refused from the next call on."""

    _WATCHED = (records.ACCESS_KEYS, records.USERS)
    _MAX = 4096

    def __init__(self, store: Store, first: KeyRing) -> None:
        self._store = store
        self._first = first
        self._found: dict[str, SigningKey] = {}
        self._valid_at = self._checked = store.last_seq()
        self._lock = threading.Lock()

    def lookup(self, access_key: str) -> SigningKey | None:
        key = self._first.lookup(access_key)
        if key is not None or not access_key.startswith("AKIA"):
            return key
        with self._lock:
            now = self._store.last_seq()
            # Nothing committed since the last check: what is kept still holds. Else ask
            # whether access keys or users changed; a change committing while we read is
            # seen next time (the kept keys are valid as of `now` at best).
            if now != self._checked:
                if self._store.wait(self._valid_at, 0, tables=self._WATCHED):
                    self._found.clear()
                    self._valid_at = now
                self._checked = now
            key = self._found.get(access_key)
        if key is not None:
            return key
        key = lookup(self._store, access_key)
        if key is not None:
            with self._lock:
                if len(self._found) >= self._MAX:
                    self._found.clear()
                self._found[access_key] = key
        return key
