"""The publishing workflow: preflight, submitting a version for review, the Admin Service's
moderation decision, publishing (now or at a scheduled time) and unpublishing. Every step is an
audited status change of the game's state machine with its events."""

from __future__ import annotations

import logging
import uuid
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Row
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from developer_portal import serializers
from developer_portal.context import PortalState
from developer_portal.db import publishing as repo
from developer_portal.db import repository
from developer_portal.domain import games as rules
from developer_portal.domain import publishing, suspension
from developer_portal.domain.games import GameStatus
from developer_portal.usecases import catalog
from developer_portal.usecases.common import Actor, audit, emit
from gamekeys_platform.contracts import developer as events
from gamekeys_platform.pagination import page_body
from gamekeys_platform.refusals import Refusal

log = logging.getLogger("developer_portal.publishing")

WORKER = Actor("developer-portal.release-scheduler", is_service=True)


# --- preflight ------------------------------------------------------------------------------


def _facts(session: Session, game: Row) -> publishing.GameFacts:
    developer = repository.get_developer(session, game.developer_id)
    metadata = repository.get_metadata(session, game.game_id)
    pricing = repository.get_pricing(session, game.game_id)
    media = (metadata.media_urls if metadata is not None else None) or {}
    return publishing.GameFacts(
        verification_status=developer.verification_status,
        title=game.title,
        description=metadata.description if metadata is not None else None,
        short_description=metadata.short_description if metadata is not None else None,
        genres=list(metadata.genres) if metadata is not None else [],
        screenshots=list(media.get("screenshots") or []),
        base_price=(
            serializers.pricing_from_row(pricing).base_price.to_json() if pricing is not None else None
        ),
        builds=[
            publishing.Build(str(b.version_id), b.version, b.platform, b.status, b.failure)
            for b in repo.game_builds(session, game.game_id)
        ],
    )


def _checks(portal: PortalState, session: Session, game: Row, version_id: uuid.UUID | None):
    return publishing.preflight(
        _facts(session, game),
        version_id=str(version_id) if version_id is not None else None,
        requires_media=portal.settings.submission_requires_media,
    )


def preflight(
    portal: PortalState, session: Session, game: Row, version_id: uuid.UUID | None = None
) -> dict[str, Any]:
    """What a submission of the game (of ``version_id``, when given) needs, check by check."""
    checks = _checks(portal, session, game, version_id)
    return {"ready": publishing.passed(checks), "checks": [check.to_json() for check in checks]}


# --- status changes -------------------------------------------------------------------------


def _move(
    portal: PortalState,
    session: Session,
    actor: Actor,
    game: Row,
    target: GameStatus,
    *,
    action: str,
    **values: Any,
) -> Row:
    """The game's step to ``target`` (CONFLICT with the current status when the state machine
    refuses it), audited, with game.updated for the projections that keep the status."""
    rules.check_transition(game.status, target.value)
    updated = repository.update_game(session, game.game_id, status=target.value, **values)
    audit(
        session,
        actor,
        developer_id=game.developer_id,
        action=action,
        entity_type="game",
        entity_id=game.game_id,
        before=serializers.game(game),
        after=serializers.game(updated),
    )
    emit(
        portal,
        session,
        events.GameUpdated(
            game_id=game.game_id, developer_id=game.developer_id, title=updated.title, status=updated.status
        ),
    )
    return updated


def _publishing_fields(game: Row, actor: Actor) -> dict[str, Any]:
    return {
        "game_id": game.game_id,
        "developer_id": game.developer_id,
        "title": game.title,
        "status": game.status,
        "changed_by": actor.subject,
    }


# --- submission -----------------------------------------------------------------------------


def _snapshot(session: Session, game: Row, build: Row) -> dict[str, Any]:
    metadata = serializers.game_metadata(game.game_id, repository.get_metadata(session, game.game_id))
    pricing = serializers.game_pricing(
        game.game_id, repository.get_pricing(session, game.game_id), datetime.now(UTC)
    )
    return {
        "title": game.title,
        "metadata": {k: v for k, v in metadata.items() if k not in ("gameId", "updatedAt")},
        "pricing": {k: pricing[k] for k in ("basePrice", "regionalPrices", "discounts")},
        "build": {"versionId": str(build.version_id), "version": build.version, "platform": build.platform},
    }


def _open_submission_conflict(row: Row) -> Refusal:
    return Refusal(
        "CONFLICT",
        "the game has a submission under review already",
        {
            "reason": "SUBMISSION_OPEN",
            "status": GameStatus.PENDING_REVIEW.value,
            "submissionId": str(row.submission_id),
        },
    )


def submit(
    portal: PortalState, session: Session, actor: Actor, game: Row, version_id: uuid.UUID
) -> dict[str, Any]:
    """Submit ``version_id`` for review: the game (locked by the caller) becomes pending_review
    with a submission carrying a snapshot and what changed since the rejected submission before
    it. One open submission per game (CONFLICT SUBMISSION_OPEN); a status the state machine does
    not allow is CONFLICT; a failing preflight VALIDATION_ERROR with ``details.checks``."""
    open_row = repo.open_submission(session, game.game_id)
    if open_row is not None:
        raise _open_submission_conflict(open_row)
    rules.check_transition(game.status, GameStatus.PENDING_REVIEW.value)
    publishing.refuse_failed(_checks(portal, session, game, version_id))
    build = repo.get_build(session, version_id)
    snapshot = _snapshot(session, game, build)
    previous = repo.latest_submission(session, game.game_id)
    changes = None
    if previous is not None and previous.status == publishing.SubmissionStatus.REJECTED:
        changes = publishing.diff(previous.snapshot, snapshot)
    else:
        previous = None
    submission_id = uuid.uuid4()
    try:
        with session.begin_nested():
            row = repo.insert_submission(
                session,
                submission_id=submission_id,
                game_id=game.game_id,
                developer_id=game.developer_id,
                version_id=version_id,
                status=publishing.SubmissionStatus.PENDING_REVIEW.value,
                snapshot=snapshot,
                previous_submission_id=previous.submission_id if previous is not None else None,
                changes=changes,
                submitted_by=actor.subject,
            )
    except IntegrityError:  # another submission of the game won the race
        raise _open_submission_conflict(repo.open_submission(session, game.game_id)) from None
    result = serializers.submission(row)
    audit(
        session,
        actor,
        developer_id=game.developer_id,
        action="submission.created",
        entity_type="submission",
        entity_id=submission_id,
        before=None,
        after=result,
    )
    updated = _move(portal, session, actor, game, GameStatus.PENDING_REVIEW, action="game.submitted")
    emit(
        portal,
        session,
        events.SubmissionCreated(
            submission_id=submission_id,
            game_id=game.game_id,
            developer_id=game.developer_id,
            version_id=version_id,
            submitted_by=actor.subject,
            submitted_at=row.submitted_at,
            previous_submission_id=row.previous_submission_id,
            changed_fields=[change["field"] for change in changes or []],
        ),
    )
    emit(
        portal,
        session,
        events.GameSubmitted(
            **_publishing_fields(updated, actor), submission_id=submission_id, version_id=version_id
        ),
    )
    return result


# --- moderation -----------------------------------------------------------------------------


def decide(
    portal: PortalState,
    session: Session,
    actor: Actor,
    submission_id: uuid.UUID,
    *,
    decision: str,
    notes: str | None,
    findings: list[dict[str, str]],
) -> dict[str, Any]:
    """The Admin Service's decision on a submission: approve → the game is approved, reject →
    rejected with the notes and findings. The decision already taken again answers the same and
    changes nothing; the opposite one is CONFLICT SUBMISSION_ALREADY_DECIDED."""
    row = repo.get_submission(session, submission_id)
    if row is None:
        raise Refusal("NOT_FOUND", "submission not found")
    game = repository.get_game(session, row.game_id, lock=True)  # the game first, as submit does
    row = repo.get_submission(session, submission_id, lock=True)
    outcome, changed = publishing.decide(row.status, decision)
    if not changed:
        return serializers.submission(row)
    decided = repo.decide_submission(
        session,
        submission_id,
        status=outcome.value,
        decision=decision,
        notes=notes,
        findings=findings,
        decided_by=actor.subject,
    )
    result = serializers.submission(decided)
    audit(
        session,
        actor,
        developer_id=row.developer_id,
        action="submission.decided",
        entity_type="submission",
        entity_id=submission_id,
        before=serializers.submission(row),
        after=result,
    )
    target = GameStatus.APPROVED if outcome is publishing.SubmissionStatus.APPROVED else GameStatus.REJECTED
    updated = _move(portal, session, actor, game, target, action=f"game.{target.value}")
    finding_events = [events.Finding(**finding) for finding in findings]
    emit(
        portal,
        session,
        events.SubmissionDecided(
            submission_id=submission_id,
            game_id=row.game_id,
            developer_id=row.developer_id,
            version_id=row.version_id,
            decision=decision,
            notes=notes,
            findings=finding_events,
            decided_by=actor.subject,
            decided_at=decided.decided_at,
        ),
    )
    if target is GameStatus.APPROVED:
        emit(
            portal,
            session,
            events.GameApproved(**_publishing_fields(updated, actor), submission_id=submission_id),
        )
    else:
        emit(
            portal,
            session,
            events.GameRejected(
                **_publishing_fields(updated, actor),
                submission_id=submission_id,
                notes=notes,
                findings=finding_events,
            ),
        )
    return result


# --- publishing -----------------------------------------------------------------------------


def published_now(portal: PortalState, session: Session, actor: Actor, game: Row, now: datetime) -> Row:
    """The (locked) game on the store from ``now``: published with the latest approved version,
    audited, game.updated and game.published with its listing."""
    approved = repo.latest_approved(session, game.game_id)
    version_id = approved.version_id if approved is not None else None
    updated = _move(
        portal,
        session,
        actor,
        game,
        GameStatus.PUBLISHED,
        action="game.published",
        release_at=None,
        published_at=now,
        published_version_id=version_id,
        unpublished_by_suspension=False,
    )
    pricing_row = repository.get_pricing(session, game.game_id)
    prices = serializers.pricing_from_row(pricing_row).to_json(now) if pricing_row is not None else None
    build = None
    if approved is not None:
        snapshot_build = approved.snapshot["build"]
        build = events.PublishedBuild(
            version_id=version_id, version=snapshot_build["version"], platform=snapshot_build["platform"]
        )
    emit(
        portal,
        session,
        events.GamePublished(
            **_publishing_fields(updated, actor),
            version_id=version_id,
            release_at=now,
            base_price=prices["basePrice"] if prices else None,
            regional_prices=prices["regionalPrices"] if prices else {},
            build=build,
            listing=catalog.listing_for_event(session, game.game_id),
        ),
    )
    return updated


def publish(
    portal: PortalState, session: Session, actor: Actor, game: Row, *, release_at: datetime | None
) -> dict[str, Any]:
    """Publish the (locked) game now, or schedule its release at ``release_at``: it keeps its
    status until the worker publishes it then. Only an approved game (or a removed one coming
    back) may be published: CONFLICT with the current status otherwise."""
    rules.check_transition(game.status, GameStatus.PUBLISHED.value)
    developer = repository.get_developer(session, game.developer_id)
    suspension.refuse_while_suspended(developer.suspended_at is not None, "publish games")
    now = repository.now(session)
    if release_at is None:
        return serializers.game(published_now(portal, session, actor, game, now))
    return _set_release(session, actor, game, release_at, action="game.release_scheduled")


def _set_release(
    session: Session, actor: Actor, game: Row, release_at: datetime | None, *, action: str
) -> dict[str, Any]:
    """Schedule (or, with None, cancel) the game's release: audited, no event (the status is
    unchanged until the release happens)."""
    result = serializers.game(repository.update_game(session, game.game_id, release_at=release_at))
    audit(
        session,
        actor,
        developer_id=game.developer_id,
        action=action,
        entity_type="game",
        entity_id=game.game_id,
        before=serializers.game(game),
        after=result,
    )
    return result


def unpublish(portal: PortalState, session: Session, actor: Actor, game: Row) -> dict[str, Any]:
    """Take the (locked) game off the store (published → removed), or cancel its scheduled
    release (the game stays as it was). Anything else is CONFLICT with the current status."""
    if game.release_at is not None and game.status != GameStatus.PUBLISHED:
        return _set_release(session, actor, game, None, action="game.release_cancelled")
    return serializers.game(unpublished_now(portal, session, actor, game, reason=None))


def unpublished_now(
    portal: PortalState,
    session: Session,
    actor: Actor,
    game: Row,
    *,
    reason: str | None,
    unpublished_by_suspension: bool = False,
) -> Row:
    """The (locked, published) game off the store: removed, audited, game.updated and
    game.unpublished with its listing."""
    updated = _move(
        portal,
        session,
        actor,
        game,
        GameStatus.REMOVED,
        action="game.unpublished",
        unpublished_by_suspension=unpublished_by_suspension,
    )
    emit(
        portal,
        session,
        events.GameUnpublished(
            **_publishing_fields(updated, actor),
            reason=reason,
            listing=catalog.listing_for_event(session, game.game_id),
        ),
    )
    return updated


def release_due(portal: PortalState, *, now: datetime | None = None, limit: int = 50) -> int:
    """The worker's step: publish every game whose scheduled release is due, each exactly once
    (claimed FOR UPDATE SKIP LOCKED and its schedule cleared in the same transaction, so a
    second run or a second worker finds nothing). Returns how many it published."""
    with portal.db.transaction() as session:
        moment = now or repository.now(session)
        due = repo.claim_due_releases(session, now=moment, statuses=rules.SCHEDULABLE, limit=limit)
        for game in due:
            published_now(portal, session, WORKER, game, moment)
    if due:
        log.info("scheduled releases published", extra={"count": len(due)})
    return len(due)


def list_submissions(session: Session, game_id: uuid.UUID, *, after, limit: int) -> dict[str, Any]:
    page = repo.list_submissions(session, game_id, after=after, limit=limit)
    return page_body(page, serializers.submission, lambda row: (row.submitted_at, row.submission_id))
