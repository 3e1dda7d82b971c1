"""game-builds' configuration: the platform's variables plus its own (README lists them)."""

from __future__ import annotations

from pydantic import Field, SecretStr, model_validator

from gamekeys_platform.settings import PlatformSettings, load_settings

MIB = 1024 * 1024
GIB = 1024 * MIB


class Settings(PlatformSettings):
    service_name: str = Field(default="game-builds", min_length=1, max_length=64)

    builds_events_topic: str = Field(default="builds.events", min_length=1)
    developer_events_topic: str = Field(default="developer.events", min_length=1)

    # S3 (SeaweedFS locally). No endpoint: AWS's own.
    s3_endpoint_url: str | None = None
    s3_access_key_id: str = Field(min_length=1)
    s3_secret_access_key: SecretStr
    s3_region: str = Field(default="us-east-1", min_length=1)
    s3_timeout_seconds: float = Field(default=5.0, gt=0, le=60)
    builds_bucket: str = Field(default="game-builds", pattern=r"^[a-z0-9][a-z0-9.-]{2,62}$")

    # Uploads: the largest build accepted, the smallest part size offered (S3's minimum is 5 MiB
    # for every part but the last; tests set it lower), how many part URLs the create answer
    # carries, how long part and download URLs live.
    build_max_size_bytes: int = Field(default=64 * GIB, ge=1)
    build_min_part_size_bytes: int = Field(default=64 * MIB, ge=1)
    build_first_part_urls: int = Field(default=20, ge=1, le=1000)
    build_part_url_seconds: int = Field(default=6 * 3600, ge=60, le=7 * 86400)
    build_download_url_seconds: int = Field(default=600, ge=60, le=3600)
    build_upload_expiry_seconds: int = Field(default=24 * 3600, ge=60)

    # Media: the largest image (screenshot, capsule) and trailer accepted (a trailer is one PUT,
    # S3's limit for which is 5 GiB), how long the PUT URL lives and the upload may stay open.
    media_image_max_bytes: int = Field(default=20 * MIB, ge=1, le=256 * MIB)
    media_trailer_max_bytes: int = Field(default=2 * GIB, ge=1, le=5 * GIB)
    media_upload_url_seconds: int = Field(default=3600, ge=60, le=7 * 86400)
    media_upload_expiry_seconds: int = Field(default=24 * 3600, ge=60)

    # The worker: lease of a build being processed (a build processing longer is taken again),
    # attempts before it fails, backoff after an outage of S3 or clamd, polling.
    build_processing_lease_seconds: int = Field(default=1800, ge=5)
    build_processing_max_attempts: int = Field(default=5, ge=1, le=50)
    build_retry_backoff_seconds: float = Field(default=30.0, gt=0)
    build_poll_seconds: float = Field(default=2.0, gt=0)
    build_housekeeping_seconds: float = Field(default=300.0, gt=0)

    # developer-portal, which vouches for CI credentials (Bearer gkp_… / gkpt_…) through its
    # introspection. An answer is trusted this long at most: a revoked key keeps working here no
    # longer (30 s is the contract's bound); an inactive one is remembered briefly too.
    developer_portal_url: str = Field(pattern=r"^https?://")
    developer_portal_timeout_seconds: float = Field(default=3.0, gt=0, le=30)
    apikey_cache_seconds: float = Field(default=30.0, ge=0, le=30)
    apikey_inactive_cache_seconds: float = Field(default=5.0, ge=0, le=30)

    clamd_host: str = Field(default="127.0.0.1", min_length=1)
    clamd_port: int = Field(default=3310, ge=1, le=65535)
    clamd_timeout_seconds: float = Field(default=60.0, gt=0)
    clamd_chunk_bytes: int = Field(default=MIB, ge=4096, le=64 * MIB)
    # The most sent to clamd in one INSTREAM: keep it at clamd's StreamMaxLength (and MaxFileSize,
    # MaxScanSize; deploy/local/clamav). A larger build is scanned member by member if it is a
    # zip, else it fails scan_incomplete. ClamAV never scans over 2 GB in one piece.
    clamd_stream_max_bytes: int = Field(default=GIB, ge=MIB, le=2 * GIB - 1)

    @model_validator(mode="after")
    def _parts_fit(self):
        if self.build_first_part_urls > 10_000:
            raise ValueError("BUILD_FIRST_PART_URLS cannot exceed S3's 10,000 parts")
        return self


def get_settings(**overrides) -> Settings:
    return load_settings(Settings, **overrides)
