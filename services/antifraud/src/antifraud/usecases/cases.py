"""Review cases: a REVIEW assessment opens one (``assess``); support or an admin decides it."""

from __future__ import annotations

import uuid
from typing import TYPE_CHECKING

from prometheus_client import Counter
from sqlalchemy import Row
from sqlalchemy.orm import Session

from antifraud import events
from antifraud.db import repository as repo
from gamekeys_platform.refusals import Refusal

if TYPE_CHECKING:
    from antifraud.context import Antifraud

CASE_DECISIONS = Counter("antifraud_case_decisions_total", "Review cases decided", ["decision"])


def decide_case(
    af: Antifraud, session: Session, case_id: uuid.UUID, *, decision: str, note: str | None, actor: str
) -> Row:
    """Approve or reject an open case (the seed's reviewFraudCase) and emit
    ``fraud.case_decided``, which the activation-gateway follows to complete or reject the
    pending activation. The decided case's row. Refused: NOT_FOUND (no such case), CONFLICT (the
    case was decided already; a case is decided once)."""
    existing = repo.get_case(session, case_id, for_update=True)
    if existing is None:
        raise Refusal("NOT_FOUND", "case not found")
    if existing.status != "open":
        raise Refusal("CONFLICT", f"the case is already {existing.status}", {"status": existing.status})
    row = repo.decide_case(session, case_id, decision=decision, note=note, actor=actor)
    af.outbox.add(session, events.case_decided(row))
    CASE_DECISIONS.labels(decision).inc()
    return row
