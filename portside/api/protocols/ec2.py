"""The `ec2` protocol: the query protocol with EC2's spelling (botocore's `EC2Serializer` and
`EC2QueryParser`).

* Fields: `queryName`, else the `locationName` capitalised; list items are `Name.N`.
* Replies: `<{Op}Response xmlns=...><requestId>..</requestId>` and the output's members
  straight under it, no Result wrapper; list items are `<item>` elements.
* Errors: `<Response><Errors><Error><Code/><Message/></Error></Errors><RequestID/></Response>`
  (the model declares no error shapes: every code is the error's own).

What EC2 answers to a request it cannot read (HTTP 400):

* No `Action`: `MissingAction` (query APIs' common errors, see query.py); an unknown one:
  `InvalidAction`, `The action X is not valid for this web service.` (cognitect-labs/aws-api#6,
  a client that sent `Action=:DescribeInstances`).
* A value not of its type: `InvalidParameterValue`, worded as EC2 words its range faults:
  `Value ( 1 ) for parameter maxResults is invalid. Expecting a value greater than 5.`
  (aws/aws-sdk-ruby#2575); the type-fault text is ours.
* A form that is not a form (bad percent escape, an index that is not a number):
  `InvalidQueryParameter`, "The AWS query string is malformed or does not adhere to AWS
  standards" (query APIs' common errors, e.g. RDS's CommonErrors page); chosen without a
  sample from EC2.
* `Version` is not checked: EC2 still answers requests dated with its older API versions at
  the same endpoint, and Portside reads them all with the one model it has.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from portside.api.protocols.base import WireReply
from portside.api.protocols.form import Ec2FormNames, FormFault, FormNames
from portside.api.protocols.query import QueryCodec
from portside.api.protocols.xml import escape
from portside.errors import NamedError, PortsideError

_XML = "text/xml"
_DECLARATION = '<?xml version="1.0" encoding="UTF-8"?>\n'


class Ec2Codec(QueryCodec):
    protocol = "ec2"
    names: FormNames = Ec2FormNames()
    list_item = "item"

    def _speaks(self, version: str) -> bool:
        return True

    def _unknown_action(self, action: str, version: str) -> PortsideError:
        return NamedError(
            "InvalidAction", f"The action {action} is not valid for this web service."
        )

    def _malformed(self, fault: FormFault) -> PortsideError:
        if fault.kind == "value":
            return NamedError(
                "InvalidParameterValue",
                f"Value ({fault.value}) for parameter {fault.path} is invalid. "
                f"Expecting a value of type {fault.expected}.",
            )
        where = f" ({fault.path})" if fault.path else ""
        return NamedError("InvalidQueryParameter", f"{fault.detail}{where}")

    def encode(self, operation: str, result: Mapping[str, Any], request_id: str) -> WireReply:
        out = [
            _DECLARATION,
            f'<{operation}Response xmlns="{self._namespace}">',
            f"<requestId>{escape(request_id)}</requestId>",
        ]
        self._result(self.model.operation_model(operation), result, out)
        out.append(f"</{operation}Response>")
        return WireReply(200, "".join(out).encode(), _XML)

    def error(self, exc: PortsideError, request_id: str) -> WireReply:
        code, status, _ = self._error_of(exc)
        body = (
            f"{_DECLARATION}<Response><Errors><Error><Code>{escape(code)}</Code>"
            f"<Message>{escape(exc.message)}</Message></Error></Errors>"
            f"<RequestID>{escape(request_id)}</RequestID></Response>"
        )
        return WireReply(status, body.encode(), _XML)
