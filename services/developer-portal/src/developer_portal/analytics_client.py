"""The analytics service's internal API, through the lib's ServiceClient (timeouts, one retry of
these reads, circuit breaker, request id and our service token with scope ``analytics:read``).

``/internal/v1/analytics/developers/{developerId}/games/{gameId}`` and ``.../summary`` answer for
the studio named; the portal has already decided that its caller may read that studio. What
comes back:

- 200: the body, which must be a JSON object (the views check its shape against their schemas);
- 422 VALIDATION_ERROR (a period analytics cannot report: ``to`` before ``from``, too long, an
  unknown time zone): passed on as ours, code, message and details, since the parameters are the
  caller's own;
- 404: analytics does not know a studio or game the portal has just vouched for, so its copy of
  developer.events has not caught up yet (a studio registered or a game created a moment ago,
  or its consumer is behind): 503 SERVICE_UNAVAILABLE with Retry-After, since asking again soon
  will answer;
- 401 once: our cached token was refused (expired early, keys rotated), so one more try with a
  new one;
- anything else (our token refused again, 403 for a missing scope, another 4xx, a body that is
  not JSON): 502 EXTERNAL_SERVICE_ERROR, logged, never the callee's body.

Unreachable, timing out or circuit-broken is the ServiceClient's 503 SERVICE_UNAVAILABLE with
Retry-After; a 5xx its 502 EXTERNAL_SERVICE_ERROR.
"""

from __future__ import annotations

import logging
import uuid
from typing import Any

from gamekeys_platform.errors import ApiError
from gamekeys_platform.http_client import ServiceClient, ServiceResponse
from gamekeys_platform.service_tokens import ServiceTokenProvider

log = logging.getLogger("developer_portal.analytics_client")

SERVICE = "analytics"
SCOPE = "analytics:read"
INTERNAL = "/internal/v1/analytics/developers"
# How soon to ask again while analytics' projection catches up with developer.events (seconds).
CATCHING_UP_RETRY_AFTER = 5


class AnalyticsClient:
    def __init__(self, client: ServiceClient) -> None:
        self.client = client

    @classmethod
    def from_settings(cls, settings) -> AnalyticsClient:
        timeout = settings.analytics_timeout_seconds
        return cls(
            ServiceClient(
                settings.analytics_url,
                service_name=SERVICE,
                token_provider=ServiceTokenProvider.from_settings(settings, scope=SCOPE),
                connect_timeout=min(1.0, timeout),
                read_timeout=timeout,
                # One repeat: a report can take seconds, and a caller waiting three timeouts
                # long for a 503 is worse off than one retrying later.
                retries=1,
            )
        )

    def game_report(
        self, developer_id: uuid.UUID, game_id: uuid.UUID, period: dict[str, str]
    ) -> dict[str, Any]:
        """The activation report of one of the studio's games over ``period`` (from, to, tz)."""
        return self._get(f"{INTERNAL}/{developer_id}/games/{game_id}", period)

    def summary(self, developer_id: uuid.UUID, period: dict[str, str]) -> dict[str, Any]:
        """The studio's summary over ``period`` (from, to, tz)."""
        return self._get(f"{INTERNAL}/{developer_id}/summary", period)

    def _get(self, path: str, params: dict[str, str]) -> dict[str, Any]:
        response = self.client.get(path, params=params)
        if response.status_code == 401 and self.client.token_provider is not None:
            self.client.token_provider.invalidate()
            response = self.client.get(path, params=params)
        if response.status_code == 200:
            try:
                body = response.json()
            except ValueError:
                body = None
            if isinstance(body, dict):
                return body
            log.error("analytics answered %s with a body that is not a JSON object", path)
            raise unexpected_answer(response.status_code)
        if response.status_code == 404:
            raise ApiError(
                "SERVICE_UNAVAILABLE",
                "analytics has not caught up with this studio's latest changes yet, retry shortly",
                {"service": SERVICE, "reason": "ANALYTICS_CATCHING_UP"},
                headers={"Retry-After": str(CATCHING_UP_RETRY_AFTER)},
            )
        if response.status_code == 422:
            raise _validation_error(response)
        log.error("analytics refused %s with status %s", path, response.status_code)
        raise ApiError(
            "EXTERNAL_SERVICE_ERROR",
            f"{SERVICE} refused the call with status {response.status_code}",
            {"service": SERVICE, "status": response.status_code},
        )


def unexpected_answer(status: int) -> ApiError:
    return ApiError(
        "EXTERNAL_SERVICE_ERROR",
        f"{SERVICE} answered in an unexpected shape",
        {"service": SERVICE, "status": status},
    )


def _validation_error(response: ServiceResponse) -> ApiError:
    try:
        error = response.json()["error"]
        code, message, details = error["code"], error["message"], error.get("details") or {}
    except (ValueError, KeyError, TypeError):
        code = None
    if code != "VALIDATION_ERROR" or not isinstance(message, str) or not isinstance(details, dict):
        log.error("analytics answered 422 without a VALIDATION_ERROR body")
        raise unexpected_answer(response.status_code)
    return ApiError("VALIDATION_ERROR", message, details)
