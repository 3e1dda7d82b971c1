"""What every antifraud blueprint shares: the path prefix, who may call, the caller's name."""

from __future__ import annotations

from datetime import datetime

from gamekeys_platform.auth import current_principal
from gamekeys_platform.errors import ApiError

PREFIX = "/api/v1/antifraud"
ANALYZE_SCOPE = "fraud:analyze"
REVIEWERS = ("support", "admin")
ADMINS = ("admin",)


def actor() -> str:
    """Who is acting, as recorded on rule sets, decisions and blocks."""
    return current_principal().subject[:128]


def check_period(start: datetime, end: datetime, location: str) -> None:
    """``to`` after ``from``, or 422 naming ``to`` in the query or the body (``location``)."""
    if end <= start:
        raise ApiError(
            "VALIDATION_ERROR", "'to' must be after 'from'", {"fields": {location: {"to": ["before from"]}}}
        )
