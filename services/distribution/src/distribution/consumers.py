"""keys.events → the activation counts of the analytics.

key-manager emits ``key.activated`` for every activation, whichever way it came (through
activation-gateway or not), naming the retailer and allocation the key was given under; that
is all the counts need, so activation-gateway's ``activation.succeeded`` (the same activation
again, without the retailer) is not consumed. ``activations`` is keyed by key id, so a key
counts once. Only keys allocated to a retailer matter here; a ``key.activated`` without one
is recorded in the inbox by the consumer and otherwise ignored.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

from sqlalchemy.orm import Session

from distribution.db import repository as repo
from gamekeys_platform.events import Event

ACTIVATIONS_CONSUMER = "distribution.activations"


def _uuid(value) -> uuid.UUID | None:
    try:
        return uuid.UUID(str(value)) if value else None
    except ValueError:
        return None


def _time(value, fallback: datetime) -> datetime:
    try:
        moment = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
        return moment if moment.tzinfo else moment.replace(tzinfo=UTC)
    except ValueError:
        return fallback


ACTIVATION_EVENTS = frozenset({"key.activated"})


def apply_event(session: Session, event: Event) -> None:
    if event.type != "key.activated":
        return
    data = event.data
    key_id, retailer_id = _uuid(data.get("keyId")), _uuid(data.get("retailerId"))
    if key_id is None or retailer_id is None:
        return
    repo.record_activation(
        session,
        key_id=key_id,
        retailer_id=retailer_id,
        allocation_id=_uuid(data.get("allocationId")),
        activated_at=_time(data.get("activatedAt"), event.time),
        source_event=event.type,
    )
