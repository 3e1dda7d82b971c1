"""POST /validate is limited per caller (token subject), counted in Redis."""

from __future__ import annotations

import base64

import pytest

from gamekeys_platform.settings import ConfigError, load_settings
from key_manager.app import create_app
from key_manager.settings import Settings

VALID = "2345-6789-ABCD-EFGH"


@pytest.fixture(scope="module")
def limited_client(settings):
    app = create_app(settings.model_copy(update={"key_validate_rate_limit": 3}))
    yield app.test_client()
    app.extensions["key_manager"].db.dispose()


def test_over_the_limit_is_429_with_retry_after_and_other_callers_are_unaffected(limited_client, make_token):
    caller = {"Authorization": f"Bearer {make_token(roles=('user',))}"}
    for _ in range(3):
        response = limited_client.post("/api/v1/keys/validate", json={"key": VALID}, headers=caller)
        assert response.status_code == 200
    refused = limited_client.post("/api/v1/keys/validate", json={"key": VALID}, headers=caller)
    assert refused.status_code == 429
    body = refused.get_json()["error"]
    assert body["code"] == "RATE_LIMITED"
    retry_after = int(refused.headers["Retry-After"])
    assert 1 <= retry_after <= 60 and body["details"]["retryAfter"] == retry_after
    # Counted before the body is read: a malformed body is refused the same way.
    assert limited_client.post("/api/v1/keys/validate", data="{", headers=caller).status_code == 429

    other = {"Authorization": f"Bearer {make_token(roles=('developer',))}"}
    assert limited_client.post("/api/v1/keys/validate", json={"key": VALID}, headers=other).status_code == 200


def test_the_limit_is_configured_and_checked_at_start_up(settings, platform_env):
    assert settings.key_validate_rate_limit == 60 and settings.key_validate_rate_window_seconds == 60
    for bad in ({"key_validate_rate_limit": 0}, {"key_validate_rate_window_seconds": 0}):
        with pytest.raises(ConfigError) as refused:
            load_settings(
                Settings,
                **platform_env,
                key_encryption_keys=f"a:{base64.b64encode(bytes(32)).decode()}",
                key_encryption_active_key_id="a",
                key_lookup_pepper="x" * 32,
                **bad,
            )
        assert next(iter(bad)).upper() in str(refused.value)
