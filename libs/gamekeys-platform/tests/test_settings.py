"""Settings come from the environment and a bad environment stops start-up with a clear message."""

from __future__ import annotations

import pytest

from gamekeys_platform.settings import ConfigError, PlatformSettings, load_settings


def test_settings_are_read_from_environment_variables(monkeypatch, platform_env):
    for name, value in platform_env.items():
        monkeypatch.setenv(name.upper(), str(value))
    monkeypatch.setenv("SERVICE_NAME", "key-manager")
    monkeypatch.setenv("DATABASE_POOL_SIZE", "7")
    monkeypatch.setenv("KAFKA_BOOTSTRAP_SERVERS", "127.0.0.1:9092, 127.0.0.2:9092")
    settings = load_settings(PlatformSettings)
    assert settings.service_name == "key-manager"
    assert settings.database_pool_size == 7
    assert settings.kafka_servers == ["127.0.0.1:9092", "127.0.0.2:9092"]


def test_missing_and_malformed_variables_are_all_named(monkeypatch, platform_env):
    for name in [*platform_env, "service_name"]:
        monkeypatch.delenv(name.upper(), raising=False)
    monkeypatch.setenv("DATABASE_URL", "mysql://nope")
    monkeypatch.setenv("DATABASE_POOL_SIZE", "lots")
    with pytest.raises(ConfigError) as raised:
        load_settings(PlatformSettings)
    message = str(raised.value)
    for expected in (
        "SERVICE_NAME: missing",
        "REDIS_URL: missing",
        "JWT_ISSUER: missing",
        "DATABASE_URL:",
        "DATABASE_POOL_SIZE:",
    ):
        assert expected in message


def test_exactly_one_jwt_key_source(platform_env):
    with pytest.raises(ConfigError, match="exactly one of JWT_PUBLIC_KEY_FILE and JWT_JWKS_URL"):
        load_settings(
            PlatformSettings, service_name="x", **platform_env, jwt_jwks_url="http://127.0.0.1:1/jwks"
        )
    env = {**platform_env, "jwt_public_key_file": "/nonexistent/key.pem"}
    with pytest.raises(ConfigError, match="not a readable file"):
        load_settings(PlatformSettings, service_name="x", **env)
