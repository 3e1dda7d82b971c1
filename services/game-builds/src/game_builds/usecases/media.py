"""Use cases of media assets: declare one (a presigned PUT with its type and length signed in),
complete it (checked: an image decoded with Pillow, a trailer's container recognised), list, and
expire uploads never completed. Each writes in the caller's transaction with its event."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import Row
from sqlalchemy.orm import Session

from game_builds.context import GameBuilds
from game_builds.db import media as repo
from game_builds.domain.media import (
    IMAGE_TYPES,
    MediaKind,
    MediaStatus,
    Rejection,
    RejectReason,
    check_image,
    check_size,
    check_video_head,
    content_types,
)
from gamekeys_platform.contracts import builds as contracts
from gamekeys_platform.refusals import Refusal

VIDEO_HEAD_BYTES = 64


@dataclass(frozen=True)
class MediaRequest:
    game_id: uuid.UUID
    developer_id: uuid.UUID
    kind: MediaKind
    content_type: str
    size: int


def max_size(gb: GameBuilds, kind: MediaKind) -> int:
    settings = gb.settings
    return settings.media_trailer_max_bytes if kind is MediaKind.TRAILER else settings.media_image_max_bytes


def create_media(
    gb: GameBuilds, session: Session, request: MediaRequest, *, actor: str
) -> tuple[Row, str, datetime]:
    """The asset, ``uploading``, and the URL to PUT its bytes to (and when that URL expires)."""
    allowed = content_types(request.kind)
    if request.content_type not in allowed:
        raise Refusal(
            "VALIDATION_ERROR",
            f"a {request.kind.value} is one of {', '.join(allowed)}",
            {"fields": {"contentType": [f"one of {', '.join(allowed)} for a {request.kind.value}"]}},
        )
    limit = max_size(gb, request.kind)
    if request.size > limit:
        raise Refusal(
            "PAYLOAD_TOO_LARGE",
            f"a {request.kind.value} is at most {limit} bytes",
            {"reason": "media_too_large", "maxSize": limit},
        )
    media_id = uuid.uuid4()
    object_key = f"media/{request.game_id}/{media_id}"
    url, expires_at = gb.store.put_url(
        object_key, request.content_type, request.size, gb.settings.media_upload_url_seconds
    )
    asset = repo.add(
        session,
        id=media_id,
        game_id=request.game_id,
        developer_id=request.developer_id,
        kind=request.kind.value,
        content_type=request.content_type,
        size=request.size,
        status=MediaStatus.UPLOADING.value,
        object_key=object_key,
        created_by=actor,
        upload_expires_at=datetime.now(UTC) + timedelta(seconds=gb.settings.media_upload_expiry_seconds),
    )
    return asset, url, expires_at


def complete_media(gb: GameBuilds, session: Session, asset: Row) -> Row:
    """Check what was uploaded: ``ready`` (with media.ready) or ``rejected`` with the reason, its
    object deleted. Completing again answers the asset as it is. The caller commits, then answers
    a rejected asset with ``refusal_of`` (the rejection is kept, so listing shows why)."""
    if asset.status != MediaStatus.UPLOADING.value:
        return asset
    stored = gb.store.size_of(asset.object_key)
    if stored is None:
        raise Refusal("CONFLICT", "nothing was uploaded to the media's URL yet", {"reason": "not_uploaded"})
    kind = MediaKind(asset.kind)
    outcome = check_size(asset.size, stored)
    if outcome is None:
        if asset.content_type in IMAGE_TYPES:
            # Bounded by MEDIA_IMAGE_MAX_BYTES, checked at declaration and signed into the PUT.
            outcome = check_image(gb.store.read(asset.object_key), kind=kind, content_type=asset.content_type)
        else:
            head = gb.store.read(asset.object_key, first=VIDEO_HEAD_BYTES)
            outcome = check_video_head(head, content_type=asset.content_type)
    if isinstance(outcome, Rejection):
        done = repo.finish(session, asset.id, MediaStatus.REJECTED, failure=outcome.as_dict())
        if done is not None:
            gb.store.delete(asset.object_key)
    else:
        done = repo.finish(session, asset.id, MediaStatus.READY, width=outcome.width, height=outcome.height)
        if done is not None:
            gb.outbox.add(session, media_ready(done))
    return done or repo.get(session, asset.id, asset.game_id)  # finished meanwhile by another call


def refusal_of(asset: Row) -> Refusal | None:
    if asset.status != MediaStatus.REJECTED.value:
        return None
    return Refusal(
        "VALIDATION_ERROR",
        f"the {asset.kind} was refused: {asset.failure['detail']}",
        {"mediaId": str(asset.id), **asset.failure},
    )


def media_ready(asset: Row) -> contracts.MediaReady:
    return contracts.MediaReady(
        media_id=asset.id,
        game_id=asset.game_id,
        developer_id=asset.developer_id,
        kind=asset.kind,
        content_type=asset.content_type,
        size=asset.size,
        width=asset.width,
        height=asset.height,
        occurred_at=datetime.now(UTC),
    )


def expire_media_uploads(gb: GameBuilds) -> int:
    """Assets never completed in time: ``rejected`` / ``upload_expired``, any bytes deleted."""
    expired = 0
    while True:
        with gb.db.transaction() as session:
            rows = repo.expired_uploads(session)
            for asset in rows:
                failure = Rejection(RejectReason.UPLOAD_EXPIRED, "the upload was not completed in time")
                repo.finish(session, asset.id, MediaStatus.REJECTED, failure=failure.as_dict())
                gb.store.delete(asset.object_key)
        expired += len(rows)
        if len(rows) < 100:
            return expired
