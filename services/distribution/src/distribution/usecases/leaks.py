"""Leak response: a retailer's unsold keys revoked in one operation (all its stock, one game's,
or one allocation's) by a platform admin, or by a studio for its own games' allocations; the
keys are revoked by key-manager in one set-based statement, and the answer is its report."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from sqlalchemy import Row
from sqlalchemy.orm import Session

from distribution import events
from distribution.context import Distribution
from distribution.db import repository as repo
from distribution.db.tables import studio_projection
from gamekeys_platform.refusals import Refusal

# Team roles whose members may revoke their studio's games' stock at a retailer.
REVOKING_TEAM_ROLES = ("admin", "developer")

# A revocation's id derives from (caller, requestId), so two callers' request ids never meet.
_REVOCATION_NAMESPACE = uuid.UUID("0c0b6a1e-3d5f-4f7e-9b0a-2a4c6e8f1d3b")


def revocation_id_for(actor: str, request_id: str) -> uuid.UUID:
    return uuid.uuid5(_REVOCATION_NAMESPACE, f"{actor}|{request_id}")


@dataclass(frozen=True)
class Caller:
    subject: str
    platform_admin: bool


@dataclass(frozen=True)
class Revocation:
    record: Row  # stock_revocations, its report as answered
    created: bool  # False: a retry of the same request id; nothing changed now


def _scope(
    session: Session,
    caller: Caller,
    retailer_id: uuid.UUID,
    game_id: uuid.UUID | None,
    allocation_id: uuid.UUID | None,
) -> list[uuid.UUID] | None:
    """The games whose allocations the revocation may take (None: every game), after checking
    what the caller named: a game or allocation the caller may not act on looks unknown."""
    if caller.platform_admin:
        games = [game_id] if game_id is not None else None
    else:
        mine = studio_projection.games_of_member(session, caller.subject, REVOKING_TEAM_ROLES)
        if not mine:
            raise Refusal("FORBIDDEN", "only a studio's admins and developers may revoke its games' stock")
        if game_id is not None and game_id not in mine:
            raise Refusal("NOT_FOUND", "game not found", {"gameId": str(game_id)})
        games = [game_id] if game_id is not None else sorted(mine)
    if allocation_id is not None:
        allocation = repo.get_allocation(session, allocation_id)
        if (
            allocation is None
            or allocation.retailer_id != retailer_id
            or (games is not None and allocation.game_id not in games)
        ):
            raise Refusal("NOT_FOUND", "allocation not found", {"allocationId": str(allocation_id)})
    return games


def revoke_unsold(
    dist: Distribution,
    session: Session,
    caller: Caller,
    *,
    retailer_id: uuid.UUID,
    request_id: str,
    reason: str,
    game_id: uuid.UUID | None,
    allocation_id: uuid.UUID | None,
) -> Revocation:
    """Revoke every unsold key the retailer holds (of ``game_id``, or of ``allocation_id``; a
    studio only ever its own games'), sold and activated keys staying with their buyers; the
    retailer's stock in that scope goes to zero (each allocation's keys count as released) and
    each allocation that lost keys gets a stock.revoked. Idempotent by (caller, requestId): a
    retry answers the first report; the same id with another scope is IDEMPOTENCY_CONFLICT."""
    if repo.get_retailer(session, retailer_id) is None:
        raise Refusal("NOT_FOUND", "retailer not found", {"retailerId": str(retailer_id)})
    games = _scope(session, caller, retailer_id, game_id, allocation_id)
    revocation_id = revocation_id_for(caller.subject, request_id)
    claimed = repo.claim_revocation(
        session,
        id=revocation_id,
        request_id=request_id,
        retailer_id=retailer_id,
        game_id=game_id,
        allocation_id=allocation_id,
        reason=reason,
        created_by=caller.subject,
    )
    if not claimed:
        existing = repo.get_revocation(session, revocation_id)
        if (existing.retailer_id, existing.game_id, existing.allocation_id) != (
            retailer_id,
            game_id,
            allocation_id,
        ):
            raise Refusal(
                "IDEMPOTENCY_CONFLICT", "this requestId was used with another retailer, game or allocation"
            )
        return Revocation(existing, created=False)
    report = dist.key_manager.revoke_unsold(
        request_id=str(revocation_id),
        retailer_id=retailer_id,
        reason=reason,
        game_ids=games,
        allocation_id=allocation_id,
    )
    record = repo.get_revocation(session, revocation_id)
    for item in report["allocations"]:
        if not item["revoked"]:
            continue
        allocation = uuid.UUID(item["allocationId"])
        if repo.get_allocation(session, allocation) is None:
            continue  # never recorded here (an orphan the reconciler releases): no stock to count
        repo.record_release(session, allocation, item["revoked"])
        dist.outbox.add(session, events.stock_revoked(record, item, retailer_id=retailer_id))
    answer = {
        "revokedKeys": report["revokedKeys"],
        "leftSold": report["leftSold"],
        "leftActivated": report["leftActivated"],
        "games": report["games"],
        "allocations": report["allocations"],
    }
    record = repo.store_revocation_report(
        session, revocation_id, revoked_keys=answer["revokedKeys"], report=answer
    )
    return Revocation(record, created=True)
