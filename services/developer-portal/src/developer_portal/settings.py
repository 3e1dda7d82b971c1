"""The developer portal's configuration: the platform's variables plus its own."""

from __future__ import annotations

from pydantic import Field

from gamekeys_platform.settings import PlatformSettings


class Settings(PlatformSettings):
    service_name: str = Field(default="developer-portal", min_length=1, max_length=64)
    # How long an invitation to a team stays open (INVITATION_TTL_HOURS).
    invitation_ttl_hours: int = Field(default=168, ge=1, le=24 * 30)
    # How often the worker marks overdue invitations expired (INVITATION_EXPIRY_INTERVAL_SECONDS).
    invitation_expiry_interval_seconds: float = Field(default=300, ge=1)
    # The topic game-builds publishes build states on (BUILDS_EVENTS_TOPIC).
    builds_events_topic: str = Field(default="builds.events", min_length=1)
    # Whether a submission needs at least one screenshot (SUBMISSION_REQUIRES_MEDIA).
    submission_requires_media: bool = False
    # How often the worker publishes games whose scheduled release is due (RELEASE_INTERVAL_SECONDS).
    release_interval_seconds: float = Field(default=30, ge=1)
