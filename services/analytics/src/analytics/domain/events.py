"""An event as the analytics stores it: one row of the ``events`` table per event.

``event_row`` is the pure processor of the ingestion (Snuba's shape): it reads a Kafka record's
value, the §4 envelope, and loads its data through its contract (``gamekeys_platform.contracts``),
so a record that is not an envelope raises ``MalformedEvent``, and one that breaks its contract
or whose type has none ``ContractViolation``; either is dead-lettered instead of stored. The
typed columns the reports need are read from the contract's fields by name (every contract
spells a game ``game_id``, a retailer ``retailer_id``, ...). The stored payload holds nothing no
contract knows (a plaintext key a buggy producer added, say).

A record is read in one pass: the envelope and its data validated together, by the contract
its source and type name, straight from the bytes (pydantic's parser), and then the record
itself is the payload. That is every record a producer of the platform writes. Anything else
(a field the contract does not know, an earlier schema version, an error to explain) takes the
reference path: the envelope parsed (``Event.from_json``), the data loaded by
``contracts.load`` (which drops unknown fields, upgrades earlier versions and words the
errors), the payload written again from what it loaded. Both give the same row.
"""

from __future__ import annotations

import json
import time
import uuid
from collections import defaultdict
from datetime import UTC, datetime
from decimal import Decimal
from typing import Annotated, Any, Generic, Literal, NamedTuple, TypeVar, Union

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, TypeAdapter, ValidationError, create_model
from pydantic.alias_generators import to_camel

from gamekeys_platform import contracts
from gamekeys_platform.contracts import EventData
from gamekeys_platform.contracts.base import Money
from gamekeys_platform.events import Event

NIL = uuid.UUID(int=0)


class EventRow(NamedTuple):
    """One row of ``events``, its fields the table's columns in the insert's order. Times are
    seconds since the epoch (what ClickHouse stores; the driver takes them as they are)."""

    event_id: uuid.UUID
    type: str
    source: str
    topic: str
    subject: str
    schema_version: int
    trace_id: str
    time: int
    occurred_at: int
    occurred_at_us: int
    ingested_at: int
    developer_id: uuid.UUID
    game_id: uuid.UUID
    key_id: uuid.UUID
    key_ids: list[uuid.UUID]
    key_batch_ids: list[uuid.UUID]
    batch_id: uuid.UUID
    retailer_id: uuid.UUID
    allocation_id: uuid.UUID
    activation_id: str
    order_id: str
    user_id: str
    key_type: str
    country: str
    ip_country: str
    outcome: str
    reason: str
    quantity: int | None
    amount: Decimal | None
    currency: str
    payload: str


COLUMNS = EventRow._fields

# The field that says when the thing happened, in the order looked for; the envelope's time
# when the event has none of them.
_BUSINESS_TIME = (
    "occurred_at",
    "activated_at",
    "sold_at",
    "charged_back_at",
    "decided_at",
    "generated_at",
    "allocated_at",
    "changed_at",
    "cancelled_at",
    "completed_at",
    "failed_at",
    "revoked_at",
    "lifted_at",
    "created_at",
)
# The money an event is about (a sale's gross, a chargeback's amount, a payout's amount).
_AMOUNT = ("gross", "amount", "unit_price", "pricing")
# The outcome of the thing the event reports: an activation's or a build's status, a case's
# decision, an assessment's recommended action.
_OUTCOME = ("status", "decision", "recommended_action", "kind")


def event_row(record: bytes, topic: str, *, ingested_at: datetime | None = None) -> EventRow:
    """The ``events`` row of the event ``record`` (a Kafka record's value) read from ``topic``;
    ``MalformedEvent`` when it is not an envelope, ``ContractViolation`` when it breaks its
    contract or has none."""
    try:
        envelope, data, payload = _read_exactly(record)
    except ValidationError:
        envelope, data, payload = _read_leniently(record)
    fields = data.__dict__  # the field values by their snake_case names (UUIDs, datetimes, Money), not copied
    occurred_at_us = _microseconds(_first(fields, _BUSINESS_TIME) or envelope.time)
    key_ids = list(fields.get("key_ids") or [])
    money = _money(fields)
    # Positional, in column order: a NamedTuple built from 31 keywords took a third of the row's
    # time (test_events checks every column by name).
    return EventRow._make(
        (
            envelope.id,  # event_id
            envelope.type,  # type
            envelope.source,  # source
            topic,  # topic
            envelope.subject,  # subject
            envelope.schema_version,  # schema_version
            envelope.trace_id or "",  # trace_id
            _microseconds(envelope.time) // 1_000_000,  # time
            occurred_at_us // 1_000_000,  # occurred_at
            occurred_at_us,  # occurred_at_us
            int(ingested_at.timestamp() if ingested_at else time.time()),  # ingested_at
            _uuid(fields.get("developer_id")),  # developer_id
            _uuid(fields.get("game_id")),  # game_id
            _uuid(fields.get("key_id") or (key_ids[0] if len(key_ids) == 1 else None)),  # key_id
            key_ids,  # key_ids
            _batch_ids(fields),  # key_batch_ids
            _uuid(fields.get("batch_id")),  # batch_id
            _uuid(fields.get("retailer_id")),  # retailer_id
            _uuid(fields.get("allocation_id")),  # allocation_id
            str(fields.get("activation_id") or ""),  # activation_id
            str(fields.get("order_id") or ""),  # order_id
            str(fields.get("user_id") or ""),  # user_id
            str(fields.get("key_type") or ""),  # key_type
            # The region the player claimed (what regional restrictions are checked against);
            # where the request came from is ip_country.
            str(fields.get("region") or fields.get("country") or ""),  # country
            str(fields.get("ip_country") or ""),  # ip_country
            str(_first(fields, _OUTCOME) or ""),  # outcome
            _reason(fields.get("reason")),  # reason
            _quantity(fields),  # quantity
            money.amount if money else None,  # amount
            money.currency if money else "",  # currency
            payload,  # payload
        )
    )


# --- reading a record -----------------------------------------------------------------------

D = TypeVar("D", bound=EventData)


class _Envelope(BaseModel, Generic[D]):
    """The §4 envelope with its data typed by its contract, for the one-pass read: strict, so
    what it accepts the reference path (``Event.from_dict``) reads the same way, and closed,
    so a field nobody knows sends the record to the reference path, which drops it."""

    model_config = ConfigDict(alias_generator=to_camel, extra="forbid", frozen=True, strict=True)

    id: uuid.UUID
    type: str = Field(min_length=1)
    source: str = Field(min_length=1)
    time: AwareDatetime
    subject: str = Field(min_length=1)
    schema_version: int
    trace_id: str | None = None
    data: D


def _record_of(contract: type[EventData]) -> type[_Envelope]:
    """The envelope of ``contract``'s events as its producer writes them today."""
    return create_model(
        f"{contract.__name__}Record",
        __base__=_Envelope[contract],
        source=(Literal[contract.SOURCE], ...),
        type=(Literal[contract.TYPE], ...),
        schema_version=(Literal[contract.SCHEMA_VERSION], ...),
    )


def _tagged(choices: list, tag: str) -> Any:
    """One of ``choices``, chosen by the value of its field ``tag``."""
    if len(choices) == 1:
        return choices[0]
    return Annotated[Union[tuple(choices)], Field(discriminator=tag)]  # noqa: UP007 - built at run time


def _one_pass_reader() -> TypeAdapter:
    """Every contract's record, told apart by its source and then its type (pydantic's tagged
    unions: the contract is chosen inside the parser, nothing built in Python before it)."""
    by_source: dict[str, dict[str, type[_Envelope]]] = defaultdict(dict)
    for contract in contracts.registered_contracts():
        by_source[contract.SOURCE][contract.TYPE] = _record_of(contract)
    return TypeAdapter(
        _tagged([_tagged(list(records.values()), "type") for records in by_source.values()], "source")
    )


_RECORDS = _one_pass_reader()


def _read_exactly(record: bytes) -> tuple[_Envelope, EventData, str]:
    """The one-pass read; ``ValidationError`` when the record needs the reference path."""
    envelope = _RECORDS.validate_json(record)
    return envelope, envelope.data, record.decode()


def _read_leniently(record: bytes) -> tuple[Event, EventData, str]:
    event = Event.from_json(record)
    data = contracts.load(event)
    # The envelope, then the data as the contract serializes it (pydantic's own JSON encoder:
    # the same text as ``to_data``, several times faster than a dict through ``json``).
    envelope = {name: value for name, value in event.to_dict().items() if name != "data"}
    payload = (
        json.dumps(envelope, separators=(",", ":"), default=str)[:-1]
        + ',"data":'
        + data.model_dump_json()
        + "}"
    )
    return event, data, payload


# --- columns --------------------------------------------------------------------------------


def _first(fields: dict[str, Any], names: tuple[str, ...]) -> Any:
    for name in names:
        if fields.get(name) is not None:
            return fields[name]
    return None


def _money(fields: dict[str, Any]) -> Money | None:
    for name in _AMOUNT:
        value = fields.get(name)
        if value is not None and isinstance(value, Money):  # None first: a model's isinstance is slow
            return value
    return None


def _batch_ids(fields: dict[str, Any]) -> list[uuid.UUID]:
    """The batches a bulk key event names: each key's, in the order of ``key_ids`` (a sale, a
    return), or those an allocation drew on; empty when it names none."""
    if fields.get("batch_ids"):
        return list(fields["batch_ids"])
    return [share.batch_id for share in fields.get("batches") or ()]


def _quantity(fields: dict[str, Any]) -> int | None:
    for name in ("quantity", "revoked_keys", "expired_keys", "released"):
        if isinstance(fields.get(name), int):
            return fields[name]
    return None


def _reason(value: Any) -> str:
    return value if isinstance(value, str) else ""


def _uuid(value: Any) -> uuid.UUID:
    if value is None:
        return NIL
    if isinstance(value, uuid.UUID):
        return value
    try:
        return uuid.UUID(str(value))
    except ValueError:
        return NIL  # an id that is not the platform's (a retailer's order id, say): not a key column


_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def _microseconds(moment: datetime) -> int:
    """Microseconds since the epoch, exactly (a float timestamp rounds them); a naive time is
    taken as local time, as ``astimezone`` does."""
    delta = (moment if moment.tzinfo else moment.astimezone(UTC)) - _EPOCH
    return (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds
