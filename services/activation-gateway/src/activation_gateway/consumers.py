"""antifraud.events → pending activations: ``fraud.case_decided`` completes (approve) or
rejects (reject) the activation held for that case, and emits its activation.* event.
Runs in the lib's EventConsumer: inbox-deduplicated in the same transaction as the effect;
key-manager being unavailable is retried until it answers (its activate/release are
idempotent by activation id / hold id, so a retried event has one effect)."""

from __future__ import annotations

import logging

from sqlalchemy.orm import Session

from activation_gateway.context import Gateway
from activation_gateway.redemption import apply_case_decision
from gamekeys_platform.consumer import EventHandler
from gamekeys_platform.events import Event

log = logging.getLogger("activation_gateway.consumers")

CASES_CONSUMER = "activation-gateway.cases"


def case_decision_handler(gw: Gateway) -> EventHandler:
    def handle(session: Session, event: Event) -> None:
        if event.type != "fraud.case_decided":
            return
        row = apply_case_decision(gw, session, event.data)
        if row is not None:
            log.info("case decided", extra={"activationId": str(row.id), "status": row.status})

    return handle
