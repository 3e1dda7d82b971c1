"""Publishing: preflight, submissions, the Admin Service's moderation decision, publish and
unpublish."""

from __future__ import annotations

import uuid
from datetime import datetime

from developer_portal.api import access
from developer_portal.api.blueprints import internal, public
from developer_portal.api.schemas import (
    DecisionSchema,
    GameSchema,
    PreflightQuerySchema,
    PreflightSchema,
    PublishSchema,
    SubmissionPageSchema,
    SubmissionSchema,
)
from developer_portal.context import portal
from developer_portal.domain.permissions import Action
from developer_portal.usecases import publishing
from gamekeys_platform.auth import require_scopes
from gamekeys_platform.db import request_session, transactional
from gamekeys_platform.idempotency import idempotent
from gamekeys_platform.openapi import error_responses
from gamekeys_platform.pagination import PageQuerySchema, decode_cursor

SCOPE_MODERATE = "games:moderate"

_STATUS_CONFLICT = {409: "CONFLICT: the game's status does not allow this step (details.status)"}


@public.route("/games/<uuid:game_id>/preflight", methods=["GET"])
@access.require_user
@public.arguments(PreflightQuerySchema, location="query")
@public.response(200, PreflightSchema)
def get_preflight(query, game_id):
    """Every check a submission must pass, each with what to do when it fails (studio members,
    platform admins); with ``versionId`` also whether that build is ready."""
    row = access.game(game_id, Action.GAME_READ).game
    return publishing.preflight(portal(), request_session(), row, query["versionId"])


@public.route("/games/<uuid:game_id>/versions/<uuid:version_id>/submit", methods=["POST"])
@error_responses(
    {
        409: "CONFLICT: a submission is open already (SUBMISSION_OPEN) or the game's status does not "
        "allow one",
        422: "VALIDATION_ERROR: the preflight failed; the failing checks are in details.checks",
    }
)
@access.require_user
@idempotent
@public.response(202, SubmissionSchema)
def submit_version(game_id, version_id):
    """Submit a ready build of the game for review (studio admins and developers): the game
    becomes ``pending_review``."""
    row = access.game(game_id, Action.GAME_SUBMIT, lock=True).game
    return publishing.submit(portal(), request_session(), access.actor(), row, version_id)


@public.route("/games/<uuid:game_id>/submissions", methods=["GET"])
@access.require_user
@public.arguments(PageQuerySchema, location="query")
@public.response(200, SubmissionPageSchema)
def list_submissions(query, game_id):
    """The game's submissions, newest first, with the moderators' decisions, notes and findings
    and what changed since the rejected submission before each."""
    access.game(game_id, Action.SUBMISSION_READ)
    after = decode_cursor(query["cursor"], (datetime, uuid.UUID))
    return publishing.list_submissions(request_session(), game_id, after=after, limit=query["limit"])


@public.route("/games/<uuid:game_id>/publish", methods=["POST"])
@error_responses(_STATUS_CONFLICT)
@access.require_user
@transactional
@public.arguments(PublishSchema, required=False)
@public.response(200, GameSchema)
def publish_game(body, game_id):
    """Publish an approved (or removed) game now, or schedule its release with ``releaseAt``
    (studio admins and developers)."""
    row = access.game(game_id, Action.GAME_PUBLISH, lock=True).game
    return publishing.publish(
        portal(), request_session(), access.actor(), row, release_at=(body or {}).get("releaseAt")
    )


@public.route("/games/<uuid:game_id>/unpublish", methods=["POST"])
@error_responses(_STATUS_CONFLICT)
@access.require_user
@transactional
@public.response(200, GameSchema)
def unpublish_game(game_id):
    """Take a published game off the store (``removed``), or cancel a scheduled release (studio
    admins and developers)."""
    row = access.game(game_id, Action.GAME_PUBLISH, lock=True).game
    return publishing.unpublish(portal(), request_session(), access.actor(), row)


@internal.route("/submissions/<uuid:submission_id>/decision", methods=["POST"])
@error_responses({409: "CONFLICT: the submission was decided the other way already"})
@require_scopes(SCOPE_MODERATE)
@idempotent
@internal.arguments(DecisionSchema)
@internal.response(200, SubmissionSchema)
def decide_submission(body, submission_id):
    """The Admin Service's moderation decision: approve, or reject with notes (and findings the
    studio sees). The same decision again answers the same."""
    return publishing.decide(
        portal(),
        request_session(),
        access.actor(),
        submission_id,
        decision=body["decision"],
        notes=body["notes"],
        findings=body["findings"],
    )
