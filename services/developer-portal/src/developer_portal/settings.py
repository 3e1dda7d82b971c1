"""The developer portal's configuration: the platform's variables plus its own."""

from __future__ import annotations

from decimal import Decimal

from cryptography.fernet import Fernet, MultiFernet
from pydantic import Field, SecretStr, model_validator

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

    # Finance. Sales come from distribution.events, store sales and payout answers from the
    # Payment Service's payments.events.
    distribution_events_topic: str = Field(default="distribution.events", min_length=1)
    payments_events_topic: str = Field(default="payments.events", min_length=1)
    # How long credited revenue stays pending before it may be paid out (REVENUE_HOLD_SECONDS;
    # 30 days by default, the refund and chargeback window).
    revenue_hold_seconds: int = Field(default=30 * 86_400, ge=0)
    # How often the worker releases holds that passed and makes scheduled payouts.
    finance_interval_seconds: float = Field(default=60, ge=1)
    # No payout below this amount, in any currency (PAYOUT_MINIMUM).
    payout_minimum: Decimal = Field(default=Decimal("100"), gt=0)
    # The day of the month scheduled payouts go out (PAYOUT_DAY; the last day of a shorter month).
    payout_day: int = Field(default=15, ge=1, le=31)
    # Fernet keys encrypting payout details, comma-separated, newest first: the first encrypts,
    # all decrypt, so a key is rotated by putting a new one in front (PAYOUT_DETAILS_KEYS).
    payout_details_keys: SecretStr

    @model_validator(mode="after")
    def _payout_keys_parse(self):
        self.payout_details_cipher  # noqa: B018  (raises ValueError with a clear message)
        return self

    @property
    def payout_details_cipher(self) -> MultiFernet:
        keys = [key.strip() for key in self.payout_details_keys.get_secret_value().split(",") if key.strip()]
        try:
            return MultiFernet([Fernet(key) for key in keys])
        except ValueError:
            raise ValueError(
                "PAYOUT_DETAILS_KEYS must be Fernet keys (url-safe base64 of 32 bytes), comma-separated"
            ) from None
