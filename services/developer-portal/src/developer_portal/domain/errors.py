"""Errors the domain rules raise: §3 errors, so a view can let them through unchanged."""

from __future__ import annotations

from typing import Any

from gamekeys_platform.errors import ApiError


class InvalidValue(ValueError):
    """One input value breaks a rule (a bad country code, a negative price...). The API's schemas
    turn it into 422 VALIDATION_ERROR naming the field, like any other schema violation."""


class DomainError(ApiError):
    """A business rule refused the change. ``reason`` names the rule for clients and tests."""

    def __init__(self, code: str, reason: str, message: str, **details: Any) -> None:
        super().__init__(code, message, {"reason": reason, **details})
        self.reason = reason


def conflict(reason: str, message: str, **details: Any) -> DomainError:
    return DomainError("CONFLICT", reason, message, **details)


def forbidden(reason: str, message: str, **details: Any) -> DomainError:
    return DomainError("FORBIDDEN", reason, message, **details)
