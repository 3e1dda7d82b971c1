"""The worker's use cases: verify one build (size, SHA-256 and the clamd scan in one pass over
the object), and expire uploads never completed. Each transition is one transaction with its
event."""

from __future__ import annotations

import hashlib
import logging
import uuid
from datetime import UTC, datetime

from sqlalchemy import Row

from game_builds import events
from game_builds.archives import scan_members
from game_builds.context import GameBuilds
from game_builds.db import builds as repo
from game_builds.domain.states import BuildStatus, FailureReason
from game_builds.domain.uploads import Failure, ScanResult, verdict
from game_builds.scanner import ScannerUnavailable
from game_builds.storage import StorageUnavailable, UploadGone

log = logging.getLogger("game_builds.processing")

PROGRESS_EVERY = 64 * 1024 * 1024
SCANNER = "clamav"


def process_next(gb: GameBuilds) -> uuid.UUID | None:
    """Verify the next waiting build, if any; its id."""
    settings = gb.settings
    with gb.db.transaction() as session:
        build = repo.claim_next(session, lease_seconds=settings.build_processing_lease_seconds)
    if build is None:
        return None
    if build.attempts > settings.build_processing_max_attempts:
        detail = f"not verified after {build.attempts - 1} attempts"
        if build.last_error:
            detail += f" (last: {build.last_error})"
        _finish(
            gb, build, Failure(FailureReason.SCAN_INCOMPLETE, detail=detail[:500]), started=datetime.now(UTC)
        )
        return build.id
    started = datetime.now(UTC)
    try:
        failure = _verify(gb, build)
    except (StorageUnavailable, ScannerUnavailable, UploadGone) as exc:
        backoff = settings.build_retry_backoff_seconds * 2 ** (build.attempts - 1)
        log.warning(
            "build verification interrupted, retrying", extra={"versionId": str(build.id), "error": str(exc)}
        )
        with gb.db.transaction() as session:
            repo.retry_later(session, build.id, build.attempts, seconds=backoff, error=str(exc))
        return build.id
    _finish(gb, build, failure, started=started)
    return build.id


def _verify(gb: GameBuilds, build: Row) -> Failure | None:
    """One pass over the object: size, SHA-256 and, for a build clamd takes in one stream, the
    scan. A build over that (or over clamd's limits inside it) is then scanned member by member
    if it is a zip."""
    digest = hashlib.sha256()
    size = 0
    reported = 0
    limit = gb.settings.clamd_stream_max_bytes
    scan = gb.scanner.open() if build.file_size <= limit else None
    try:
        for chunk in gb.store.stream(build.object_key):
            size += len(chunk)
            if size > build.file_size:
                break  # more than declared: no need to read the rest
            digest.update(chunk)
            if scan is not None:
                scan.feed(chunk)
            if size - reported >= PROGRESS_EVERY:
                reported = size
                with gb.db.transaction() as session:
                    repo.set_progress(session, build.id, build.attempts, size)
        result: ScanResult | None = None
        if scan is not None and size <= build.file_size:
            result = scan.finish()
    finally:
        if scan is not None:
            scan.close()
    sha256 = digest.hexdigest()
    intact = size == build.file_size and sha256 == build.sha256
    if intact and (result is None or result.over_limits):
        result = scan_members(gb.store, gb.scanner, build.object_key, size, member_limit=limit)
    return verdict(
        declared_size=build.file_size,
        declared_sha256=build.sha256,
        size=size,
        sha256=sha256,
        scan=result,
    )


def _finish(gb: GameBuilds, build: Row, failure: Failure | None, *, started: datetime) -> None:
    with gb.db.transaction() as session:
        if repo.still_processing(session, build.id, build.attempts) is None:
            return  # deleted, or taken over by another worker after the lease ran out
        if failure is None:
            done = repo.move(
                session,
                build.id,
                BuildStatus.READY,
                bytes_verified=build.file_size,
                lease_until=None,
                last_error=None,
            )
            gb.outbox.add(session, events.scanned(done, started, SCANNER))
            gb.outbox.add(session, events.ready(done, started))
            return
        done = repo.move(session, build.id, BuildStatus.FAILED, failure=failure.as_dict(), lease_until=None)
        gb.outbox.add(session, events.failed(done, started))
    if failure.reason is FailureReason.MALWARE:
        try:  # deleted, not quarantined; the row keeps the signature
            gb.store.delete(build.object_key)
        except StorageUnavailable:
            log.error("could not delete a malware build's object", extra={"versionId": str(build.id)})


def expire_uploads(gb: GameBuilds) -> int:
    """Uploads not completed in time: aborted in S3 and ``failed`` / ``upload_expired``."""
    expired = 0
    while True:
        with gb.db.transaction() as session:
            rows = repo.expired_uploads(session)
            for build in rows:
                gb.store.abort(build.object_key, build.upload_id)
                failure = Failure(FailureReason.UPLOAD_EXPIRED, detail="the upload was not completed in time")
                done = repo.move(session, build.id, BuildStatus.FAILED, failure=failure.as_dict())
                gb.outbox.add(session, events.failed(done, build.created_at))
        expired += len(rows)
        if len(rows) < 100:
            return expired
