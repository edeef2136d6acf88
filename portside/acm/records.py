"""Where ACM keeps certificates: one document per certificate ARN (`acm_certificates`)."""

from __future__ import annotations

CERTIFICATES = "acm_certificates"
