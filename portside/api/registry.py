"""The one registry of AWS services on the endpoint, and how a request finds its service.

A service is a `ServiceSpec`: its botocore model, its operations (handlers taking the caller
and the canonical params, returning a canonical result) and a few limits. The registry builds
one codec per protocol the model lists and routes each request, on its head alone (method,
path, headers, query; never the body), to a service and a codec:

    POST / with X-Amz-Target                        json: by the target's prefix
    POST /service/<prefix>/operation/<Op>,
        Smithy-Protocol: rpc-v2-cbor                smithy-rpc-v2-cbor: by the path's prefix
    POST / form-encoded, or GET /?Action=...        query or ec2: by the credential scope's
                                                    service (the only thing that names it)
    any other path                                  rest-json: the credential's service's
                                                    routes (or every rest-json service's)
    POST / anything else                            json's UnknownOperationException

AWS tells services apart by host name; one endpoint serves them all here, so the signature's
scope stands in for the host where the protocol itself does not name the service.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any, cast
from urllib.parse import unquote

import botocore.session
from botocore.model import ServiceModel

from portside.api.protocols.base import Codec, WireRequest
from portside.api.protocols.json import CONTENT_TYPES
from portside.api.validation import CoralDialect, InputValidator
from portside.ops.context import Op

Handler = Callable[[Op, dict[str, Any]], dict[str, Any]]


class Operations(dict[str, Handler]):
    """A service's operations by name; its modules register them with `@ops.action(name)`."""

    def __init__(self, service: str) -> None:
        super().__init__()
        self.service = service

    def action(self, name: str) -> Callable[[Handler], Handler]:
        def register(fn: Handler) -> Handler:
            if name in self:
                raise RuntimeError(f"{self.service} action {name} registered twice")
            self[name] = fn
            return fn

        return register


DEFAULT_BODY_LIMIT = 1 << 20  # 1 MiB; a service may say otherwise
FORM = "application/x-www-form-urlencoded"

# Operations that only read run inline on the event loop: they are short SQLite reads, and a
# thread hop would cost more than most of them take. Writes (and heavy reads) go to a thread.
_READ_ONLY = ("Describe", "List", "Get", "Discover")

_CODECS = {
    "json": "portside.api.protocols.json:JsonCodec",
    "query": "portside.api.protocols.query:QueryCodec",
    "ec2": "portside.api.protocols.ec2:Ec2Codec",
    "rest-json": "portside.api.protocols.rest_json:RestJsonCodec",
    "smithy-rpc-v2-cbor": "portside.api.protocols.cbor:CborCodec",
}


@dataclass(frozen=True)
class ServiceSpec:
    """One AWS service as its folder declares it."""

    model_name: str  # botocore's name: "ecs", "logs", "sts", "elbv2"...
    handlers: Mapping[str, Handler]
    signing_name: str | None = None  # the credential scope's service; default from the model
    dialect: CoralDialect | None = None  # how validation faults are worded
    body_limit: int = DEFAULT_BODY_LIMIT
    heavy_reads: frozenset[str] = frozenset()  # reads that may take long: run in a thread
    protocols: tuple[str, ...] = ()  # default: every protocol the model lists


@dataclass
class Service:
    """A spec with its model, validator and codecs built."""

    spec: ServiceSpec
    model: ServiceModel
    signing_name: str
    validator: InputValidator
    codecs: dict[str, Codec] = field(default_factory=dict)

    def inline(self, operation: str) -> bool:
        return operation.startswith(_READ_ONLY) and operation not in self.spec.heavy_reads

    @cached_property
    def known(self) -> frozenset[str]:
        return frozenset(self.model.operation_names)


@dataclass(frozen=True, slots=True)
class Route:
    """Where a request goes: its service (None when the protocol is known but the service
    is not, so only an error can be written) and the codec that reads and answers it."""

    service: Service | None
    codec: Codec
    body_limit: int


def _codec(protocol: str, model: ServiceModel) -> Codec | None:
    module, _, name = _CODECS[protocol].partition(":")
    try:
        cls = getattr(importlib.import_module(module), name)
    except ModuleNotFoundError:
        return None  # a codec not written yet: the protocol is not served
    return cast(Codec, cls(model))


def _protocols(model: ServiceModel) -> list[str]:
    listed = model.metadata.get("protocols") or [model.metadata["protocol"]]
    return [p for p in listed if p in _CODECS]


def _credential_service(request: WireRequest) -> str | None:
    """The service a request's signature is scoped to, if it carries one."""
    auth = request.headers.get("authorization") or ""
    at = auth.find("Credential=")
    if at >= 0:
        scope = auth[at + 11 :].split(",", 1)[0].split("/")
    else:
        at = request.query.find("X-Amz-Credential=")
        if at < 0:
            return None
        scope = unquote(request.query[at + 17 :].split("&", 1)[0]).split("/")
    return scope[3] if len(scope) == 5 else None


class Registry:
    def __init__(self, specs: list[ServiceSpec]) -> None:
        session = botocore.session.get_session()
        self.services: list[Service] = []
        self._by_prefix: dict[str, Service] = {}
        self._by_cbor: dict[str, Service] = {}
        self._by_signing: dict[str, Service] = {}
        self._fallback: dict[str, Codec] = {}
        for spec in specs:
            model = session.get_service_model(spec.model_name)
            signing = (
                spec.signing_name
                or model.metadata.get("signingName")
                or model.metadata["endpointPrefix"]
            )
            service = Service(spec, model, signing, InputValidator(model, spec.dialect))
            for protocol in spec.protocols or _protocols(model):
                codec = _codec(protocol, model)
                if codec is None:
                    continue
                service.codecs[protocol] = codec
                self._fallback.setdefault(protocol, codec)
            if "json" in service.codecs:
                self._by_prefix[model.metadata["targetPrefix"]] = service
            if "smithy-rpc-v2-cbor" in service.codecs:
                self._by_cbor[model.metadata["targetPrefix"]] = service
            self._by_signing[signing] = service
            self.services.append(service)
        self._json_errors = self._fallback["json"]

    def service(self, model_name: str) -> Service:
        return next(s for s in self.services if s.spec.model_name == model_name)

    def route(self, request: WireRequest) -> Route | None:
        """The request's service and codec, or None when it is not an AWS API call (a path
        of Portside's own, or nothing at all: the caller answers 404/405)."""
        path, method = request.path, request.method
        if path == "/":
            # X-Amz-Target names a JSON service whatever the content type says (Coral then
            # refuses a body that is not AWS JSON); query calls never carry it.
            if method == "POST" and "x-amz-target" in request.headers:
                return self._json(request)
            if request.content_type == FORM or (method == "GET" and "Action=" in request.query):
                return self._query(request)
            if method == "POST":
                return Route(None, self._json_errors, DEFAULT_BODY_LIMIT)
            return None
        if path.startswith("/service/") and "smithy-protocol" in request.headers:
            prefix = path.split("/", 3)[2]
            service = self._by_cbor.get(prefix)
            if service is not None:
                return Route(service, service.codecs["smithy-rpc-v2-cbor"], service.spec.body_limit)
            fallback = self._fallback.get("smithy-rpc-v2-cbor")
            return Route(None, fallback, DEFAULT_BODY_LIMIT) if fallback else None
        if path.startswith("/_portside/"):
            return None
        return self._rest(request)

    def _json(self, request: WireRequest) -> Route:
        target = request.headers.get("x-amz-target") or ""
        service = self._by_prefix.get(target.rpartition(".")[0])
        if service is None or request.content_type not in CONTENT_TYPES:
            return Route(None, self._json_errors, DEFAULT_BODY_LIMIT)
        return Route(service, service.codecs["json"], service.spec.body_limit)

    def _query(self, request: WireRequest) -> Route | None:
        service = self._by_signing.get(_credential_service(request) or "")
        if service is not None:
            for protocol in ("query", "ec2"):
                codec = service.codecs.get(protocol)
                if codec is not None:
                    return Route(service, codec, service.spec.body_limit)
        fallback = self._fallback.get("query") or self._fallback.get("ec2")
        return Route(None, fallback, DEFAULT_BODY_LIMIT) if fallback else None

    def _rest(self, request: WireRequest) -> Route | None:
        # The signature's service first; then any service whose routes match, so a call
        # signed for the wrong service hears which one it should have been.
        named = self._by_signing.get(_credential_service(request) or "")
        candidates = [named, *self.services] if named is not None else self.services
        for service in candidates:
            codec = service.codecs.get("rest-json")
            if codec is not None and _matches(codec, request):
                return Route(service, codec, service.spec.body_limit)
        return None


def _matches(codec: Codec, request: WireRequest) -> bool:
    try:
        codec.operation(request)
    except Exception:
        return False
    return True
