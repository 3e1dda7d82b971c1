"""antifraud.events, two consumers (the lib's EventConsumer: inbox-deduplicated in the same
transaction as the effect):

- ``activation-gateway.cases``: ``fraud.case_decided`` completes (approve) or rejects (reject)
  the activation held for that case, and emits its activation.* event; key-manager being
  unavailable is retried until it answers (its activate/release are idempotent by activation
  id / hold id, so a retried event has one effect).
- ``activation-gateway.disputes`` (keys.events): ``key.disputed`` marks the activation that
  redeemed the key ``disputed`` and emits activation.disputed.
- ``activation-gateway.blocks``: ``fraud.block_added`` / ``fraud.block_lifted`` → the projection
  of blocks in force that refuses block-listed players at step 2. A group of its own, so a new
  deployment reads the topic from its start and the projection holds every block still retained.
"""

from __future__ import annotations

import logging

from sqlalchemy.orm import Session

from activation_gateway.context import Gateway
from activation_gateway.db import repository as repo
from activation_gateway.domain.blocks import normalize
from activation_gateway.usecases.disputes import dispute_activation
from activation_gateway.usecases.reviews import apply_case_decision
from gamekeys_platform.contracts import EventHandlers, antifraud, keys
from gamekeys_platform.events import Event

log = logging.getLogger("activation_gateway.consumers")

CASES_CONSUMER = "activation-gateway.cases"
BLOCKS_CONSUMER = "activation-gateway.blocks"
DISPUTES_CONSUMER = "activation-gateway.disputes"


def case_decision_handler(gw: Gateway) -> EventHandlers:
    """Each consumer handles its types; the rest of antifraud.events (fraud.assessed for every
    redemption) is settled without a transaction."""

    def decided(session: Session, data: antifraud.CaseDecided, _event: Event) -> None:
        row = apply_case_decision(gw, session, data)
        if row is not None:
            log.info("case decided", extra={"activationId": str(row.id), "status": row.status})

    return EventHandlers({antifraud.CaseDecided: decided})


def _block_added(session: Session, data: antifraud.BlockAdded, event: Event) -> None:
    repo.add_block(
        session,
        block_id=data.block_id,
        entity_type=data.entity_type,
        value=normalize(data.entity_type, data.value),
        reason=data.reason,
        expires_at=data.expires_at,
        added_at=event.time,
    )


def _block_lifted(session: Session, data: antifraud.BlockLifted, _event: Event) -> None:
    repo.remove_block(session, data.block_id)


def block_list_handler() -> EventHandlers:
    return EventHandlers({antifraud.BlockAdded: _block_added, antifraud.BlockLifted: _block_lifted})


def dispute_handler(gw: Gateway) -> EventHandlers:
    """key.disputed only; the rest of keys.events is settled without a transaction."""

    def disputed(session: Session, data: keys.KeyDisputed, _event: Event) -> None:
        row = dispute_activation(gw, session, data)
        if row is not None:
            log.info("activation disputed", extra={"activationId": str(row.id)})

    return EventHandlers({keys.KeyDisputed: disputed})
