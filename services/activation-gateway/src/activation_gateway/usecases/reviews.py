"""Pending reviews (the worker and the cases consumer): a key held for a fraud review is
completed (activated with its hold id) or rejected (released), when support decides the case in
antifraud (``apply_case_decision``) or when antifraud answers again for a hold made while it was
unavailable (``reassess_holds``). Each change of an activation record goes with its event."""

from __future__ import annotations

import logging
import uuid
from typing import Any

from sqlalchemy import Row
from sqlalchemy.orm import Session

from activation_gateway import events
from activation_gateway.clients import KeyManagerRefusal
from activation_gateway.context import Gateway
from activation_gateway.db import repository as repo
from activation_gateway.domain.redemption import (
    Attempt,
    FraudAction,
    Status,
    analysis_request,
    fraud_decision,
    fraud_refusal,
)
from gamekeys_platform.contracts import antifraud

log = logging.getLogger("activation_gateway.reviews")


def _finish(gw: Gateway, session: Session, row: Row, status: Status, **values: Any) -> Row:
    updated = repo.set_status(session, row.id, status.value, **values)
    gw.outbox.add(session, events.activation_event(updated))
    return updated


def complete_review(gw: Gateway, session: Session, row: Row, **values: Any) -> Row:
    """Activate a held key with its hold id; a key that cannot be activated any more fails."""
    try:
        gw.key_manager.activate(
            row.key_id,
            user_id=row.user_id,
            activation_id=str(row.id),
            user_region=row.user_region,
            hold_id=str(row.id),
        )
    except KeyManagerRefusal as exc:
        return _finish(
            gw, session, row, Status.FAILED, error_code=exc.code, error_details=exc.details, **values
        )
    return _finish(gw, session, row, Status.ACTIVATED, **values)


def reject_review(
    gw: Gateway, session: Session, row: Row, *, status: Status, code: str, **values: Any
) -> Row:
    """Release the hold (the key goes back to where it was) and close the activation."""
    try:
        gw.key_manager.release(row.key_id, str(row.id), reason=f"activation {row.id} {status.value}")
    except KeyManagerRefusal as exc:  # no longer held with our hold id (revoked meanwhile): nothing to undo
        log.info("release of %s refused: %s", row.key_id, exc.code)
    return _finish(gw, session, row, status, error_code=code, **values)


def apply_case_decision(gw: Gateway, session: Session, data: antifraud.CaseDecided) -> Row | None:
    """``fraud.case_decided`` → complete or reject the pending activation it belongs to
    (matched by ``activationId``, else ``keyId`` + ``userId``); None when there is none."""
    row = None
    activation_id = _uuid_or_none(data.activation_id)
    if activation_id is not None:
        row = repo.get(session, activation_id, for_update=True)
    if row is None and data.key_id is not None:
        row = repo.find_pending(session, key_id=data.key_id, user_id=data.user_id)
    if row is None or row.status != Status.PENDING_REVIEW.value:
        return None  # not ours, or decided already (a redelivery the inbox did not catch)
    if data.decision == "approve":
        return complete_review(gw, session, row, case_id=data.case_id)
    return reject_review(
        gw, session, row, status=Status.REJECTED, code="FRAUD_DETECTED", case_id=data.case_id
    )


def _uuid_or_none(value: str | None) -> uuid.UUID | None:
    """An activation id as the gateway mints them; other callers of antifraud may send others."""
    try:
        return uuid.UUID(value) if value else None
    except ValueError:
        return None


def reassess_holds(gw: Gateway, *, limit: int = 50) -> dict[str, int]:
    """Holds made while antifraud was unavailable: ask again now. ALLOW completes, REVIEW
    waits for the case now opened, BLOCK rejects; still unavailable: try again next time."""
    counts = {"activated": 0, "review": 0, "blocked": 0, "unavailable": 0}
    with gw.db.transaction() as session:
        rows = repo.unassessed_holds(
            session, older_than_seconds=gw.settings.reassess_after_seconds, limit=limit
        )
        for row in rows:
            counts[_reassess(gw, session, row)] += 1
    return counts


def _reassess(gw: Gateway, session: Session, row: Row) -> str:
    key = {
        "keyId": str(row.key_id),
        "gameId": _text(row.game_id),
        "batchId": _text(row.batch_id),
        "keyType": row.key_type,
    }
    attempt = Attempt(
        row.user_id, "", row.user_region, row.device_fingerprint, row.platform, row.ip_address, row.id
    )
    # The worker may stop after antifraud answered and before this commits: ask again with the
    # same key and get the same score.
    score = gw.antifraud.analyze(
        analysis_request(attempt, key, "valid"), idempotency_key=f"analyze:{row.id}:reassess"
    )
    if score is None:
        repo.set_status(session, row.id, Status.PENDING_REVIEW.value)  # next try after the delay
        return "unavailable"
    decision = fraud_decision(score, gw.settings.antifraud_unavailable_policy)
    values = {
        "assessment_id": decision.assessment_id,
        "case_id": decision.case_id,
        "risk_score": decision.score,
    }
    if decision.action is FraudAction.ALLOW:
        complete_review(gw, session, row, **values)
        return "activated"
    if decision.action is FraudAction.REVIEW:
        repo.set_status(
            session, row.id, Status.PENDING_REVIEW.value, review_reason="antifraud_review", **values
        )
        return "review"
    reject_review(gw, session, row, status=Status.BLOCKED, code=fraud_refusal(decision).code, **values)
    return "blocked"


def _text(value: Any) -> str | None:
    return None if value is None else str(value)
