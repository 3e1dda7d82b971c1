"""Leak response: a retailer's unsold keys revoked in one operation (all its stock, one game's,
or one allocation's), idempotent by request id, with a report of what was revoked and what was
left because it was already sold or activated."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import Row
from sqlalchemy.orm import Session

from gamekeys_platform.refusals import Refusal
from key_manager import events
from key_manager.context import KeyManager
from key_manager.db import revocations as repo
from key_manager.domain.revocations import AllocationRef, revocation_report
from key_manager.domain.states import KeyStatus


@dataclass(frozen=True)
class Revocation:
    record: Row  # stock_revocations: the request, its report
    created: bool  # False: the request id was used before (a retry); nothing changed now


def revoke_unsold(
    km: KeyManager,
    session: Session,
    *,
    request_id: str,
    retailer_id: uuid.UUID,
    game_ids: Sequence[uuid.UUID] | None,
    allocation_id: uuid.UUID | None,
    reason: str,
    actor: str,
) -> Revocation:
    """Revoke every unsold key of the retailer's allocations (narrowed to ``game_ids`` and/or
    ``allocation_id``) in one set-based statement; one allocation.released (status revoked) per
    allocation that lost keys. Idempotent by ``request_id``: a retry answers the stored report,
    the same id with other parameters is IDEMPOTENCY_CONFLICT. A named allocation that is not
    the retailer's is NOT_FOUND."""
    game_ids = sorted(set(game_ids)) if game_ids is not None else None
    if not repo.claim_revocation(
        session,
        request_id=request_id,
        retailer_id=retailer_id,
        game_ids=game_ids,
        allocation_id=allocation_id,
        reason=reason,
        actor=actor,
    ):
        existing = repo.get_revocation(session, request_id)
        stored_games = sorted(existing.game_ids) if existing.game_ids is not None else None
        if (existing.retailer_id, stored_games, existing.allocation_id) != (
            retailer_id,
            game_ids,
            allocation_id,
        ):
            raise Refusal("IDEMPOTENCY_CONFLICT", "this requestId was used with other parameters")
        return Revocation(existing, created=False)
    repo.take_retailer_turn(session, retailer_id, exclusive=True)
    targets = repo.allocations_of_retailer(
        session, retailer_id, game_ids=game_ids, allocation_id=allocation_id
    )
    if allocation_id is not None and not targets:
        raise Refusal("NOT_FOUND", "allocation not found", {"allocationId": str(allocation_id)})
    ids = [row.id for row in targets]
    revoked = repo.revoke_unsold(
        session, ids, actor=actor, reason=f"unsold stock revoked: {reason}", request_id=request_id
    )
    report = revocation_report(
        [AllocationRef(row.id, row.game_id, row.key_type) for row in targets],
        revoked,
        repo.status_counts(session, ids),
    )
    for row in targets:
        if revoked.get(row.id):
            km.outbox.add(
                session,
                events.allocation_released(
                    row,
                    released=revoked[row.id],
                    status=KeyStatus.REVOKED.value,
                    reason=reason,
                    actor=actor,
                    request_id=request_id,
                ),
            )
    record = repo.store_report(session, request_id, revoked_keys=report["revokedKeys"], report=report)
    return Revocation(record, created=True)
