"""The projection of builds.events (game-builds owns the builds): the latest state of each
version of a game, read by the submission preflight. Written by the worker's consumer in the
transaction of the inbox record, so a redelivered event changes nothing twice; a state older
than the one stored (by the producer's ``occurredAt``) arriving late is ignored."""

from __future__ import annotations

from sqlalchemy import func
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.orm import Session

from developer_portal.db.tables import builds as table
from gamekeys_platform.contracts import EventHandlers, builds
from gamekeys_platform.events import Event

BuildEvent = (
    builds.BuildUploadStarted
    | builds.BuildUploaded
    | builds.BuildScanned
    | builds.BuildReady
    | builds.BuildFailed
    | builds.BuildRejected
)


def _apply(session: Session, data: BuildEvent, _event: Event) -> None:
    failure = None
    if isinstance(data, builds.BuildFailed):
        failure = data.failure.model_dump(mode="json", exclude_none=True)
    elif isinstance(data, builds.BuildRejected):
        failure = {"reason": "rejected", "detail": data.reason}
    values = {
        "game_id": data.game_id,
        "developer_id": data.developer_id,
        "version": data.version,
        "platform": data.platform,
        "status": data.status,
        "failure": failure,
        "occurred_at": data.occurred_at,
    }
    statement = insert(table).values(version_id=data.version_id, **values)
    session.execute(
        statement.on_conflict_do_update(
            index_elements=[table.c.version_id],
            set_={**values, "updated_at": func.now()},
            where=table.c.occurred_at < statement.excluded.occurred_at,
        )
    )


apply_builds_event = EventHandlers(
    {
        builds.BuildUploadStarted: _apply,
        builds.BuildUploaded: _apply,
        builds.BuildScanned: _apply,
        builds.BuildReady: _apply,
        builds.BuildFailed: _apply,
        builds.BuildRejected: _apply,
    }
)
