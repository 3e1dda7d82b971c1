"""The error contract of ARCHITECTURE.md §3: one body shape, one status per code."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from gamekeys_platform.request_context import current_request_id

STATUS_BY_CODE: dict[str, int] = {
    "INVALID_KEY_FORMAT": 400,
    "VALIDATION_ERROR": 422,
    "UNAUTHORIZED": 401,
    "FORBIDDEN": 403,
    "REGION_RESTRICTED": 403,
    "VPN_DETECTED": 403,
    "SUSPICIOUS_ACTIVITY": 403,
    "FRAUD_DETECTED": 403,
    "ACCOUNT_BLOCKED": 403,
    "RETAILER_NOT_AUTHORIZED": 403,
    # the key's studio is suspended by the platform: no redemption until it is reinstated
    "PUBLISHER_SUSPENDED": 403,
    "KEY_NOT_FOUND": 404,
    "NOT_FOUND": 404,
    "METHOD_NOT_ALLOWED": 405,
    "KEY_ALREADY_ACTIVATED": 409,
    "CONFLICT": 409,
    "INSUFFICIENT_KEY_ALLOCATION": 409,
    "KEY_EXPIRED": 410,
    "KEY_REVOKED": 410,
    "PAYLOAD_TOO_LARGE": 413,
    "IDEMPOTENCY_CONFLICT": 422,
    "RATE_LIMITED": 429,
    "INTERNAL_ERROR": 500,
    "GENERATION_FAILED": 500,
    "EXTERNAL_SERVICE_ERROR": 502,
    "DATABASE_ERROR": 503,
    "SERVICE_UNAVAILABLE": 503,
}


class ApiError(Exception):
    """An error a client sees: raise it anywhere in a request and the app renders §3's body.

    ``status`` defaults to the code's status; a few cases override it (malformed JSON is a
    400 VALIDATION_ERROR, a duplicate still in flight a 409 IDEMPOTENCY_CONFLICT).
    ``headers`` carries e.g. Retry-After.
    """

    def __init__(
        self,
        code: str,
        message: str,
        details: dict[str, Any] | None = None,
        *,
        status: int | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        if code not in STATUS_BY_CODE:
            raise ValueError(f"unknown error code {code!r}")
        super().__init__(message)
        self.code = code
        self.message = message
        self.details = details or {}
        self.status = status or STATUS_BY_CODE[code]
        self.headers = headers or {}

    def body(self) -> dict[str, Any]:
        return error_body(self.code, self.message, self.details)


def error_body(code: str, message: str, details: dict[str, Any] | None = None) -> dict[str, Any]:
    return {
        "error": {
            "code": code,
            "message": message,
            "details": details or {},
            "timestamp": utc_now_iso(),
            "requestId": current_request_id(),
        }
    }


def utc_now_iso() -> str:
    return format_timestamp(datetime.now(UTC))


def format_timestamp(moment: datetime) -> str:
    """ISO 8601 UTC with ``Z``, the only timestamp format on the wire."""
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def format_optional_timestamp(moment: datetime | None) -> str | None:
    """``format_timestamp``, or None for a moment that has not happened (a nullable column)."""
    return format_timestamp(moment) if moment is not None else None


def not_found(what: str = "resource") -> ApiError:
    return ApiError("NOT_FOUND", f"{what} not found")


def service_unavailable(
    message: str = "a dependency is unavailable, retry later", retry_after: int = 5
) -> ApiError:
    return ApiError("SERVICE_UNAVAILABLE", message, headers={"Retry-After": str(retry_after)})
