"""marshmallow fields every service's schemas share, so one kind of value is checked, and
refused with the same message, everywhere."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from decimal import Decimal, InvalidOperation
from typing import Any

import marshmallow as ma

from gamekeys_platform.countries import normalize_country


class Country(ma.fields.String):
    """An ISO 3166-1 alpha-2 country code; any case in, upper case out (``de`` → ``DE``)."""

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("metadata", {"example": "DE", "pattern": "^[A-Za-z]{2}$"})
        super().__init__(**kwargs)

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> str:
        text = super()._deserialize(value, attr, data, **kwargs)
        try:
            return normalize_country(text)
        except ValueError as exc:
            raise ma.ValidationError(str(exc)) from None


class DecimalString(ma.fields.String):
    """A decimal as a JSON string (``"19.99"``, ``"0.15"``), never a number: a float cannot hold
    most decimal fractions exactly (ARCHITECTURE.md §3). Loads a ``Decimal``, dumps a string.
    ``check``, a domain function raising ValueError, bounds the value and may normalise it."""

    default_error_messages = {"invalid": 'must be a decimal string such as "19.99", never a number'}

    def __init__(self, *, check: Callable[[Decimal], Decimal] | None = None, **kwargs: Any) -> None:
        kwargs.setdefault("metadata", {"example": "19.99"})
        super().__init__(**kwargs)
        self.check = check

    def _serialize(self, value: Any, attr: str | None, obj: Any, **kwargs: Any) -> str | None:
        return None if value is None else str(value)

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> Decimal:
        if not isinstance(value, str) or len(value) > 40:
            raise self.make_error("invalid")
        try:
            number = Decimal(value.strip())
        except InvalidOperation:
            raise self.make_error("invalid") from None
        if not number.is_finite():
            raise self.make_error("invalid")
        if self.check is None:
            return number
        try:
            return self.check(number)
        except ValueError as exc:
            raise ma.ValidationError(str(exc)) from None


# How far ahead of this server's clock a client's clock may run before "when it happened"
# counts as the future.
CLOCK_SKEW = timedelta(minutes=5)
# Nothing on the platform happened before this: an earlier moment is a client's bug.
EARLIEST = datetime(2000, 1, 1, tzinfo=UTC)


class PastDateTime(ma.fields.AwareDateTime):
    """When something happened, as the client says (an ISO 8601 time with its zone): not later
    than CLOCK_SKEW ahead of now, not before EARLIEST, and with ``max_age`` not older than that."""

    def __init__(self, *, max_age: timedelta | None = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.max_age = max_age

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> datetime:
        moment = super()._deserialize(value, attr, data, **kwargs)
        now = datetime.now(UTC)
        if moment > now + CLOCK_SKEW:
            minutes = int(CLOCK_SKEW.total_seconds() // 60)
            raise ma.ValidationError(
                f"must not be in the future (at most {minutes} minutes ahead of the server's clock)"
            )
        if moment < EARLIEST:
            raise ma.ValidationError(f"must not be before {EARLIEST.date().isoformat()}")
        if self.max_age is not None and moment < now - self.max_age:
            raise ma.ValidationError(f"must be within the last {self.max_age.days} days")
        return moment
