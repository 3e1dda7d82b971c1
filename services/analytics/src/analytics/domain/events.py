"""An event as the analytics stores it: one row of the ``events`` table per event.

``event_row`` is the pure processor of the ingestion (Snuba's shape): it loads the event's data
through its contract (``gamekeys_platform.contracts``), so an event that breaks its contract, or
whose type has none, raises ``ContractViolation`` and is dead-lettered instead of stored. The
typed columns the reports need are read from the contract's fields by name (every contract
spells a game ``game_id``, a retailer ``retailer_id``, ...); the stored payload is the envelope
with the data as the contract loaded it, so fields no contract knows (a plaintext key a buggy
producer added, say) never reach ClickHouse.
"""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime
from typing import Any

from gamekeys_platform import contracts
from gamekeys_platform.contracts.base import Money
from gamekeys_platform.events import Event

NIL = uuid.UUID(int=0)

COLUMNS = (
    "event_id",
    "type",
    "source",
    "topic",
    "subject",
    "schema_version",
    "trace_id",
    "time",
    "occurred_at",
    "occurred_at_us",
    "ingested_at",
    "developer_id",
    "game_id",
    "key_id",
    "key_ids",
    "batch_id",
    "retailer_id",
    "allocation_id",
    "activation_id",
    "order_id",
    "user_id",
    "key_type",
    "country",
    "ip_country",
    "outcome",
    "reason",
    "quantity",
    "amount",
    "currency",
    "payload",
)

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


def event_row(event: Event, topic: str, *, ingested_at: datetime | None = None) -> dict[str, Any]:
    """The ``events`` row of ``event`` read from ``topic``; ``ContractViolation`` when the event
    breaks its contract or has none."""
    data = contracts.load(event)
    fields = data.__dict__  # the field values by their snake_case names (UUIDs, datetimes, Money), not copied
    occurred_at = _first(fields, _BUSINESS_TIME) or event.time
    key_ids = list(fields.get("key_ids") or [])
    money = _money(data)
    # The envelope, then the data as the contract serializes it (pydantic's own JSON encoder:
    # the same text as ``to_data``, several times faster than a dict through ``json``).
    envelope = {name: value for name, value in event.to_dict().items() if name != "data"}
    payload = (
        json.dumps(envelope, separators=(",", ":"), default=str)[:-1]
        + ',"data":'
        + data.model_dump_json()
        + "}"
    )
    return {
        "event_id": event.id,
        "type": event.type,
        "source": event.source,
        "topic": topic,
        "subject": event.subject,
        "schema_version": event.schema_version,
        "trace_id": event.trace_id or "",
        "time": _utc(event.time),
        "occurred_at": _utc(occurred_at),
        "occurred_at_us": _microseconds(occurred_at),
        "ingested_at": _utc(ingested_at or datetime.now(UTC)),
        "developer_id": _uuid(fields.get("developer_id")),
        "game_id": _uuid(fields.get("game_id")),
        "key_id": _uuid(fields.get("key_id") or (key_ids[0] if len(key_ids) == 1 else None)),
        "key_ids": key_ids,
        "batch_id": _uuid(fields.get("batch_id")),
        "retailer_id": _uuid(fields.get("retailer_id")),
        "allocation_id": _uuid(fields.get("allocation_id")),
        "activation_id": str(fields.get("activation_id") or ""),
        "order_id": str(fields.get("order_id") or ""),
        "user_id": str(fields.get("user_id") or ""),
        "key_type": str(fields.get("key_type") or ""),
        # The region the player claimed (what regional restrictions are checked against);
        # where the request came from is ip_country.
        "country": str(fields.get("region") or fields.get("country") or ""),
        "ip_country": str(fields.get("ip_country") or ""),
        "outcome": str(_first(fields, _OUTCOME) or ""),
        "reason": _reason(fields.get("reason")),
        "quantity": _quantity(fields),
        "amount": money.amount if money else None,
        "currency": money.currency if money else "",
        "payload": payload,
    }


def _first(fields: dict[str, Any], names: tuple[str, ...]) -> Any:
    for name in names:
        if fields.get(name) is not None:
            return fields[name]
    return None


def _money(data: contracts.EventData) -> Money | None:
    fields = type(data).model_fields  # asked first: a missing attribute costs pydantic an exception
    for name in _AMOUNT:
        value = getattr(data, name) if name in fields else None
        if isinstance(value, Money):
            return value
    return None


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


def _utc(moment: datetime) -> datetime:
    return moment.astimezone(UTC)


def _microseconds(moment: datetime) -> int:
    delta = moment.astimezone(UTC) - datetime(1970, 1, 1, tzinfo=UTC)
    return (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds
