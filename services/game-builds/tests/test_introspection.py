"""The introspection adapter with a fake developer-portal and a fake clock: what is cached, by what,
for how long, and what each kind of answer becomes."""

from __future__ import annotations

import hashlib
import json
import uuid
from datetime import UTC, datetime, timedelta

import pytest
import urllib3

from game_builds.introspection import KeyIntrospection
from gamekeys_platform.errors import ApiError, format_timestamp
from gamekeys_platform.http_client import ServiceResponse

KEY = "gkp_" + "a" * 36


def active(**overrides) -> dict:
    return {
        "active": True,
        "tokenType": "api_key",
        "keyId": str(uuid.uuid4()),
        "developerId": str(uuid.uuid4()),
        "gameIds": [str(uuid.uuid4())],
        "scopes": ["builds:write"],
        "expiresAt": format_timestamp(datetime.now(UTC) + timedelta(days=30)),
        **overrides,
    }


class FakeTokens:
    def __init__(self) -> None:
        self.invalidated = 0

    def token(self) -> str:
        return "service-token"

    def invalidate(self) -> None:
        self.invalidated += 1


class FakePortal:
    """Answers each call with the next of ``answers`` (a body, or (status, body))."""

    def __init__(self, *answers) -> None:
        self.answers = list(answers)
        self.calls: list[dict] = []
        self.token_provider = FakeTokens()

    def post(self, path: str, *, json: dict, retry_safe: bool) -> ServiceResponse:
        assert path == "/internal/v1/apikeys/introspect" and retry_safe
        self.calls.append(json)
        answer = self.answers.pop(0) if len(self.answers) > 1 else self.answers[0]
        status, body = answer if isinstance(answer, tuple) else (200, answer)
        content = body if isinstance(body, bytes) else _json(body)
        return ServiceResponse(status, urllib3.HTTPHeaderDict(), content)


def _json(body) -> bytes:
    return json.dumps(body).encode()


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def introspection(portal: FakePortal, clock: Clock, cache: float = 30.0, inactive: float = 5.0):
    return KeyIntrospection(portal, cache_seconds=cache, inactive_cache_seconds=inactive, clock=clock)


def test_an_active_key_is_asked_once_per_cache_window_by_its_digest():
    answer = active()
    portal, clock = FakePortal(answer), Clock()
    keys = introspection(portal, clock)
    principal = keys.verify(KEY, client_address="192.0.2.1")
    assert principal.subject == f"apikey:{answer['keyId']}"
    assert principal.token_type == "api_key" and principal.is_opaque and not principal.is_service
    assert principal.scopes == {"builds:write"} and not principal.roles
    assert principal.claims["developerId"] == uuid.UUID(answer["developerId"])
    assert principal.claims["gameIds"] == {uuid.UUID(answer["gameIds"][0])}
    assert portal.calls == [{"key": KEY, "clientAddress": "192.0.2.1"}]

    clock.now += 29.9
    assert keys.verify(KEY, client_address=None) == principal
    assert len(portal.calls) == 1
    assert KEY not in repr(keys._cache) and hashlib.sha256(KEY.encode()).hexdigest() in keys._cache

    clock.now += 0.2  # past 30 s: asked again (a revocation shows now)
    portal.answers = [{"active": False}]
    with pytest.raises(ApiError) as refused:
        keys.verify(KEY, client_address=None)
    assert refused.value.code == "UNAUTHORIZED" and len(portal.calls) == 2


def test_an_inactive_answer_is_remembered_briefly():
    portal, clock = FakePortal({"active": False}), Clock()
    keys = introspection(portal, clock, inactive=5.0)
    for _ in range(3):
        with pytest.raises(ApiError):
            keys.verify(KEY, client_address=None)
    assert len(portal.calls) == 1
    clock.now += 5.1
    portal.answers = [active()]
    assert keys.verify(KEY, client_address=None).scopes == {"builds:write"}
    assert len(portal.calls) == 2


def test_an_answer_is_not_trusted_past_the_credentials_expiry():
    soon = format_timestamp(datetime.now(UTC) + timedelta(seconds=3))
    portal, clock = FakePortal(active(expiresAt=soon)), Clock()
    keys = introspection(portal, clock)
    keys.verify(KEY, client_address=None)
    clock.now += 4
    keys.verify(KEY, client_address=None)
    assert len(portal.calls) == 2


def test_an_upload_token_acts_as_its_trusted_publisher():
    publisher = str(uuid.uuid4())
    answer = active(tokenType="upload_token", publisherId=publisher)
    del answer["keyId"]
    principal = introspection(FakePortal(answer), Clock()).verify("gkpt_" + "b" * 36, client_address=None)
    assert principal.subject == f"trusted-publisher:{publisher}" and principal.token_type == "upload_token"


def test_a_refused_service_token_is_renewed_once():
    answer = active()
    portal = FakePortal((401, {"error": {"code": "UNAUTHORIZED"}}), answer)
    principal = introspection(portal, Clock()).verify(KEY, client_address=None)
    assert principal.subject == f"apikey:{answer['keyId']}"
    assert portal.token_provider.invalidated == 1 and len(portal.calls) == 2


@pytest.mark.parametrize(
    "answer",
    [
        (403, {"error": {"code": "FORBIDDEN"}}),  # our token lacks apikeys:introspect
        (200, b"not json"),
        (200, ["active"]),
        (200, {"active": "yes"}),
        (200, {**active(), "tokenType": "session"}),
        (200, {**active(), "gameIds": "all"}),
        (200, {**active(), "scopes": "builds:write"}),
    ],
)
def test_answers_we_cannot_use_are_502_and_not_cached(answer):
    portal, clock = FakePortal(answer), Clock()
    keys = introspection(portal, clock)
    for _ in range(2):
        with pytest.raises(ApiError) as failed:
            keys.verify(KEY, client_address=None)
        assert failed.value.code == "EXTERNAL_SERVICE_ERROR"
    assert keys._cache == {}
