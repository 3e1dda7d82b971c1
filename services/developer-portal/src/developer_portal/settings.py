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
    # How often the worker announces the prices scheduled discounts change as they start or end
    # (PRICE_CHANGE_INTERVAL_SECONDS): the Catalog learns of a new price at most this late.
    price_change_interval_seconds: float = Field(default=30, ge=1)

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

    # CI API keys. A key without expiresAt lives APIKEY_DEFAULT_LIFETIME_DAYS; none may be given
    # more than APIKEY_MAX_LIFETIME_DAYS.
    apikey_default_lifetime_days: int = Field(default=365, ge=1, le=3650)
    apikey_max_lifetime_days: int = Field(default=365, ge=1, le=3650)
    # How often the worker sends apikey.expiring and deletes spent upload tokens (APIKEYS_INTERVAL_SECONDS).
    apikeys_interval_seconds: float = Field(default=300, ge=1)

    # Trusted publishing: the OIDC issuers a studio may trust, as a JSON object of issuer -> its
    # JWKS URL (OIDC_ISSUERS). Only these are ever fetched: a studio cannot make the portal call
    # an address of its choosing.
    oidc_issuers: dict[str, str] = Field(
        default={
            "https://token.actions.githubusercontent.com": "https://token.actions.githubusercontent.com/.well-known/jwks",
            "https://gitlab.com": "https://gitlab.com/oauth/discovery/keys",
        }
    )
    # The audience CI must request its identity token for (OIDC_AUDIENCE).
    oidc_audience: str = Field(default="gamekeys-upload", min_length=1, max_length=255)
    # How long an upload token from POST /oidc/token lives (UPLOAD_TOKEN_LIFETIME_SECONDS, ≤ 15 min).
    upload_token_lifetime_seconds: int = Field(default=900, ge=60, le=900)

    # The analytics service, whose internal API answers the /analytics routes for a studio
    # (ANALYTICS_URL, required: it is one of the platform's services, so a deployment without it
    # is misconfigured and should fail at start-up, not when a studio opens its figures). Our
    # service token asks for the analytics:read scope.
    analytics_url: str = Field(pattern=r"^https?://")
    # How long one call to analytics may take (ANALYTICS_TIMEOUT_SECONDS); a report over a year of
    # days is a ClickHouse scan, so more than a key look-up.
    analytics_timeout_seconds: float = Field(default=10.0, gt=0, le=60)

    @model_validator(mode="after")
    def _payout_keys_parse(self):
        self.payout_details_cipher  # noqa: B018  (raises ValueError with a clear message)
        return self

    @model_validator(mode="after")
    def _apikey_lifetimes(self):
        if self.apikey_default_lifetime_days > self.apikey_max_lifetime_days:
            raise ValueError("APIKEY_DEFAULT_LIFETIME_DAYS must not exceed APIKEY_MAX_LIFETIME_DAYS")
        return self

    @model_validator(mode="after")
    def _oidc_issuers(self):
        for issuer, jwks_url in self.oidc_issuers.items():
            if not issuer or not jwks_url.startswith(("https://", "http://")):
                raise ValueError("OIDC_ISSUERS maps each issuer to the http(s) URL of its JWKS")
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
