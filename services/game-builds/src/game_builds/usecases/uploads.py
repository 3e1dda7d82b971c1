"""Use cases of the API: open a version's upload, hand out part URLs, complete, delete,
download. Each runs in the caller's transaction with its event; none commits. S3 is called
before anything is written, so an unreachable S3 leaves no row."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import Row
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from game_builds import events
from game_builds.context import GameBuilds
from game_builds.db import builds as repo
from game_builds.domain.states import DELETABLE, BuildStatus
from game_builds.domain.uploads import plan_parts, sha256_b64
from game_builds.storage import PartsRejected, UploadGone
from gamekeys_platform.refusals import Refusal


@dataclass(frozen=True)
class VersionRequest:
    game_id: uuid.UUID
    developer_id: uuid.UUID
    version: str
    platform: str
    changelog: str
    file_name: str
    file_size: int
    sha256: str


def _conflict(request: VersionRequest) -> Refusal:
    return Refusal(
        "CONFLICT",
        "this version already exists for this platform",
        {"reason": "version_exists", "version": request.version, "platform": request.platform},
    )


def part_urls(
    gb: GameBuilds, build: Row, numbers: list[int], hashes: dict[int, str] | None = None
) -> list[dict]:
    """Presigned part PUTs; a part whose SHA-256 (hex) is in ``hashes`` has it signed in."""
    seconds = gb.settings.build_part_url_seconds
    hashes = hashes or {}
    urls = []
    for number in numbers:
        checksum = sha256_b64(hashes[number]) if number in hashes else None
        url, headers = gb.store.part_url(build.object_key, build.upload_id, number, seconds, checksum)
        urls.append({"partNumber": number, "url": url, "headers": headers})
    return urls


def create_version(gb: GameBuilds, session: Session, request: VersionRequest, *, actor: str) -> Row:
    settings = gb.settings
    if request.file_size > settings.build_max_size_bytes:
        raise Refusal(
            "PAYLOAD_TOO_LARGE",
            "the build is larger than the largest accepted",
            {"reason": "build_too_large", "maxSize": settings.build_max_size_bytes},
        )
    if repo.version_taken(session, request.game_id, request.platform, request.version):
        raise _conflict(request)
    plan = plan_parts(
        request.file_size,
        max_size=settings.build_max_size_bytes,
        min_part_size=settings.build_min_part_size_bytes,
    )
    build_id = uuid.uuid4()
    object_key = f"builds/{request.game_id}/{build_id}"
    upload_id = gb.store.start_upload(object_key)
    try:
        with session.begin_nested():
            build = repo.add(
                session,
                id=build_id,
                game_id=request.game_id,
                developer_id=request.developer_id,
                version=request.version,
                platform=request.platform,
                changelog=request.changelog,
                file_name=request.file_name,
                file_size=request.file_size,
                sha256=request.sha256,
                status=BuildStatus.UPLOADING.value,
                object_key=object_key,
                upload_id=upload_id,
                part_size=plan.part_size,
                part_count=plan.part_count,
                created_by=actor,
                upload_expires_at=datetime.now(UTC) + timedelta(seconds=settings.build_upload_expiry_seconds),
            )
    except IntegrityError:
        gb.store.abort(object_key, upload_id)
        raise _conflict(request) from None
    gb.outbox.add(session, events.upload_started(build))
    return build


def request_parts(
    gb: GameBuilds, build: Row, numbers: list[int], hashes: dict[int, str] | None = None
) -> dict:
    """URLs for these parts (signed with their SHA-256 where given) and what S3 already has."""
    if build.status != BuildStatus.UPLOADING.value:
        raise Refusal("CONFLICT", f"the build is {build.status}: nothing to upload", {"status": build.status})
    beyond = [number for number in numbers if number > build.part_count]
    if beyond:
        raise Refusal(
            "VALIDATION_ERROR",
            f"this build has {build.part_count} parts",
            {"fields": {"partNumbers": [f"at most {build.part_count}"]}},
        )
    received = gb.store.received_parts(build.object_key, build.upload_id)
    return {
        "parts": part_urls(gb, build, numbers, hashes),
        "received": sorted(received),
        "receivedParts": [{"partNumber": n, **received[n]} for n in sorted(received)],
    }


def complete_upload(gb: GameBuilds, session: Session, build: Row, parts: list[tuple[int, str, str]]) -> Row:
    """Every part in S3 → ``uploaded``, for the worker; ``parts`` are (number, ETag, hex SHA-256),
    which S3 checks against what it holds. Completing again answers the build as it is; a
    completion whose database write was lost after S3 completed is finished on retry."""
    if build.status != BuildStatus.UPLOADING.value:
        if build.status == BuildStatus.FAILED.value:
            raise Refusal("CONFLICT", "the build failed", {"status": build.status, "failure": build.failure})
        return build
    numbers = [number for number, _, _ in parts]
    expected = list(range(1, build.part_count + 1))
    if sorted(numbers) != expected:
        raise Refusal(
            "VALIDATION_ERROR",
            f"the completion must list parts 1 to {build.part_count} once each",
            {"fields": {"parts": [f"expected part numbers 1..{build.part_count}"]}},
        )
    try:
        gb.store.complete(
            build.object_key,
            build.upload_id,
            [(number, etag, sha256_b64(sha256)) for number, etag, sha256 in sorted(parts)],
        )
    except PartsRejected as exc:
        raise Refusal(
            "VALIDATION_ERROR",
            "S3 refused these parts: an ETag or SHA-256 does not match, or a part is missing",
            {"reason": "parts_rejected", "s3Code": str(exc), "fields": {"parts": ["not the uploaded parts"]}},
        ) from None
    except UploadGone:
        if not gb.store.exists(build.object_key):
            raise Refusal("CONFLICT", "the upload no longer exists", {"reason": "upload_gone"}) from None
    moved = repo.move(session, build.id, BuildStatus.UPLOADED, lease_until=None)
    if moved is None:  # completed meanwhile by a concurrent call
        return repo.get(session, build.id, build.game_id)
    gb.outbox.add(session, events.uploaded(moved, build.created_at))
    return moved


def edit_changelog(session: Session, build: Row, changelog: str) -> Row:
    """The changelog is the one field of a version that may change, in every state."""
    edited = repo.set_changelog(session, build.id, changelog)
    if edited is None:  # deleted since it was read
        raise Refusal("NOT_FOUND", "version not found", {"versionId": str(build.id)})
    return edited


def delete_version(gb: GameBuilds, session: Session, build: Row) -> None:
    """Cancel an upload or a build stuck in processing, or remove a failed one, with its bytes."""
    if BuildStatus(build.status) not in DELETABLE:
        raise Refusal(
            "CONFLICT",
            f"a {build.status} build cannot be deleted",
            {"reason": "not_deletable", "status": build.status},
        )
    repo.remove(session, build.id)
    if build.status == BuildStatus.UPLOADING.value:
        gb.store.abort(build.object_key, build.upload_id)
    else:
        gb.store.delete(build.object_key)


def download(gb: GameBuilds, build: Row) -> tuple[str, datetime]:
    if build.status != BuildStatus.READY.value:
        raise Refusal("CONFLICT", f"a {build.status} build cannot be downloaded", {"status": build.status})
    return gb.store.download_url(build.object_key, build.file_name, gb.settings.build_download_url_seconds)
