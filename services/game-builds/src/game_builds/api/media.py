"""Public API, ``/api/v1/developer/games/{gameId}/media`` (ARCHITECTURE.md §5, game-builds):
screenshots, capsules and trailers, PUT straight to S3 and checked on completion."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import Row

from game_builds.api import access
from game_builds.api import schemas as s
from game_builds.context import game_builds
from game_builds.db import media as repo
from game_builds.domain.access import Action
from game_builds.domain.media import MediaKind, MediaStatus
from game_builds.usecases import media as usecase
from gamekeys_platform.app import Blueprint
from gamekeys_platform.auth import current_principal
from gamekeys_platform.db import request_session, transactional
from gamekeys_platform.idempotency import idempotent
from gamekeys_platform.openapi import error_responses
from gamekeys_platform.pagination import decode_cursor, page_body

blp = Blueprint(
    "media",
    __name__,
    url_prefix="/api/v1/developer/games/<uuid:game_id>/media",
    description="A game's media (screenshots, capsules, trailers): uploads straight to S3, checked",
)

NOT_FOUND = {404: "NOT_FOUND: no such game or media, or not one of the caller's studios"}


def media_dict(asset: Row) -> dict[str, Any]:
    url = None
    if asset.status == MediaStatus.READY.value:
        gb = game_builds()
        url, _ = gb.store.download_url(asset.object_key, None, gb.settings.build_download_url_seconds)
    return {
        "mediaId": asset.id,
        "gameId": asset.game_id,
        "kind": asset.kind,
        "contentType": asset.content_type,
        "size": asset.size,
        "status": asset.status,
        "failure": asset.failure,
        "width": asset.width,
        "height": asset.height,
        "url": url,
        "createdBy": asset.created_by,
        "createdAt": asset.created_at,
        "statusChangedAt": asset.status_changed_at,
    }


@blp.route("", methods=["POST"])
@access.require(Action.WRITE_MEDIA)
@error_responses(
    {
        **NOT_FOUND,
        413: "PAYLOAD_TOO_LARGE: over the kind's largest size",
        503: "SERVICE_UNAVAILABLE: S3",
    }
)
@idempotent
@transactional
@blp.arguments(s.MediaRequestSchema)
@blp.response(201, s.CreatedMediaSchema)
def create_media(body, game_id: uuid.UUID):
    """Declare a media asset (kind, content type, size): PUT its bytes to the URL with the given
    headers, then complete it."""
    session = request_session()
    owner = access.game_for(session, game_id, Action.WRITE_MEDIA, "media")
    request = usecase.MediaRequest(
        game_id=game_id,
        developer_id=owner.developer_id,
        kind=MediaKind(body["kind"]),
        content_type=body["contentType"],
        size=body["size"],
    )
    with access.storage():
        asset, url, expires_at = usecase.create_media(
            game_builds(), session, request, actor=current_principal().subject
        )
    upload = {
        "method": "PUT",
        "url": url,
        "headers": {"Content-Type": asset.content_type, "Content-Length": str(asset.size)},
        "expiresAt": expires_at,
    }
    return {**media_dict(asset), "upload": upload}


@blp.route("", methods=["GET"])
@access.require(Action.READ)
@error_responses(NOT_FOUND)
@blp.arguments(s.MediaListQuerySchema, location="query")
@blp.response(200, s.MediaPageSchema)
def list_media(query, game_id: uuid.UUID):
    """The game's media, newest first; filter by kind and status. Ready ones carry a short-lived URL."""
    session = request_session()
    access.game_for(session, game_id, Action.READ, "media")
    page = repo.page(
        session,
        game_id,
        kind=query.get("kind"),
        status=query.get("status"),
        after=decode_cursor(query.get("cursor"), repo.MEDIA_CURSOR),
        limit=query["limit"],
    )
    return page_body(page, media_dict, lambda row: (row.created_at, row.id))


@blp.route("/<uuid:media_id>/complete", methods=["POST"])
@access.require(Action.WRITE_MEDIA)
@error_responses(
    {
        **NOT_FOUND,
        409: "CONFLICT: nothing uploaded yet",
        422: "VALIDATION_ERROR: refused (details.reason says why: not an image, wrong format, dimensions...)",
        503: "SERVICE_UNAVAILABLE: S3",
    }
)
@blp.response(200, s.MediaSchema)
def complete_media(game_id: uuid.UUID, media_id: uuid.UUID):
    """Check the uploaded asset: ready (media.ready), or refused with the reason (kept as
    ``rejected``). Completing again answers the same."""
    session = request_session()
    try:
        asset = access.media_for(session, game_id, media_id, Action.WRITE_MEDIA)
        with access.storage():
            done = usecase.complete_media(game_builds(), session, asset)
        session.commit()  # a rejection is kept, then answered as the refusal it is
    except BaseException:
        session.rollback()
        raise
    refusal = usecase.refusal_of(done)
    if refusal is not None:
        raise refusal
    return media_dict(done)
