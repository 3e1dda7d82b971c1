"""What the public and internal views share: the period a query asks for, and translating
the domain's refusals into §3 errors."""

from __future__ import annotations

from datetime import UTC, datetime

from analytics.domain.reports import InvalidPeriod, Period
from gamekeys_platform.errors import ApiError

PERIOD_ERRORS = {422: "VALIDATION_ERROR: from, to or tz cannot make a period (details.fields)"}


def period_of(args: dict) -> Period:
    try:
        return Period.of(args.get("from_"), args.get("to"), args.get("tz"), now=datetime.now(UTC))
    except InvalidPeriod as exc:
        raise ApiError(
            "VALIDATION_ERROR",
            "the period cannot be reported",
            {"fields": {"query": {exc.field: [str(exc)]}}},
        ) from None


def game_not_found(game_id) -> ApiError:
    return ApiError("NOT_FOUND", "game not found", {"gameId": str(game_id)})


def invalid_query(exc: InvalidPeriod) -> ApiError:
    return ApiError("VALIDATION_ERROR", str(exc), {"fields": {"query": {exc.field: [str(exc)]}}})
