"""The AWS `query` protocol (STS, IAM, ELBv2, Auto Scaling, CloudWatch): form fields in,
XML out. `ec2.py` is its variant: a subclass with EC2's names, wording and envelopes.

What the real services answer to a request they cannot read (HTTP 400, `Type` Sender):

* No `Action`: `MissingAction` (the common errors of every query API reference, e.g.
  docs.aws.amazon.com/AmazonRDS/latest/APIReference/CommonErrors.html).
* An `Action` the service does not have, or a `Version` it does not speak: `InvalidAction`,
  `Could not find operation X for version Y` (STS's wording, as gaul/s3proxy's STS answers
  it: src/main/java/org/gaul/s3proxy/sts/StsHandler.java).
* A form the service cannot read as the operation's input: `MalformedInput`, the code of the
  Coral query front end; SQS answered `MalformedInput: 0 is not a valid index`
  (rusoto/rusoto#324) and `MalformedInput: Start of list found where not expected`
  (rusoto/rusoto#586). Chosen without a sample: the same code for a bad percent escape and
  for a value not of its type (the wording of that message is ours). A missing `Version` is
  accepted as the model's.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping
from typing import Any

from botocore.model import OperationModel, ServiceModel

from portside.api.protocols.base import WireReply, WireRequest
from portside.api.protocols.error_shapes import ErrorShapes
from portside.api.protocols.form import FormFault, FormNames, form_tree, parse_form
from portside.api.protocols.form_reader import FormReader
from portside.api.protocols.xml import XmlWriter, escape
from portside.errors import NamedError, PortsideError

_FORM = "application/x-www-form-urlencoded"
_CONTROL = frozenset({"Action", "Version"})
# The edge's authentication errors carry the JSON services' names; query and EC2 services
# name the same faults differently (STS's and EC2's API references, "Common Errors").
QUERY_AUTH_CODES = {
    "MissingAuthenticationTokenException": "MissingAuthenticationToken",
    "InvalidSignatureException": "SignatureDoesNotMatch",
    "IncompleteSignatureException": "IncompleteSignature",
    "UnrecognizedClientException": "InvalidClientTokenId",
    "ExpiredTokenException": "ExpiredToken",
}
_XML = "text/xml"


class _LastForm(threading.local):
    """The form of the request this thread read last: `operation` and `decode` are called
    one after the other on the same request, and it is parsed once."""

    request: WireRequest | None = None
    fields: dict[str, str] | None = None


class QueryCodec:
    protocol = "query"
    names: FormNames = FormNames()
    list_item = "member"  # the element of a list item without a locationName

    def __init__(self, model: ServiceModel) -> None:
        self.model = model
        self._version = str(model.metadata.get("apiVersion", ""))
        self._namespace = escape(str(model.metadata.get("xmlNamespace", "")))
        self._operations = frozenset(model.operation_names)
        self._reader = FormReader(self.names)
        self._writer = XmlWriter(self.list_item)
        self._last = _LastForm()
        self._errors = ErrorShapes(model, QUERY_AUTH_CODES)

    # -- requests ---------------------------------------------------------------------------

    def operation(self, request: WireRequest) -> str:
        fields = self._fields(request)
        action = fields.get("Action")
        if not action:
            raise NamedError("MissingAction", "Missing Action")
        version = fields.get("Version", self._version)
        if action not in self._operations or not self._speaks(version):
            raise self._unknown_action(action, version)
        return action

    def decode(self, request: WireRequest, operation: str) -> dict[str, Any]:
        if operation not in self._operations:
            raise self._unknown_action(operation, self._version)
        shape = self.model.operation_model(operation).input_shape
        fields = self._fields(request)
        self._last.request = self._last.fields = None  # keep no body past its request
        if shape is None:
            return {}
        try:
            params: dict[str, Any] = self._reader.reader(shape)(form_tree(fields, _CONTROL))
        except FormFault as fault:
            raise self._malformed(fault) from None
        return params

    def _fields(self, request: WireRequest) -> dict[str, str]:
        last = self._last
        if last.request is request and last.fields is not None:
            return last.fields
        try:
            # Parameters may come in the query string (GET, presigned URLs, and POSTs that
            # put them there) and in a form body; the body's win.
            fields = parse_form(request.query) if request.query else {}
            if request.body and request.content_type in (_FORM, ""):
                fields.update(parse_form(request.body.decode("utf-8")))
        except UnicodeDecodeError:
            raise self._malformed(FormFault("syntax", "The form is not UTF-8")) from None
        except FormFault as fault:
            raise self._malformed(fault) from None
        last.request, last.fields = request, fields
        return fields

    # -- protocol wording (ec2.py overrides) -------------------------------------------------

    def _speaks(self, version: str) -> bool:
        return version == self._version

    def _unknown_action(self, action: str, version: str) -> PortsideError:
        return NamedError(
            "InvalidAction", f"Could not find operation {action} for version {version}"
        )

    def _malformed(self, fault: FormFault) -> PortsideError:
        if fault.kind == "value":
            text = (
                f"Value '{fault.value}' at '{fault.path}' can not be converted to {fault.expected}"
            )
        elif fault.kind == "nesting" and fault.path:
            text = f"{fault.detail} at '{fault.path}'"
        else:
            text = fault.detail
        return NamedError("MalformedInput", text)

    # -- replies ----------------------------------------------------------------------------

    def encode(self, operation: str, result: Mapping[str, Any], request_id: str) -> WireReply:
        head, tail = self._envelope(operation, escape(request_id))
        out = [head]
        self._result(self.model.operation_model(operation), result, out)
        out.append(tail)
        return WireReply(200, "".join(out).encode(), _XML)

    def _envelope(self, operation: str, request_id: str) -> tuple[str, str]:
        """What a reply's result stands between (ec2.py has EC2's envelopes)."""
        return (
            f'<{operation}Response xmlns="{self._namespace}">',
            f"<ResponseMetadata><RequestId>{request_id}</RequestId></ResponseMetadata>"
            f"</{operation}Response>",
        )

    def _result(self, operation: OperationModel, result: Mapping[str, Any], out: list[str]) -> None:
        shape = operation.output_shape
        if shape is None:
            return
        write = self._writer.content(shape)
        # botocore's QueryParser looks for the result under `resultWrapper` (every query
        # model names `{Op}Result`) and reads it from the root element when there is none.
        wrapper = shape.serialization.get("resultWrapper")
        if wrapper:
            out.append(f"<{wrapper}>")
            write(result, out)
            out.append(f"</{wrapper}>")
        else:
            write(result, out)

    def error(self, exc: PortsideError, request_id: str) -> WireReply:
        """An error shape of the model answers with its `awsQueryError` code and status
        (botocore matches `client.exceptions` on that code)."""
        shape, status = self._errors.answer(exc)
        code, message = escape(shape.query_code), escape(exc.message)
        body = self._error_text(code, shape.sender, message, escape(request_id))
        return WireReply(status, body.encode(), _XML)

    def _error_text(self, code: str, sender: bool, message: str, request_id: str) -> str:
        return (
            f'<ErrorResponse xmlns="{self._namespace}"><Error>'
            f"<Type>{'Sender' if sender else 'Receiver'}</Type>"
            f"<Code>{code}</Code><Message>{message}</Message>"
            f"</Error><RequestId>{request_id}</RequestId></ErrorResponse>"
        )
