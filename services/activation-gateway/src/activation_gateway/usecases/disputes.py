"""An activation disputed after the fact: key-manager's ``key.disputed`` (the key's purchase was
charged back by its retailer, or its store order refunded, after it was redeemed) marks the
activation that redeemed it ``disputed`` and announces ``activation.disputed`` for the
platform's entitlement owner and antifraud."""

from __future__ import annotations

import logging
import uuid

from sqlalchemy import Row, update
from sqlalchemy.orm import Session

from activation_gateway import events
from activation_gateway.context import Gateway
from activation_gateway.db.tables import activations
from activation_gateway.domain.redemption import Status
from gamekeys_platform.contracts import keys

log = logging.getLogger("activation_gateway.disputes")


def dispute_activation(gw: Gateway, session: Session, data: keys.KeyDisputed) -> Row | None:
    """The activation disputed (None: not one of ours, or disputed already). An activation made
    without the gateway (a studio's own) has no record here: nothing to mark."""
    try:
        activation_id = uuid.UUID(str(data.activation_id))
    except ValueError:
        activation_id = None
    if activation_id is None:
        log.info("disputed key without a gateway activation", extra={"keyId": str(data.key_id)})
        return None
    row = session.execute(
        update(activations)
        .where(
            activations.c.id == activation_id,
            activations.c.key_id == data.key_id,
            activations.c.status == Status.ACTIVATED.value,
        )
        .values(
            status=Status.DISPUTED.value,
            disputed_at=data.disputed_at,
            dispute_source=data.source,
            dispute_reference=data.reference,
            dispute_reason=data.reason,
            updated_at=data.disputed_at,
        )
        .returning(activations)
    ).first()
    if row is None:
        log.info("disputed key's activation not found here", extra={"keyId": str(data.key_id)})
        return None
    gw.outbox.add(session, events.activation_event(row))
    return row
