"""The service client against a real HTTP server started by the test.

Endpoints: ``/echo`` answers the request's method and headers; ``/slow`` answers after the
client's read timeout; ``/flaky/<id>?fail=N`` answers 500 for its first N requests, then
200; ``/status/<code>`` answers that status. The server records every request it receives.
"""

from __future__ import annotations

import json
import socket
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

import pytest
from prometheus_client import REGISTRY

from gamekeys_platform.errors import ApiError
from gamekeys_platform.http_client import ServiceClient
from gamekeys_platform.request_context import reset_request_id, set_request_id

SECRET_BODY = "stack trace with a database password"


@dataclass
class Recorded:
    method: str
    path: str
    headers: dict[str, str]


@dataclass
class Upstream:
    url: str
    requests: list[Recorded] = field(default_factory=list)
    release: threading.Event = field(default_factory=threading.Event)

    def hits(self, path: str) -> int:
        return sum(1 for recorded in self.requests if recorded.path == path)


class _Handler(BaseHTTPRequestHandler):
    upstream: Upstream

    def _handle(self) -> None:
        url = urlsplit(self.path)
        self.rfile.read(int(self.headers.get("Content-Length") or 0))
        self.upstream.requests.append(Recorded(self.command, url.path, dict(self.headers.items())))
        if url.path == "/echo":
            self._reply(200, {"method": self.command, "headers": dict(self.headers.items())})
        elif url.path == "/slow":
            self.upstream.release.wait(5)
            self._reply(200, {})
        elif url.path.startswith("/flaky/"):
            failures = int(parse_qs(url.query)["fail"][0])
            if self.upstream.hits(url.path) <= failures:
                self._reply(500, {"detail": SECRET_BODY})
            else:
                self._reply(200, {"ok": True})
        elif url.path.startswith("/status/"):
            self._reply(int(url.path.rsplit("/", 1)[1]), {"detail": SECRET_BODY})

    def _reply(self, status: int, body: dict) -> None:
        payload = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = _handle

    def log_message(self, format: str, *args: object) -> None:
        """Keep the test output quiet."""


class _Server(ThreadingHTTPServer):
    def handle_error(self, request, client_address) -> None:
        """A client that timed out closed its socket; the late reply's broken pipe is expected."""


@pytest.fixture()
def upstream() -> Iterator[Upstream]:
    state = Upstream(url="")
    handler = type("Handler", (_Handler,), {"upstream": state})
    server = _Server(("127.0.0.1", 0), handler)
    state.url = f"http://127.0.0.1:{server.server_port}"
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    yield state
    state.release.set()
    server.shutdown()
    server.server_close()


class StaticToken:
    def token(self) -> str:
        return "service-token"


@pytest.fixture()
def make_client() -> Iterator[Callable[..., ServiceClient]]:
    """Clients with test-sized timeouts and backoff, closed after the test."""
    clients: list[ServiceClient] = []

    def make(url: str, **overrides) -> ServiceClient:
        options = {"service_name": "key-service", "read_timeout": 0.3, "backoff": 0.01, **overrides}
        clients.append(ServiceClient(url, **options))
        return clients[-1]

    yield make
    for client in clients:
        client.close()


def test_sends_request_id_and_bearer_token(upstream: Upstream, make_client) -> None:
    client = make_client(upstream.url, token_provider=StaticToken())
    token = set_request_id("req-from-caller")
    try:
        response = client.get("/echo")
    finally:
        reset_request_id(token)
    assert response.status_code == 200
    headers = response.json()["headers"]
    assert headers["X-Request-Id"] == "req-from-caller"
    assert headers["Authorization"] == "Bearer service-token"


def test_without_context_a_fresh_request_id_and_no_token(upstream: Upstream, make_client) -> None:
    headers = make_client(upstream.url).get("/echo").json()["headers"]
    assert uuid.UUID(headers["X-Request-Id"])
    assert "Authorization" not in headers


def test_get_is_retried_on_5xx(upstream: Upstream, make_client) -> None:
    response = make_client(upstream.url, retries=2).get("/flaky/a", params={"fail": 2})
    assert response.status_code == 200
    assert upstream.hits("/flaky/a") == 3


def test_5xx_after_retries_is_external_service_error_without_the_body(
    upstream: Upstream, make_client
) -> None:
    with pytest.raises(ApiError) as raised:
        make_client(upstream.url, retries=2).get("/flaky/b", params={"fail": 5})
    assert upstream.hits("/flaky/b") == 3
    error = raised.value
    assert (error.code, error.status) == ("EXTERNAL_SERVICE_ERROR", 502)
    assert error.message == "key-service failed with status 500"
    assert SECRET_BODY not in json.dumps(error.body())


def test_post_without_idempotency_key_is_not_retried(upstream: Upstream, make_client) -> None:
    with pytest.raises(ApiError) as raised:
        make_client(upstream.url, retries=2).post("/flaky/c", params={"fail": 1}, json={"quantity": 1})
    assert raised.value.code == "EXTERNAL_SERVICE_ERROR"
    assert upstream.hits("/flaky/c") == 1


def test_post_with_idempotency_key_is_retried_with_the_same_headers(upstream: Upstream, make_client) -> None:
    client = make_client(upstream.url, retries=2)
    response = client.post("/flaky/d", params={"fail": 2}, json={"quantity": 1}, idempotency_key="idem-42")
    assert response.status_code == 200
    attempts = [recorded for recorded in upstream.requests if recorded.path == "/flaky/d"]
    assert len(attempts) == 3
    assert {recorded.headers["Idempotency-Key"] for recorded in attempts} == {"idem-42"}
    assert len({recorded.headers["X-Request-Id"] for recorded in attempts}) == 1


def test_post_declared_retry_safe_is_retried_without_an_idempotency_key(
    upstream: Upstream, make_client
) -> None:
    client = make_client(upstream.url, retries=2)
    response = client.post("/flaky/e", params={"fail": 1}, json={"activationId": "a-1"}, retry_safe=True)
    assert response.status_code == 200
    attempts = [recorded for recorded in upstream.requests if recorded.path == "/flaky/e"]
    assert len(attempts) == 2
    assert all("Idempotency-Key" not in recorded.headers for recorded in attempts)


def test_proxy_settings_of_the_environment_are_not_used(
    upstream: Upstream, make_client, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HTTP_PROXY", "http://127.0.0.1:9")  # nothing listens on the discard port
    monkeypatch.delenv("NO_PROXY", raising=False)
    monkeypatch.delenv("no_proxy", raising=False)
    assert make_client(upstream.url).get("/echo").status_code == 200


def test_4xx_is_returned_unchanged_and_does_not_trip_the_breaker(upstream: Upstream, make_client) -> None:
    client = make_client(upstream.url, retries=2, failure_threshold=1)
    for _ in range(3):
        response = client.get("/status/404")
        assert response.status_code == 404
        assert response.json() == {"detail": SECRET_BODY}
    assert upstream.hits("/status/404") == 3
    assert not client.breaker.is_open


def test_read_timeout_is_service_unavailable(upstream: Upstream, make_client) -> None:
    client = make_client(upstream.url, retries=1, read_timeout=0.2)
    with pytest.raises(ApiError) as raised:
        client.get("/slow")
    assert (raised.value.code, raised.value.status) == ("SERVICE_UNAVAILABLE", 503)
    assert raised.value.message == "key-service is unavailable"
    assert int(raised.value.headers["Retry-After"]) >= 1
    assert upstream.hits("/slow") == 2


def test_connection_refused_is_service_unavailable(make_client) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        unused_port = probe.getsockname()[1]
    before = (
        REGISTRY.get_sample_value(
            "http_client_requests_total",
            {"service": "key-service", "method": "GET", "outcome": "connection_error"},
        )
        or 0.0
    )
    with pytest.raises(ApiError) as raised:
        make_client(f"http://127.0.0.1:{unused_port}", retries=2).get("/anything")
    assert raised.value.code == "SERVICE_UNAVAILABLE"
    after = REGISTRY.get_sample_value(
        "http_client_requests_total",
        {"service": "key-service", "method": "GET", "outcome": "connection_error"},
    )
    assert after == before + 3


def test_circuit_breaker_opens_fails_fast_then_half_opens(upstream: Upstream, make_client) -> None:
    client = make_client(upstream.url, retries=0, failure_threshold=3, reset_timeout=0.3)
    for _ in range(3):
        with pytest.raises(ApiError, match="status 500"):
            client.get("/flaky/e", params={"fail": 100})
    assert client.breaker.is_open

    # Open: the call fails at once, the server never sees it.
    with pytest.raises(ApiError) as raised:
        client.get("/flaky/e", params={"fail": 100})
    assert raised.value.code == "SERVICE_UNAVAILABLE"
    assert raised.value.headers["Retry-After"] == "1"
    assert upstream.hits("/flaky/e") == 3

    # Half-open: one trial reaches the server; its failure keeps the breaker open.
    time.sleep(0.35)
    with pytest.raises(ApiError, match="status 500"):
        client.get("/flaky/e", params={"fail": 100})
    assert upstream.hits("/flaky/e") == 4
    with pytest.raises(ApiError, match="unavailable"):
        client.get("/echo")
    assert upstream.hits("/echo") == 0

    # The next trial succeeds and closes it: calls flow again.
    time.sleep(0.35)
    assert client.get("/echo").status_code == 200
    assert not client.breaker.is_open
    assert client.get("/echo").status_code == 200
    assert upstream.hits("/echo") == 2
