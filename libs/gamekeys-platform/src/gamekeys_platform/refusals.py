"""What a domain refuses, as plain exceptions in §3's vocabulary.

Domain modules and use cases raise these without knowing about HTTP or Flask; the service app
(``create_service_app``) answers a ``Refusal`` as the §3 error of its code, so a view does not
translate it, and a worker or consumer can catch it like any other exception. ``ApiError``
stays the API edge's own: nothing under ``domain/`` raises or subclasses it.
"""

from __future__ import annotations

from typing import Any

from gamekeys_platform.errors import STATUS_BY_CODE, ApiError


class Refusal(Exception):
    """A business rule refused: ``code`` is a §3 code (its HTTP status comes with it),
    ``details`` what a client needs to act (a ``reason`` naming the rule, the offending ids)."""

    def __init__(self, code: str, message: str, details: dict[str, Any] | None = None) -> None:
        if code not in STATUS_BY_CODE:
            raise ValueError(f"unknown error code {code!r}")
        super().__init__(message)
        self.code = code
        self.message = message
        self.details = details or {}

    def as_api_error(self, *, headers: dict[str, str] | None = None) -> ApiError:
        """The §3 error a client sees for this refusal (what the app and ``@idempotent`` answer)."""
        return ApiError(self.code, self.message, self.details, headers=headers)


class InvalidValue(ValueError):
    """One input value breaks a rule (a bad country code, a negative price...); the API's schemas
    report it against the field it came from as 422 VALIDATION_ERROR."""
