"""Public API, ``/api/v1/developer/games/{gameId}/versions`` (ARCHITECTURE.md §5, game-builds)."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import Row

from game_builds.api import access
from game_builds.api import schemas as s
from game_builds.context import game_builds
from game_builds.db import builds as repo
from game_builds.domain.access import Action
from game_builds.domain.states import BuildStatus
from game_builds.usecases import uploads
from gamekeys_platform.app import Blueprint
from gamekeys_platform.auth import current_principal
from gamekeys_platform.db import request_session, transactional
from gamekeys_platform.idempotency import idempotent
from gamekeys_platform.openapi import error_responses
from gamekeys_platform.pagination import decode_cursor, page_body

blp = Blueprint(
    "versions",
    __name__,
    url_prefix="/api/v1/developer/games/<uuid:game_id>/versions",
    description="Game versions (builds): uploads straight to S3, verification, scanning",
)

NOT_FOUND = {404: "NOT_FOUND: no such game or version, or not one of the caller's studios"}


def version_dict(build: Row, parts_received: list[int] | None = None) -> dict[str, Any]:
    body = {
        "versionId": build.id,
        "gameId": build.game_id,
        "version": build.version,
        "platform": build.platform,
        "changelog": build.changelog,
        "status": build.status,
        "failure": build.failure,
        "file": {"name": build.file_name, "size": build.file_size, "sha256": build.sha256},
        "partSize": build.part_size,
        "partCount": build.part_count,
        "bytesVerified": build.bytes_verified,
        "retrying": build.last_error if build.status == BuildStatus.PROCESSING.value else None,
        "createdBy": build.created_by,
        "createdAt": build.created_at,
        "statusChangedAt": build.status_changed_at,
    }
    if parts_received is not None:
        body["partsReceived"] = parts_received
    return body


@blp.route("", methods=["POST"])
@access.require(Action.WRITE)
@error_responses(
    {**NOT_FOUND, 409: "CONFLICT: this version exists for this platform", 503: "SERVICE_UNAVAILABLE: S3"}
)
@idempotent
@blp.arguments(s.VersionRequestSchema)
@blp.response(201, s.CreatedVersionSchema)
def create_version(body, game_id: uuid.UUID):
    """Create a version and open its multipart upload: PUT each part to its URL, then complete."""
    session = request_session()
    owner = access.game_for(session, game_id, Action.WRITE)
    gb = game_builds()
    request = uploads.VersionRequest(
        game_id=game_id,
        developer_id=owner.developer_id,
        version=body["version"],
        platform=body["platform"],
        changelog=body["changelog"],
        file_name=body["file"]["name"],
        file_size=body["file"]["size"],
        sha256=body["file"]["sha256"].lower(),
    )
    with access.storage():
        build = uploads.create_version(gb, session, request, actor=current_principal().subject)
        first = range(1, min(build.part_count, gb.settings.build_first_part_urls) + 1)
        parts = uploads.part_urls(gb, build, list(first))
    upload = {
        "uploadId": build.upload_id,
        "partSize": build.part_size,
        "partCount": build.part_count,
        "parts": parts,
        "expiresAt": build.upload_expires_at,
    }
    location = f"/api/v1/developer/games/{game_id}/versions/{build.id}"
    return {**version_dict(build, []), "upload": upload}, {"Location": location}


@blp.route("", methods=["GET"])
@access.require(Action.READ)
@error_responses(NOT_FOUND)
@blp.arguments(s.VersionListQuerySchema, location="query")
@blp.response(200, s.VersionPageSchema)
def list_versions(query, game_id: uuid.UUID):
    """The game's versions, newest first; filter by status and platform."""
    session = request_session()
    access.game_for(session, game_id, Action.READ)
    page = repo.page(
        session,
        game_id,
        status=query.get("status"),
        platform=query.get("platform"),
        after=decode_cursor(query.get("cursor"), repo.BUILD_CURSOR),
        limit=query["limit"],
    )
    return page_body(page, version_dict, lambda row: (row.created_at, row.id))


@blp.route("/<uuid:version_id>", methods=["GET"])
@access.require(Action.READ)
@error_responses({**NOT_FOUND, 503: "SERVICE_UNAVAILABLE: S3 (while uploading)"})
@blp.response(200, s.VersionSchema)
def get_version(game_id: uuid.UUID, version_id: uuid.UUID):
    """A version: status, failure, upload progress (parts received) and processing progress."""
    session = request_session()
    build = access.build_for(session, game_id, version_id, Action.READ)
    received = None
    if build.status == BuildStatus.UPLOADING.value:
        store = game_builds().store
        with access.storage():
            received = sorted(store.received_parts(build.object_key, build.upload_id))
    return version_dict(build, received)


@blp.route("/<uuid:version_id>", methods=["PUT"])
@access.require(Action.WRITE)
@error_responses(NOT_FOUND)
@transactional
@blp.arguments(s.VersionUpdateSchema)
@blp.response(200, s.VersionSchema)
def update_version(body, game_id: uuid.UUID, version_id: uuid.UUID):
    """Edit the changelog (the only field that may change: the bytes are the version)."""
    session = request_session()
    build = access.build_for(session, game_id, version_id, Action.WRITE)
    return version_dict(uploads.edit_changelog(session, build, body["changelog"]))


@blp.route("/<uuid:version_id>", methods=["DELETE"])
@access.require(Action.WRITE)
@error_responses({**NOT_FOUND, 409: "CONFLICT: a ready build stays", 503: "SERVICE_UNAVAILABLE: S3"})
@transactional
@blp.response(204)
def delete_version(game_id: uuid.UUID, version_id: uuid.UUID):
    """Delete a version that is not ready: cancels its upload or processing, removes its bytes."""
    session = request_session()
    build = access.build_for(session, game_id, version_id, Action.WRITE)
    with access.storage():
        uploads.delete_version(game_builds(), session, build)


@blp.route("/<uuid:version_id>/upload/parts", methods=["POST"])
@access.require(Action.WRITE)
@error_responses({**NOT_FOUND, 409: "CONFLICT: the build is not uploading", 503: "SERVICE_UNAVAILABLE: S3"})
@blp.arguments(s.PartsRequestSchema)
@blp.response(200, s.PartsSchema)
def request_parts(body, game_id: uuid.UUID, version_id: uuid.UUID):
    """URLs for these parts (each signed with its SHA-256 when given), and the parts S3 already
    has (to resume an upload)."""
    session = request_session()
    build = access.build_for(session, game_id, version_id, Action.WRITE)
    with access.storage():
        if "parts" in body:
            hashes = {part["partNumber"]: part["sha256"].lower() for part in body["parts"]}
        else:
            hashes = dict.fromkeys(body["partNumbers"])
        numbers = sorted(hashes)
        signed = {number: digest for number, digest in hashes.items() if digest}
        return uploads.request_parts(game_builds(), build, numbers, signed)


@blp.route("/<uuid:version_id>/upload/complete", methods=["POST"])
@access.require(Action.WRITE)
@error_responses({**NOT_FOUND, 409: "CONFLICT: the upload failed or is gone", 503: "SERVICE_UNAVAILABLE: S3"})
@idempotent
@blp.arguments(s.CompleteRequestSchema)
@blp.response(202, s.VersionSchema)
def complete_upload(body, game_id: uuid.UUID, version_id: uuid.UUID):
    """Complete the multipart upload with every part's ETag and SHA-256; the worker then verifies
    the build. Completing again answers the version as it is."""
    session = request_session()
    build = access.build_for(session, game_id, version_id, Action.WRITE)
    parts = [(part["partNumber"], part["etag"], part["sha256"].lower()) for part in body["parts"]]
    with access.storage():
        return version_dict(uploads.complete_upload(game_builds(), session, build, parts))


@blp.route("/<uuid:version_id>/download", methods=["GET"])
@access.require(Action.READ)
@error_responses({**NOT_FOUND, 409: "CONFLICT: the build is not ready"})
@blp.response(200, s.DownloadSchema)
def download(game_id: uuid.UUID, version_id: uuid.UUID):
    """A short-lived presigned GET of a ready build."""
    session = request_session()
    build = access.build_for(session, game_id, version_id, Action.READ)
    url, expires_at = uploads.download(game_builds(), build)
    return {"url": url, "expiresAt": expires_at}
