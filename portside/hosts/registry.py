"""The providers a control plane's EC2 instances are started through, attached to its store
by the composition root (`server.py`); a store with none attached (a test's world) gets an
empty `Providers`, so every ImageId is refused as EC2 refuses an unknown AMI."""

from __future__ import annotations

import threading
import weakref

from portside.hosts.provider import Providers

_PROVIDERS: weakref.WeakKeyDictionary[object, Providers] = weakref.WeakKeyDictionary()
_LOCK = threading.Lock()


def attach(store: object, providers: Providers) -> None:
    with _LOCK:
        _PROVIDERS[store] = providers


def for_store(store: object) -> Providers:
    with _LOCK:
        found = _PROVIDERS.get(store)
        if found is None:
            found = _PROVIDERS[store] = Providers()
        return found
