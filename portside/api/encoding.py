"""Request bodies sent compressed: `Content-Encoding: gzip`.

Operations with the `requestcompression` trait (CloudWatch's PutMetricData) are gzipped by
the SDKs once the body passes a size (botocore: 10,240 bytes, `request_min_compression_size_
bytes`). The signature covers the bytes as sent, so the edge checks it over those and hands
the inflated body to the codec (inflated first: a query request names its action inside).
The inflated body is held to the service's body limit (413, as for a plain body too large),
so a small bomb inflates no further than a plain body may be; bytes that are not gzip are
the protocol's SerializationException.
"""

from __future__ import annotations

import dataclasses
import zlib

from portside.api.protocols.base import WireRequest
from portside.errors import NamedError, SerializationException


def decoded(request: WireRequest, limit: int) -> WireRequest:
    """`request` with its body inflated when it came gzipped; as it is otherwise."""
    encoding = (request.headers.get("content-encoding") or "").strip().lower()
    if not encoding or encoding == "identity":
        return request
    if encoding not in ("gzip", "x-gzip"):
        raise SerializationException(f"Content-Encoding {encoding} is not supported.")
    inflate = zlib.decompressobj(wbits=31)
    try:
        body = inflate.decompress(request.body, limit + 1)
    except zlib.error:
        raise SerializationException("The request body is not valid gzip.") from None
    if len(body) > limit or inflate.unconsumed_tail:
        raise NamedError(
            "RequestEntityTooLargeException",
            f"Request body is larger than the {limit} bytes this service accepts.",
            413,
        )
    return dataclasses.replace(request, body=body)
