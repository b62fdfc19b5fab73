"""The clients' wire formats: error documents in each protocol, and what status a failure gets.

OpenAI: ``{"error": {"message", "type", "param", "code"}}``. Anthropic: ``{"type": "error",
"error": {"type", "message"}}``. Upstream failures map to statuses a client's retry logic
understands: a request the upstream rejected keeps its 4xx, rate limits are 429 with
``retry-after``, an unreachable or broken upstream is 502, a slow one 504, a managed backend
that would not start 503.
"""

from __future__ import annotations

import json
from typing import Any

ANTHROPIC_TYPES = {400: "invalid_request_error", 401: "authentication_error", 403: "permission_error",
                   404: "not_found_error", 413: "request_too_large", 429: "rate_limit_error", 503: "overloaded_error",
                   504: "api_error"}
OPENAI_TYPES = {400: "invalid_request_error", 401: "authentication_error", 403: "permission_error",
                404: "not_found_error", 413: "invalid_request_error", 429: "rate_limit_error"}
KIND_STATUS = {"rate_limit": 429, "timeout": 504, "unavailable": 503, "auth": 502, "server": 502,
               "connection": 502, "bad_response": 502, "config": 502, "process": 502, "cancelled": 499}


def error_body(protocol: str, status: int, message: str, param: str | None = None) -> bytes:
    if protocol == "anthropic":
        data: dict[str, Any] = {"type": "error", "error": {"type": ANTHROPIC_TYPES.get(status, "api_error"),
                                                           "message": message}}
    else:
        data = {"error": {"message": message, "type": OPENAI_TYPES.get(status, "api_error"), "param": param,
                          "code": None}}
    return json.dumps(data, ensure_ascii=False).encode()


def status_for(kind: str, upstream_status: int | None) -> int:
    """The client's status for a failed call: an upstream 4xx (not auth, not 429) is passed on."""
    if kind == "config" and upstream_status is not None and 400 <= upstream_status < 500:
        return upstream_status
    return KIND_STATUS.get(kind, 502)
