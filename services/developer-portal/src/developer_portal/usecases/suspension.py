"""The Admin Service's suspension and reinstatement of a studio (audited under the deciding
admin's id, with the reason).

Suspending takes every published game of the studio off the store (``removed``, each with
game.unpublished) and marks them as taken off by the suspension; the studio cannot publish
meanwhile, and scheduled releases wait. developer.suspended tells the services keeping the
studio projection (key-manager refuses its keys' redemption and store orders).

Reinstating republishes the games the suspension took off (game.published each) — the studio
did not choose to take them off, so it gets its store back as it was — while games the studio
had unpublished itself stay off; developer.reinstated lets redemption resume."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import func
from sqlalchemy.orm import Session

from developer_portal import serializers
from developer_portal.context import PortalState
from developer_portal.db import repository
from developer_portal.db import suspension as repo
from developer_portal.domain.games import GameStatus
from developer_portal.usecases.common import Actor, audit, emit
from developer_portal.usecases.publishing import published_now, unpublished_now
from gamekeys_platform.contracts import developer as events
from gamekeys_platform.refusals import Refusal


def _locked_studio(session: Session, developer_id: uuid.UUID):
    row = repository.get_developer(session, developer_id, lock=True)
    if row is None:
        raise Refusal("NOT_FOUND", "developer account not found")
    return row


def suspend(
    portal: PortalState, session: Session, admin: Actor, developer_id: uuid.UUID, *, reason: str
) -> dict[str, Any]:
    """Suspend the studio; a suspended studio answers as it is (a retry changes nothing)."""
    row = _locked_studio(session, developer_id)
    before = serializers.developer(row)
    if row.suspended_at is not None:
        return before
    updated = repository.update_developer(
        session, developer_id, suspended_at=func.now(), suspension_reason=reason, suspended_by=admin.subject
    )
    after = serializers.developer(updated)
    audit(
        session,
        admin,
        developer_id=developer_id,
        action="developer.suspended",
        entity_type="developer",
        entity_id=developer_id,
        before=before,
        after=after,
    )
    taken_off = []
    on_store = [game for game in repo.games_of(session, developer_id) if game.status == GameStatus.PUBLISHED]
    for game in on_store:
        unpublished_now(
            portal,
            session,
            admin,
            game,
            reason=f"studio suspended: {reason}",
            unpublished_by_suspension=True,
        )
        taken_off.append(game.game_id)
    emit(
        portal,
        session,
        events.DeveloperSuspended(
            developer_id=developer_id,
            reason=reason,
            suspended_by=admin.subject,
            suspended_at=updated.suspended_at,
            unpublished_game_ids=taken_off,
        ),
    )
    return after


def reinstate(
    portal: PortalState, session: Session, admin: Actor, developer_id: uuid.UUID, *, reason: str
) -> dict[str, Any]:
    """Reinstate the studio; one that is not suspended answers as it is (a retry changes nothing)."""
    row = _locked_studio(session, developer_id)
    before = serializers.developer(row)
    if row.suspended_at is None:
        return before
    updated = repository.update_developer(
        session, developer_id, suspended_at=None, suspension_reason=None, suspended_by=None
    )
    after = serializers.developer(updated)
    audit(
        session,
        admin,
        developer_id=developer_id,
        action="developer.reinstated",
        entity_type="developer",
        entity_id=developer_id,
        before=before,
        after={**after, "reason": reason},
    )
    now = repository.now(session)
    back = []
    for game in repo.games_taken_off_by_suspension(session, developer_id):
        published_now(portal, session, admin, game, now)
        back.append(game.game_id)
    emit(
        portal,
        session,
        events.DeveloperReinstated(
            developer_id=developer_id,
            reason=reason,
            reinstated_by=admin.subject,
            reinstated_at=now,
            republished_game_ids=back,
        ),
    )
    return after
