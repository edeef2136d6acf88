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

from portside.api.protocols.form import Ec2FormNames, FormFault, FormNames
from portside.api.protocols.query import QueryCodec
from portside.errors import NamedError, PortsideError

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

    def _envelope(self, operation: str, request_id: str) -> tuple[str, str]:
        head = f'{_DECLARATION}<{operation}Response xmlns="{self._namespace}">'
        return f"{head}<requestId>{request_id}</requestId>", f"</{operation}Response>"

    def _error_text(self, code: str, sender: bool, message: str, request_id: str) -> str:
        return (
            f"{_DECLARATION}<Response><Errors><Error><Code>{code}</Code>"
            f"<Message>{message}</Message></Error></Errors>"
            f"<RequestID>{request_id}</RequestID></Response>"
        )
