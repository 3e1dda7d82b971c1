"""marshmallow fields every service's schemas share, so one kind of value is checked, and
refused with the same message, everywhere."""

from __future__ import annotations

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
