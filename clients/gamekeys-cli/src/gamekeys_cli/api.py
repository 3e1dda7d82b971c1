"""The platform's public API as the CLI calls it: base URL and credential from the environment,
§3 error bodies turned into ``ApiError``, transient failures retried (every call the CLI makes
is safe to repeat: reads, part URLs, and creations and completions under an Idempotency-Key)."""

from __future__ import annotations

import os
import threading
import time
from typing import Any

import requests

DEFAULT_API_URL = "http://127.0.0.1:8080"
RETRIED_STATUSES = {429, 502, 503, 504}


class ApiError(Exception):
    def __init__(self, status: int, code: str, message: str, details: dict | None = None) -> None:
        super().__init__(f"{code}: {message}")
        self.status = status
        self.code = code
        self.message = message
        self.details = details or {}


class ConfigError(Exception):
    """The CLI cannot run as configured (no credential)."""


def credential_from_env() -> str:
    """A per-game CI API key (``GAMEKEYS_API_KEY``, ``gkp_…``) or a JWT (``GAMEKEYS_TOKEN``)."""
    value = os.environ.get("GAMEKEYS_API_KEY") or os.environ.get("GAMEKEYS_TOKEN")
    if not value:
        raise ConfigError("set GAMEKEYS_API_KEY (a CI key, gkp_...) or GAMEKEYS_TOKEN (a JWT)")
    return value.strip()


class Api:
    def __init__(self, base_url: str, credential: str, *, timeout: float = 30.0, attempts: int = 5) -> None:
        self.base_url = base_url.rstrip("/")
        self.credential = credential
        self.timeout = timeout
        self.attempts = attempts
        self._local = threading.local()

    @property
    def session(self) -> requests.Session:
        # One connection pool per thread: parts upload in parallel.
        session = getattr(self._local, "session", None)
        if session is None:
            session = requests.Session()
            session.headers["Authorization"] = f"Bearer {self.credential}"
            session.headers["User-Agent"] = "gamekeys-cli"
            self._local.session = session
        return session

    def versions(self, game_id: str) -> str:
        return f"/api/v1/developer/games/{game_id}/versions"

    def call(self, method: str, path: str, *, json: Any = None, params=None, headers=None) -> Any:
        for attempt in range(1, self.attempts + 1):
            try:
                response = self.session.request(
                    method,
                    self.base_url + path,
                    json=json,
                    params=params,
                    headers=headers,
                    timeout=self.timeout,
                )
            except requests.RequestException as exc:
                if attempt == self.attempts:
                    raise ApiError(0, "UNREACHABLE", f"{self.base_url}: {exc.__class__.__name__}") from None
                time.sleep(min(2**attempt, 30))
                continue
            if response.status_code in RETRIED_STATUSES and attempt < self.attempts:
                time.sleep(_retry_after(response, attempt))
                continue
            if response.status_code == 204:
                return None
            try:
                body = response.json()
            except ValueError:
                body = None
            if response.status_code >= 400:
                error = (body or {}).get("error") if isinstance(body, dict) else None
                if error:
                    raise ApiError(
                        response.status_code, error["code"], error["message"], error.get("details")
                    )
                raise ApiError(response.status_code, "HTTP_ERROR", response.text[:200] or response.reason)
            return body
        raise AssertionError("unreachable")


def _retry_after(response: requests.Response, attempt: int) -> float:
    try:
        return min(float(response.headers["Retry-After"]), 60.0)
    except (KeyError, ValueError):
        return min(2**attempt, 30)
