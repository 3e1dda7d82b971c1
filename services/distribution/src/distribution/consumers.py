"""keys.events and activations.events → the activation counts of the analytics.

Both topics may report one activation; ``activations`` is keyed by key id, so it is counted once.
Only keys allocated to a retailer matter here; every other event is ignored (and recorded in the
inbox by the consumer, so it is not seen twice).
"""

from __future__ import annotations

import logging
import uuid
from datetime import UTC, datetime

from sqlalchemy.orm import Session

from distribution.db import repository as repo
from gamekeys_platform.events import Event

log = logging.getLogger("distribution.consumers")

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


ACTIVATION_EVENTS = frozenset({"key.activated", "activation.succeeded"})


def apply_event(session: Session, event: Event) -> None:
    data = event.data
    if event.type == "key.activated":
        key_id, retailer_id = _uuid(data.get("keyId")), _uuid(data.get("retailerId"))
        allocation_id = _uuid(data.get("allocationId"))
    elif event.type == "activation.succeeded":
        # activation-gateway's event names the key; which retailer had it is ours to know.
        key_id, retailer_id, allocation_id = _uuid(data.get("keyId")), None, None
        if key_id is not None:
            delivered = repo.delivered_key(session, key_id)
            if delivered is not None:
                retailer_id, allocation_id = delivered.retailer_id, delivered.allocation_id
    else:
        return
    if key_id is None or retailer_id is None:
        return
    repo.record_activation(
        session,
        key_id=key_id,
        retailer_id=retailer_id,
        allocation_id=allocation_id,
        activated_at=_time(data.get("activatedAt"), event.time),
        source_event=event.type,
    )
