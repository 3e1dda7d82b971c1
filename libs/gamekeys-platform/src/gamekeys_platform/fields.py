"""marshmallow fields every service's schemas share, so one kind of value is checked, and
refused with the same message, everywhere."""

from __future__ import annotations

from collections.abc import Callable
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
