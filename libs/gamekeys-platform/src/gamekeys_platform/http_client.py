"""Service-to-service HTTP calls with the platform's failure contract built in.

Every call carries the current ``X-Request-Id`` and the W3C ``traceparent`` of a CLIENT span
(``gamekeys_platform.tracing``: one trace across services) and, with a token provider, the
caller's service token. Failures become §3 errors the calling view can
let propagate: an unreachable, slow or circuit-broken callee is 503 SERVICE_UNAVAILABLE,
a callee 5xx is 502 EXTERNAL_SERVICE_ERROR. 4xx responses are answers (not found, conflict,
forbidden) and are returned for the caller to interpret. Error messages name only the
callee and the status, never its body.

Only calls that are safe to repeat are retried: idempotent methods, POST when the caller
sends an ``Idempotency-Key`` (the callee then replays instead of acting twice), and POST the
caller declares ``retry_safe`` (the callee's operation is idempotent by an id in the body).
A circuit breaker stops hammering a callee that keeps failing and fails fast meanwhile.
"""

from __future__ import annotations

import json as jsonlib
import logging
import math
import random
import threading
import time
from dataclasses import dataclass
from typing import Any, Protocol
from urllib.parse import urlencode

import urllib3
from prometheus_client import Counter

from gamekeys_platform import tracing
from gamekeys_platform.errors import ApiError
from gamekeys_platform.request_context import current_request_id, new_request_id

log = logging.getLogger(__name__)

HTTP_CLIENT_REQUESTS = Counter(
    "http_client_requests_total",
    "Outgoing service-to-service HTTP attempts, by outcome",
    ["service", "method", "outcome"],
)

IDEMPOTENT_METHODS = frozenset({"GET", "HEAD", "PUT", "DELETE", "OPTIONS"})
TimeoutSpec = float | tuple[float, float]


class TokenProvider(Protocol):
    def token(self) -> str: ...


class CircuitBreaker:
    """Consecutive-failure breaker: ``failure_threshold`` failures in a row open it; after
    ``reset_timeout`` seconds one trial call goes through (half-open), whose success closes
    it and whose failure keeps it open for another ``reset_timeout``. Only one trial is let
    through per period, so a trial that never reports back cannot wedge the breaker."""

    def __init__(self, failure_threshold: int = 5, reset_timeout: float = 30.0) -> None:
        self.failure_threshold = failure_threshold
        self.reset_timeout = reset_timeout
        self._lock = threading.Lock()
        self._failures = 0
        self._opened_at: float | None = None

    @property
    def is_open(self) -> bool:
        with self._lock:
            return self._opened_at is not None

    def allow(self) -> bool:
        with self._lock:
            if self._opened_at is None:
                return True
            now = time.monotonic()
            if now - self._opened_at < self.reset_timeout:
                return False
            self._opened_at = now
            return True

    def record_success(self) -> None:
        with self._lock:
            self._failures = 0
            self._opened_at = None

    def record_failure(self) -> None:
        with self._lock:
            self._failures += 1
            if self._opened_at is not None or self._failures >= self.failure_threshold:
                self._opened_at = time.monotonic()

    def seconds_until_trial(self) -> float:
        with self._lock:
            if self._opened_at is None:
                return 0.0
            return max(0.0, self._opened_at + self.reset_timeout - time.monotonic())


@dataclass(frozen=True)
class ServiceResponse:
    """A callee's answer, its body read in full."""

    status_code: int
    headers: urllib3.HTTPHeaderDict
    content: bytes

    def json(self) -> Any:
        """The body as JSON; ValueError if it is not."""
        return jsonlib.loads(self.content)


class ServiceClient:
    """``ServiceClient("http://key-service:8000", service_name="key-service", token_provider=tokens)``.

    ``retries`` is the number of repeats after the first attempt, spaced by ``backoff``
    seconds doubling each time (with jitter). One client per callee, shared by threads.
    """

    def __init__(
        self,
        base_url: str,
        *,
        service_name: str,
        token_provider: TokenProvider | None = None,
        connect_timeout: float = 1.0,
        read_timeout: float = 3.0,
        retries: int = 2,
        backoff: float = 0.1,
        failure_threshold: int = 5,
        reset_timeout: float = 30.0,
        pool_maxsize: int = 20,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.service_name = service_name
        self.token_provider = token_provider
        self.timeout: TimeoutSpec = (connect_timeout, read_timeout)
        self.retries = retries
        self.backoff = backoff
        self.breaker = CircuitBreaker(failure_threshold, reset_timeout)
        # urllib3 itself, not requests on top of it: a callee is addressed directly (no proxy,
        # netrc or cookies to consider), and requests' own work per call was as much CPU as the
        # rest of the call. Retries are ours (above), so urllib3 makes none.
        self.pool = urllib3.PoolManager(num_pools=1, maxsize=pool_maxsize, retries=False)

    def get(self, path: str, **kwargs: Any) -> ServiceResponse:
        return self.request("GET", path, **kwargs)

    def post(self, path: str, **kwargs: Any) -> ServiceResponse:
        return self.request("POST", path, **kwargs)

    def put(self, path: str, **kwargs: Any) -> ServiceResponse:
        return self.request("PUT", path, **kwargs)

    def patch(self, path: str, **kwargs: Any) -> ServiceResponse:
        return self.request("PATCH", path, **kwargs)

    def delete(self, path: str, **kwargs: Any) -> ServiceResponse:
        return self.request("DELETE", path, **kwargs)

    def request(
        self,
        method: str,
        path: str,
        *,
        json: Any = None,
        params: dict[str, Any] | None = None,
        headers: dict[str, str] | None = None,
        idempotency_key: str | None = None,
        retry_safe: bool = False,
        timeout: TimeoutSpec | None = None,
    ) -> ServiceResponse:
        """Send the call (retrying if safe) and return a 2xx-4xx response, or raise ApiError."""
        method = method.upper()
        with tracing.span(
            f"{method} {self.service_name}",
            kind=tracing.SpanKind.CLIENT,
            attributes={"http.request.method": method, "peer.service": self.service_name},
        ) as call:
            response = self._send(method, path, json, params, headers, idempotency_key, retry_safe, timeout)
            if call.is_recording():
                call.set_attribute("http.response.status_code", response.status_code)
            return response

    def _send(
        self,
        method: str,
        path: str,
        json: Any,
        params: dict[str, Any] | None,
        headers: dict[str, str] | None,
        idempotency_key: str | None,
        retry_safe: bool,
        timeout: TimeoutSpec | None,
    ) -> ServiceResponse:
        url = f"{self.base_url}/{path.lstrip('/')}"
        if params:
            url = f"{url}?{urlencode(params, doseq=True)}"
        sent_headers = self._headers(headers, idempotency_key)
        body = None
        if json is not None:
            body = jsonlib.dumps(json).encode()
            sent_headers.setdefault("Content-Type", "application/json")
        connect_timeout, read_timeout = _pair(timeout or self.timeout)
        deadline = urllib3.Timeout(connect=connect_timeout, read=read_timeout)
        retryable = retry_safe or method in IDEMPOTENT_METHODS or idempotency_key is not None
        attempts = 1 + (self.retries if retryable else 0)
        for attempt in range(attempts):
            if attempt:
                time.sleep(self.backoff * 2 ** (attempt - 1) * random.uniform(0.5, 1.0))
            if not self.breaker.allow():
                self._count(method, "circuit_open")
                raise self._unavailable()
            try:
                raw = self.pool.request(
                    method, url, body=body, headers=sent_headers, timeout=deadline, redirect=False
                )
            except urllib3.exceptions.HTTPError as exc:
                self._failed(method, path, _failure_outcome(exc))
                error = self._unavailable()
                continue
            if raw.status < 500:
                self.breaker.record_success()
                self._count(method, "success" if raw.status < 400 else "client_error")
                return ServiceResponse(raw.status, raw.headers, raw.data)
            self._failed(method, path, "server_error")
            error = ApiError(
                "EXTERNAL_SERVICE_ERROR",
                f"{self.service_name} failed with status {raw.status}",
                details={"service": self.service_name, "status": raw.status},
            )
        raise error

    def close(self) -> None:
        self.pool.clear()

    def _headers(self, extra: dict[str, str] | None, idempotency_key: str | None) -> dict[str, str]:
        headers = tracing.inject({"X-Request-Id": current_request_id() or new_request_id()})
        if self.token_provider is not None:
            headers["Authorization"] = f"Bearer {self.token_provider.token()}"
        headers.update(extra or {})
        if idempotency_key is not None:
            headers["Idempotency-Key"] = idempotency_key
        return headers

    def _failed(self, method: str, path: str, outcome: str) -> None:
        self.breaker.record_failure()
        self._count(method, outcome)
        log.warning("call to %s failed: %s %s -> %s", self.service_name, method, path, outcome)

    def _count(self, method: str, outcome: str) -> None:
        HTTP_CLIENT_REQUESTS.labels(service=self.service_name, method=method, outcome=outcome).inc()

    def _unavailable(self) -> ApiError:
        retry_after = max(1, math.ceil(self.breaker.seconds_until_trial()))
        return ApiError(
            "SERVICE_UNAVAILABLE",
            f"{self.service_name} is unavailable",
            details={"service": self.service_name},
            headers={"Retry-After": str(retry_after)},
        )


def _failure_outcome(exc: urllib3.exceptions.HTTPError) -> str:
    # urllib3 makes a refused connection a kind of connect timeout; it is not one.
    if isinstance(exc, urllib3.exceptions.TimeoutError) and not isinstance(
        exc, urllib3.exceptions.NewConnectionError
    ):
        return "timeout"
    return "connection_error"


def _pair(timeout: TimeoutSpec) -> tuple[float, float]:
    return timeout if isinstance(timeout, tuple) else (timeout, timeout)
