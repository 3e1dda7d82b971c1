"""analytics' internal API (scope ``analytics:read``), which the studios' ``/analytics`` routes
answer from: the portal never reads analytics' database. Through the lib's ServiceClient:
analytics unreachable or slow is 503 SERVICE_UNAVAILABLE with Retry-After, failing 502; its own
answers (404 for a game it does not know, 422 for a bad period) are passed on."""

from __future__ import annotations

import uuid
from typing import Any

from gamekeys_platform.errors import ApiError
from gamekeys_platform.http_client import ServiceClient, ServiceResponse
from gamekeys_platform.service_tokens import ServiceTokenProvider

SCOPE = "analytics:read"
SERVICE = "analytics"
INTERNAL = "/internal/v1/analytics/developers"


class AnalyticsClient:
    def __init__(self, client: ServiceClient | None) -> None:
        self.client = client  # None: ANALYTICS_URL is not set

    @classmethod
    def from_settings(cls, settings) -> AnalyticsClient:
        if settings.analytics_url is None:
            return cls(None)
        timeout = settings.analytics_timeout_seconds
        return cls(
            ServiceClient(
                settings.analytics_url,
                service_name=SERVICE,
                token_provider=ServiceTokenProvider.from_settings(settings, scope=SCOPE),
                connect_timeout=min(1.0, timeout),
                read_timeout=timeout,
                retries=1,
            )
        )

    def game_report(
        self, developer_id: uuid.UUID, game_id: uuid.UUID, period: dict[str, str]
    ) -> dict[str, Any]:
        return self._get(f"{INTERNAL}/{developer_id}/games/{game_id}", period)

    def summary(self, developer_id: uuid.UUID, period: dict[str, str]) -> dict[str, Any]:
        return self._get(f"{INTERNAL}/{developer_id}/summary", period)

    def _get(self, path: str, period: dict[str, str]) -> dict[str, Any]:
        if self.client is None:
            raise ApiError("SERVICE_UNAVAILABLE", "analytics is not configured here (ANALYTICS_URL)")
        response = self.client.get(path, params=period)
        if response.status_code == 200:
            return response.json()
        raise _passed_on(response)


def _passed_on(response: ServiceResponse) -> ApiError:
    """analytics' refusal of the studio's question, in §3 terms; a refusal of our own call (401,
    403: our token or scope) is analytics failing us, 502."""
    try:
        error = response.json()["error"]
        code, message, details = error["code"], error["message"], error.get("details") or {}
    except (ValueError, KeyError, TypeError):
        code, message, details = "", "", {}
    if response.status_code in (404, 422) and code in ("NOT_FOUND", "VALIDATION_ERROR"):
        return ApiError(code, message, details)
    return ApiError(
        "EXTERNAL_SERVICE_ERROR",
        f"analytics refused the call with status {response.status_code}",
        {"service": SERVICE, "status": response.status_code},
    )
