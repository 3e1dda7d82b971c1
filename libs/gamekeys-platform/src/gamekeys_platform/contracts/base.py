"""What every event contract is made of: the base class, the field types, the registry.

An event's ``data`` is a pydantic model of its type (``EventData``): producers build one and
hand it to the outbox, which dumps it; consumers get one back from ``load``. Field names are
snake_case in Python and camelCase on the wire (§3), so the model is the only place that
spells a field's name.

Producing is strict: an unknown field, a missing required one or a wrong type raises when
the model is built, so no service can emit what its contract does not say. Consuming is
lenient where forward compatibility needs it: fields the contract does not know are
dropped (a newer producer may have added them); a missing required field or a wrong type is
a ``ContractViolation``, which the consumer dead-letters with the reason.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Mapping
from decimal import Decimal, InvalidOperation
from typing import Annotated, Any, ClassVar, Self

from pydantic import (
    AwareDatetime,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    PlainSerializer,
    ValidationError,
    WithJsonSchema,
)
from pydantic.alias_generators import to_camel

from gamekeys_platform.errors import format_timestamp
from gamekeys_platform.events import TOPIC_BY_SOURCE, Event, MalformedEvent


class ContractViolation(MalformedEvent):
    """An event whose ``data`` breaks its type's contract (or whose type or version has none)."""


def _decimal_text(value: Any) -> Any:
    # §3: decimals travel as strings; a JSON number would already have lost precision.
    if isinstance(value, float):
        raise ValueError("a decimal is a string, not a number")
    if isinstance(value, str):
        try:
            return Decimal(value)
        except InvalidOperation:
            raise ValueError("not a decimal number") from None
    return value


Timestamp = Annotated[
    AwareDatetime,
    PlainSerializer(format_timestamp, return_type=str, when_used="json"),
    WithJsonSchema({"type": "string", "format": "date-time"}),
]
DecimalString = Annotated[
    Decimal,
    BeforeValidator(_decimal_text),
    PlainSerializer(str, return_type=str, when_used="json"),
    WithJsonSchema({"type": "string", "pattern": r"^-?\d+(\.\d+)?$"}),
]
Country = Annotated[str, Field(pattern=r"^[A-Z]{2}$", description="ISO 3166-1 alpha-2")]
Currency = Annotated[str, Field(pattern=r"^[A-Z]{3}$", description="ISO 4217")]
# Ids the platform mints are UUIDs; ids that come from elsewhere (a user's token subject, a
# retailer's order id, an actor that may be a service) are bounded text. The bound is far above
# any text an API takes (reasons 500, notes 1,000 characters): it keeps blobs out of events
# without ever refusing what a request was allowed to say.
TEXT_LIMIT = 4000
Text = Annotated[str, Field(max_length=TEXT_LIMIT)]
UserId = Annotated[str, Field(min_length=1, max_length=TEXT_LIMIT, description="the user's token subject")]
Actor = Annotated[str, Field(max_length=TEXT_LIMIT, description="who did it: a user id or a service name")]
KeyIds = Annotated[list[uuid.UUID], Field(min_length=1, max_length=1000)]


class Contract(BaseModel):
    """camelCase on the wire, snake_case in Python, immutable, no field the model lacks."""

    model_config = ConfigDict(
        alias_generator=to_camel,
        validate_by_name=True,
        validate_by_alias=True,
        serialize_by_alias=True,
        extra="forbid",
        frozen=True,
    )


class Money(Contract):
    """``{"amount": "19.99", "currency": "USD"}``."""

    amount: DecimalString
    currency: Currency


class RegionRule(Contract):
    """``{"type": "allow" | "deny", "countries": [...]}``."""

    type: Annotated[str, Field(pattern="^(allow|deny)$")]
    countries: list[Country]


# (source, type) -> contract; a type name may recur on another producer's topic with another
# shape (``allocation.released`` is key-manager's and distribution's).
_REGISTRY: dict[tuple[str, str], type[EventData]] = {}


class EventData(Contract):
    """The ``data`` of one event type. Subclasses set:

    - ``TYPE``: the event type, e.g. ``key.activated``;
    - ``SUBJECT``: the field whose value is the envelope's subject (the aggregate id, the
      Kafka key), or override ``subject``;
    - ``SCHEMA_VERSION`` when the shape changed incompatibly, with ``UPGRADES`` mapping each
      earlier version still accepted to a function that turns its data into this version's.

    ``SOURCE`` comes from the topic's base class (``KeysEvent`` and the like).
    """

    SOURCE: ClassVar[str]
    TYPE: ClassVar[str]
    SUBJECT: ClassVar[str]
    SCHEMA_VERSION: ClassVar[int] = 1
    UPGRADES: ClassVar[Mapping[int, Callable[[dict[str, Any]], dict[str, Any]]]] = {}
    # The wire names of the fields, computed once per contract for ``load``.
    WIRE_NAMES: ClassVar[frozenset[str]] = frozenset()

    @classmethod
    def __pydantic_init_subclass__(cls, **kwargs: Any) -> None:
        super().__pydantic_init_subclass__(**kwargs)
        cls.WIRE_NAMES = frozenset(field.alias or name for name, field in cls.model_fields.items())
        if "TYPE" in cls.__dict__:
            key = (cls.SOURCE, cls.TYPE)
            if key in _REGISTRY and _REGISTRY[key].__qualname__ != cls.__qualname__:
                raise TypeError(f"two contracts for {cls.TYPE} from {cls.SOURCE}")
            _REGISTRY[key] = cls

    @property
    def subject(self) -> str:
        return str(getattr(self, self.SUBJECT))

    def to_data(self) -> dict[str, Any]:
        return self.model_dump(mode="json")

    def to_event(self) -> Event:
        """A new event (fresh id and time) in the §4 envelope carrying this data."""
        return Event(
            type=self.TYPE,
            source=self.SOURCE,
            subject=self.subject,
            data=self.to_data(),
            schema_version=self.SCHEMA_VERSION,
        )

    @classmethod
    def topic(cls) -> str:
        return TOPIC_BY_SOURCE[cls.SOURCE]

    @classmethod
    def load(cls, data: Any, schema_version: int = 1) -> Self:
        """The typed data of a received event; ``ContractViolation`` saying why it is not one."""
        if not isinstance(data, dict):
            raise ContractViolation(f"{cls.TYPE}: data is not an object")
        if schema_version != cls.SCHEMA_VERSION:
            upgrade = cls.UPGRADES.get(schema_version)
            if upgrade is None:
                raise ContractViolation(
                    f"{cls.TYPE}: schemaVersion {schema_version} is not accepted "
                    f"(current {cls.SCHEMA_VERSION}, also {sorted(cls.UPGRADES) or 'none'})"
                )
            data = upgrade(data)
        try:
            return cls.model_validate({k: v for k, v in data.items() if k in cls.WIRE_NAMES})
        except ValidationError as exc:
            raise ContractViolation(f"{cls.TYPE} v{schema_version}: {_summary(exc)}") from None


def _summary(exc: ValidationError) -> str:
    return "; ".join(
        f"{'.'.join(str(part) for part in error['loc']) or 'data'}: {error['msg']}"
        for error in exc.errors(include_url=False)[:10]
    )


def contract_for(source: str, event_type: str) -> type[EventData] | None:
    return _REGISTRY.get((source, event_type))


def registered_contracts() -> list[type[EventData]]:
    """Every contract defined so far (importing ``gamekeys_platform.contracts`` defines the
    platform's)."""
    return list(_REGISTRY.values())


__all__ = [
    "Actor",
    "Contract",
    "ContractViolation",
    "Country",
    "Currency",
    "DecimalString",
    "EventData",
    "KeyIds",
    "Money",
    "RegionRule",
    "Text",
    "Timestamp",
    "UserId",
    "contract_for",
    "registered_contracts",
]
