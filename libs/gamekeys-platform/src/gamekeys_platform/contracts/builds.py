"""builds.events, written by game-builds.

Consumed by developer-portal (its projection of builds, for the submission preflight) and
analytics. Every state change of a build is an event carrying the version, game and studio
and how long the step took; no event carries a presigned URL.
"""

from __future__ import annotations

import uuid
from typing import ClassVar, Literal

from pydantic import Field

from gamekeys_platform.contracts.base import Actor, Contract, EventData, Text, Timestamp

BuildStatus = Literal["uploading", "uploaded", "processing", "ready", "failed", "rejected"]
Platform = Literal["windows", "macos", "linux"]
FailureReason = Literal["size_mismatch", "checksum_mismatch", "malware", "scan_incomplete", "upload_expired"]


class BuildsEvent(EventData):
    SOURCE: ClassVar[str] = "game-builds"


class Failure(Contract):
    reason: FailureReason
    signature: Text | None = Field(default=None, description="the malware signature, for malware")
    detail: Text | None = None


class _Build(BuildsEvent):
    SUBJECT: ClassVar[str] = "version_id"

    version_id: uuid.UUID
    game_id: uuid.UUID
    developer_id: uuid.UUID
    version: Text
    platform: Platform
    status: BuildStatus
    file_size: int = Field(ge=0, description="declared size in bytes")
    step_seconds: float | None = Field(ge=0, description="how long the step that ended here took")
    occurred_at: Timestamp


class BuildUploadStarted(_Build):
    """A version was created and its multipart upload opened (status ``uploading``)."""

    TYPE: ClassVar[str] = "build.upload_started"

    created_by: Actor


class BuildUploaded(_Build):
    """Every part is in S3 (status ``uploaded``); verification follows."""

    TYPE: ClassVar[str] = "build.uploaded"


class BuildScanned(_Build):
    """Size, SHA-256 and the antivirus scan passed (status ``processing``)."""

    TYPE: ClassVar[str] = "build.scanned"

    scanner: Text = Field(description="the scanner and its signature version")


class BuildReady(_Build):
    """The build can be submitted for review and downloaded (status ``ready``)."""

    TYPE: ClassVar[str] = "build.ready"

    sha256: Text


class BuildFailed(_Build):
    """The build can never become ready (status ``failed``); ``failure`` says why."""

    TYPE: ClassVar[str] = "build.failed"

    failure: Failure


class BuildRejected(_Build):
    """Moderation rejected the build (status ``rejected``)."""

    TYPE: ClassVar[str] = "build.rejected"

    reason: Text


class MediaReady(BuildsEvent):
    """A media asset (screenshot, trailer, capsule) is uploaded and checked."""

    TYPE: ClassVar[str] = "media.ready"
    SUBJECT: ClassVar[str] = "media_id"

    media_id: uuid.UUID
    game_id: uuid.UUID
    developer_id: uuid.UUID
    kind: Text
    content_type: Text
    size: int = Field(ge=0)
    width: int | None = Field(default=None, ge=1, description="pixels, for images")
    height: int | None = Field(default=None, ge=1, description="pixels, for images")
    occurred_at: Timestamp
