"""The block list: users, IPs and devices blocked until a time or until lifted.

Every change is announced to the instances' snapshots once its transaction commits
(``BlockList.changed``), so it applies from the next analysis on every instance."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import TYPE_CHECKING

from sqlalchemy import Row
from sqlalchemy.orm import Session

from antifraud import events
from antifraud.db import repository as repo
from gamekeys_platform.refusals import Refusal

if TYPE_CHECKING:
    from antifraud.context import Antifraud


def add_block(
    af: Antifraud,
    session: Session,
    *,
    entity_type: str,
    value: str,
    reason: str,
    expires_at: datetime | None,
    actor: str,
    assessment_id: uuid.UUID | None = None,
) -> Row:
    """Block one entity (``value`` in its canonical spelling, ``gamekeys_platform.identities``)
    until ``expires_at`` (None: until lifted) and emit ``fraud.block_added``. The block's row."""
    row = repo.add_block(
        session,
        entity_type=entity_type,
        value=value,
        reason=reason,
        expires_at=expires_at,
        assessment_id=assessment_id,
        created_by=actor,
    )
    af.outbox.add(session, events.block_added(row))
    af.blocks.changed(session)
    return row


def block_activity(
    af: Antifraud,
    session: Session,
    assessment_id: uuid.UUID,
    *,
    entities: list[str],
    reason: str,
    expires_at: datetime | None,
    actor: str,
) -> list[Row]:
    """Block the user, device and/or IP behind an assessment (the seed's blockSuspiciousActivity),
    each once, in the order given. Refused: NOT_FOUND (no such assessment)."""
    assessment = repo.get_assessment(session, assessment_id)
    if assessment is None:
        raise Refusal("NOT_FOUND", "activity not found")
    values = {"user": str(assessment.user_id), "ip": assessment.ip, "device": assessment.device_fingerprint}
    return [
        add_block(
            af,
            session,
            entity_type=entity,
            value=values[entity],
            reason=reason,
            expires_at=expires_at,
            actor=actor,
            assessment_id=assessment_id,
        )
        for entity in dict.fromkeys(entities)
    ]


def lift_block(
    af: Antifraud, session: Session, block_id: uuid.UUID, *, reason: str | None, actor: str
) -> Row:
    """Lift a block (an appeal granted; the entry stays as history) and emit
    ``fraud.block_lifted``, which the activation-gateway's projection of blocks follows. The
    lifted block's row. Refused: NOT_FOUND (no such block), CONFLICT (lifted already)."""
    row = repo.lift_block(session, block_id, actor=actor, reason=reason)
    if row is None:
        if repo.get_block(session, block_id) is None:
            raise Refusal("NOT_FOUND", "block not found")
        raise Refusal("CONFLICT", "the block is already lifted")
    af.outbox.add(session, events.block_lifted(row))
    af.blocks.changed(session)
    return row
