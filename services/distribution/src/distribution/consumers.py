"""keys.events → the activation counts of the analytics.

key-manager emits ``key.activated`` for every activation, whichever way it came (through
activation-gateway or not), naming the retailer and allocation the key was given under; that
is all the counts need, so activation-gateway's ``activation.succeeded`` (the same activation
again, without the retailer) is not consumed. ``activations`` is keyed by key id, so a key
counts once. Only keys allocated to a retailer matter here; a ``key.activated`` without one
is recorded in the inbox by the consumer and otherwise ignored.
"""

from __future__ import annotations

from sqlalchemy.orm import Session

from distribution.db import repository as repo
from gamekeys_platform.contracts import EventHandlers, keys
from gamekeys_platform.events import Event

ACTIVATIONS_CONSUMER = "distribution.activations"


def _activated(session: Session, data: keys.KeyActivated, event: Event) -> None:
    if data.retailer_id is None:
        return
    repo.record_activation(
        session,
        key_id=data.key_id,
        retailer_id=data.retailer_id,
        allocation_id=data.allocation_id,
        activated_at=data.activated_at or event.time,
        source_event=event.type,
    )


apply_event = EventHandlers({keys.KeyActivated: _activated})
