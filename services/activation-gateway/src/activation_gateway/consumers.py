"""antifraud.events, two consumers (the lib's EventConsumer: inbox-deduplicated in the same
transaction as the effect):

- ``activation-gateway.cases``: ``fraud.case_decided`` completes (approve) or rejects (reject)
  the activation held for that case, and emits its activation.* event; key-manager being
  unavailable is retried until it answers (its activate/release are idempotent by activation
  id / hold id, so a retried event has one effect).
- ``activation-gateway.blocks``: ``fraud.block_added`` / ``fraud.block_lifted`` → the projection
  of blocks in force that refuses block-listed players at step 2. A group of its own, so a new
  deployment reads the topic from its start and the projection holds every block still retained.
"""

from __future__ import annotations

import logging
import uuid
from datetime import datetime

from sqlalchemy.orm import Session

from activation_gateway.context import Gateway
from activation_gateway.db import repository as repo
from activation_gateway.domain.blocks import ENTITY_TYPES, normalize
from activation_gateway.redemption import apply_case_decision
from gamekeys_platform.consumer import EventHandler
from gamekeys_platform.events import Event

log = logging.getLogger("activation_gateway.consumers")

CASES_CONSUMER = "activation-gateway.cases"
BLOCKS_CONSUMER = "activation-gateway.blocks"
# What each consumer handles; the rest of antifraud.events (fraud.assessed for every
# redemption) is settled without a transaction.
CASE_EVENTS = frozenset({"fraud.case_decided"})
BLOCK_EVENTS = frozenset({"fraud.block_added", "fraud.block_lifted"})


def case_decision_handler(gw: Gateway) -> EventHandler:
    def handle(session: Session, event: Event) -> None:
        if event.type != "fraud.case_decided":
            return
        row = apply_case_decision(gw, session, event.data)
        if row is not None:
            log.info("case decided", extra={"activationId": str(row.id), "status": row.status})

    return handle


def block_list_handler() -> EventHandler:
    def handle(session: Session, event: Event) -> None:
        data = event.data
        if event.type == "fraud.block_added":
            kind = data["entityType"]
            if kind not in ENTITY_TYPES:
                raise ValueError(f"unknown block entity type {kind!r}")
            expires = data.get("expiresAt")
            repo.add_block(
                session,
                block_id=uuid.UUID(data["blockId"]),
                entity_type=kind,
                value=normalize(kind, data["value"]),
                reason=data.get("reason"),
                expires_at=datetime.fromisoformat(expires) if expires else None,
                added_at=event.time,
            )
        elif event.type == "fraud.block_lifted":
            repo.remove_block(session, uuid.UUID(data["blockId"]))

    return handle
