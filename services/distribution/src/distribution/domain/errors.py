"""What the domain refuses, in the §3 vocabulary; the API turns it into an ApiError."""

from __future__ import annotations

from typing import Any


class InvalidValue(ValueError):
    """A value out of its domain's bounds; the API reports it against the field it came from."""


class Refusal(Exception):
    def __init__(self, code: str, message: str, details: dict[str, Any] | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.details = details or {}
