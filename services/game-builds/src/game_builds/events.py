"""builds.events contracts built from a build row (gamekeys_platform.contracts.builds)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Row

from gamekeys_platform.contracts import builds as contracts


def _common(build: Row, step_started: datetime | None) -> dict[str, Any]:
    now = datetime.now(UTC)
    return {
        "version_id": build.id,
        "game_id": build.game_id,
        "developer_id": build.developer_id,
        "version": build.version,
        "platform": build.platform,
        "status": build.status,
        "file_size": build.file_size,
        "step_seconds": max((now - step_started).total_seconds(), 0.0) if step_started else None,
        "occurred_at": now,
    }


def upload_started(build: Row) -> contracts.BuildUploadStarted:
    return contracts.BuildUploadStarted(**_common(build, None), created_by=build.created_by)


def uploaded(build: Row, step_started: datetime) -> contracts.BuildUploaded:
    return contracts.BuildUploaded(**_common(build, step_started))


def scanned(build: Row, step_started: datetime, scanner: str) -> contracts.BuildScanned:
    return contracts.BuildScanned(**{**_common(build, step_started), "status": "processing"}, scanner=scanner)


def ready(build: Row, step_started: datetime) -> contracts.BuildReady:
    return contracts.BuildReady(**_common(build, step_started), sha256=build.sha256)


def failed(build: Row, step_started: datetime) -> contracts.BuildFailed:
    return contracts.BuildFailed(**_common(build, step_started), failure=contracts.Failure(**build.failure))
