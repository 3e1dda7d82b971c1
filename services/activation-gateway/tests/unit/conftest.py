"""Use cases with fakes of the other services: key-manager and antifraud are plain Python objects
(``FakeKeyManager``, ``FakeAntifraud``) behind the context's Protocols, so no neighbour app starts.
The gateway's own database (one of their own), outbox and Redis lockouts are the real ones.

The integration tests one level up keep the real neighbours as contract tests; their autouse
fixtures (fresh counters in antifraud, antifraud's test rules) are overridden here by no-ops, so
these tests never start antifraud's or key-manager's app."""

from __future__ import annotations

import uuid
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from activation_gateway.clients import KeyManagerRefusal
from activation_gateway.context import Gateway, lockout_redis
from activation_gateway.db.tables import activations
from activation_gateway.domain.redemption import Attempt
from activation_gateway.settings import get_settings
from gamekeys_platform.migrations import upgrade_to_head
from gamekeys_platform.ratelimit import RateLimiter
from gamekeys_platform.testing import fresh_database, outbox_contract_violations
from key_manager.domain import codec  # tests only: real keys pass the format check

SERVICE_DIR = Path(__file__).resolve().parents[2]


class FakeKeyManager:
    """key-manager's internal API in memory: look-up, hold/release by hold id, exactly-once
    activation by activation id. ``refuse[operation] = code`` makes that operation answer the §3
    refusal instead (as key-manager's 4xx would reach the client)."""

    def __init__(self) -> None:
        self.keys: dict[str, dict[str, Any]] = {}  # by keyId
        self.by_text: dict[str, str] = {}  # canonical key -> keyId
        self.refuse: dict[str, str] = {}
        self.calls: list[tuple[str, Any]] = []

    def add_key(self, **fields: Any) -> tuple[str, dict[str, Any]]:
        """A new key (status ``generated`` unless given): (its text, dashed, and its record)."""
        text = codec.generate_keys(1)[0].decode()
        key = {
            "keyId": str(uuid.uuid4()),
            "gameId": str(uuid.uuid4()),
            "batchId": str(uuid.uuid4()),
            "developerId": str(uuid.uuid4()),
            "keyType": "retail",
            "status": "generated",
            "expired": False,
            "regionalRestrictions": [],
            **fields,
        }
        self.keys[key["keyId"]] = key
        self.by_text[text] = key["keyId"]
        return "-".join(text[i : i + 4] for i in range(0, 16, 4)), key

    def _refusal(self, operation: str) -> None:
        code = self.refuse.get(operation)
        if code is not None:
            raise KeyManagerRefusal(code, f"key-manager refused {operation}", {})

    def _key(self, key_id: Any) -> dict[str, Any]:
        key = self.keys.get(str(key_id))
        if key is None:
            raise KeyManagerRefusal("KEY_NOT_FOUND", "key not found", {})
        return key

    def lookup(self, *, key: str | None = None, key_id: str | None = None) -> dict:
        self.calls.append(("lookup", key or key_id))
        self._refusal("lookup")
        return dict(self._key(self.by_text.get(key, "") if key is not None else key_id))

    def hold(self, key_id: str, hold_id: str, reason: str) -> dict:
        self.calls.append(("hold", hold_id))
        self._refusal("hold")
        key = self._key(key_id)
        if key["status"] == "pending_review" and key.get("holdId") == hold_id:
            return dict(key)
        if key["status"] not in ("generated", "allocated", "sold"):
            raise KeyManagerRefusal("CONFLICT", "the key cannot be held", {})
        key.update(status="pending_review", holdId=hold_id, heldFrom=key["status"])
        return dict(key)

    def release(self, key_id: str, hold_id: str, reason: str) -> dict:
        self.calls.append(("release", hold_id))
        self._refusal("release")
        key = self._key(key_id)
        if key["status"] != "pending_review" or key.get("holdId") != hold_id:
            raise KeyManagerRefusal("CONFLICT", "the key is not held with this hold id", {})
        key.update(status=key.pop("heldFrom"), holdId=None)
        return dict(key)

    def activate(
        self, key_id: str, *, user_id: str, activation_id: str, user_region: str, hold_id: str | None = None
    ) -> dict:
        self.calls.append(("activate", activation_id))
        self._refusal("activate")
        key = self._key(key_id)
        if key["status"] == "activated":
            if key.get("activationId") == activation_id:
                return dict(key)  # a repeated activationId: the same result
            raise KeyManagerRefusal("KEY_ALREADY_ACTIVATED", "the key has been activated already", {})
        if key["status"] == "pending_review" and key.get("holdId") != hold_id:
            raise KeyManagerRefusal("CONFLICT", "the key is held for a fraud review", {})
        if key["status"] in ("revoked", "expired"):
            code = "KEY_REVOKED" if key["status"] == "revoked" else "KEY_EXPIRED"
            raise KeyManagerRefusal(code, f"the key is {key['status']}", {})
        key.update(status="activated", activationId=activation_id, userId=user_id)
        return dict(key)

    def key_info_as(self, key_id: str, authorization: str) -> dict | None:
        return self.keys.get(str(key_id))


class FakeAntifraud:
    """antifraud's analyze: answers ``action`` (ALLOW, REVIEW, BLOCK) with the rules ``rules``
    hit, or None (unavailable: down, slow, breaker open) when ``action`` is None."""

    def __init__(self, action: str | None = "ALLOW", rules: tuple[str, ...] = ()) -> None:
        self.action = action
        self.rules = rules
        self.requests: list[tuple[dict, str | None]] = []

    def analyze(self, body: dict[str, Any], *, idempotency_key: str | None) -> dict | None:
        self.requests.append((body, idempotency_key))
        if self.action is None:
            return None
        return {
            "assessmentId": str(uuid.uuid4()),
            "score": {"ALLOW": 5, "REVIEW": 50, "BLOCK": 95}[self.action],
            "recommendedAction": self.action,
            "rulesHit": [{"id": rule} for rule in self.rules],
            "caseId": str(uuid.uuid4()) if self.action == "REVIEW" else None,
        }


@pytest.fixture(autouse=True)
def fresh_counters():
    """Overrides the integration tests' autouse fixture (it starts antifraud): nothing to reset."""
    yield


@pytest.fixture(scope="session", autouse=True)
def fraud_test_rules():
    """Overrides the integration tests' antifraud rules: antifraud is a fake here."""


@pytest.fixture(scope="session")
def unit_database_url():
    """A database of their own (the worker's use cases take every hold they find), checked
    against the event contracts at the end like the run's."""
    with fresh_database() as url:
        upgrade_to_head(SERVICE_DIR / "alembic.ini", url)
        yield url
        violations = outbox_contract_violations(url)
    assert not violations, "events that break their contracts:\n" + "\n".join(violations[:20])


@pytest.fixture(scope="session")
def base_gateway(platform_env, unit_database_url, run_id):
    settings = get_settings(
        **{**platform_env, "database_url": unit_database_url},
        key_manager_url="http://127.0.0.1:1",
        antifraud_url="http://127.0.0.1:1",
        activations_events_topic=f"test.agu.{run_id}.activations.events",
        antifraud_events_topic=f"test.agu.{run_id}.antifraud.events",
        reassess_after_seconds=1,
        database_pool_size=2,
        geoip_sample_ranges=True,
    )
    gw = Gateway.from_settings(settings)
    yield gw
    gw.db.dispose()


@pytest.fixture()
def key_manager() -> FakeKeyManager:
    return FakeKeyManager()


@pytest.fixture()
def antifraud() -> FakeAntifraud:
    return FakeAntifraud()


@pytest.fixture()
def gw(base_gateway, key_manager, antifraud, redis_url) -> Gateway:
    """The gateway with the fakes, and lockout counters of its own."""
    limiter = RateLimiter(
        lockout_redis(redis_url), fail_open=False, key_prefix=f"agu:{uuid.uuid4().hex[:12]}:rl"
    )
    return replace(base_gateway, key_manager=key_manager, antifraud=antifraud, limiter=limiter)


@pytest.fixture()
def attempt():
    """``attempt(key_text, **fields)``: a fresh player's redemption attempt from a fresh address."""

    def make(key_text: str, **fields: Any) -> Attempt:
        values = {
            "user_id": str(uuid.uuid4()),
            "key_text": key_text,
            "user_region": "DE",
            "device_fingerprint": f"dev-{uuid.uuid4().hex}",
            "platform": "windows",
            "ip": f"10.{uuid.uuid4().int % 250 + 1}.{uuid.uuid4().int % 250 + 1}.7",
            "activation_id": uuid.uuid4(),
            **fields,
        }
        return Attempt(**values)

    return make


@pytest.fixture()
def row(base_gateway):
    """``row(activation_id)``: the activation record (a dict), or None."""

    def find(activation_id) -> dict | None:
        with base_gateway.db.transaction() as session:
            found = session.execute(select(activations).where(activations.c.id == activation_id)).first()
            return None if found is None else dict(found._mapping)

    return find


@pytest.fixture()
def events_of(base_gateway):
    """Payloads in the outbox of a type for one activation, oldest first."""

    def find(event_type: str, subject) -> list[dict]:
        outbox = base_gateway.db.tables.outbox
        query = select(outbox.c.payload).where(
            outbox.c.event_type == event_type, outbox.c.message_key == str(subject)
        )
        with base_gateway.db.transaction() as session:
            return [found[0] for found in session.execute(query.order_by(outbox.c.seq)).all()]

    return find
