"""Where the tests' PostgreSQL, Redis and Kafka are (``gamekeys_platform.testing``): containers
only when GAMEKEYS_TESTCONTAINERS asks for them and a container engine answers, the local servers
otherwise. There is no container engine here: the containers' side is decided, not started."""

from __future__ import annotations

import os
import socket

import psycopg
import pytest
import redis

from gamekeys_platform import testing
from gamekeys_platform.testing import (
    CONTAINERS_VARIABLE,
    Backends,
    container_engine_available,
    platform_backends,
    resolve_backends,
    select_backends,
)

LOCAL_DEFAULTS = {
    "postgres_admin_url": "postgresql://postgres@127.0.0.1:5432/postgres",
    "redis_url": "redis://127.0.0.1:6379/0",
    "kafka_bootstrap_servers": "127.0.0.1:9092",
}


def engine(answers: bool):
    asked = []

    def available() -> bool:
        asked.append(True)
        return answers

    available.asked = asked
    return available


@pytest.mark.parametrize("value", [None, "", "0", "false", "No", " off "])
def test_unset_or_off_means_the_local_servers_without_asking_for_an_engine(value):
    environ = {} if value is None else {CONTAINERS_VARIABLE: value}
    available = engine(True)
    selection = select_backends(environ, available)
    assert not selection.containers
    assert available.asked == []  # no engine is even looked for
    assert CONTAINERS_VARIABLE in selection.reason


@pytest.mark.parametrize("value", ["1", "true", "YES", "on", "require"])
def test_opted_in_with_an_engine_means_containers(value):
    selection = select_backends({CONTAINERS_VARIABLE: value}, engine(True))
    assert selection.containers
    assert "engine answers" in selection.reason


@pytest.mark.parametrize("value", ["1", "true"])
def test_opted_in_without_an_engine_falls_back_to_the_local_servers(value):
    selection = select_backends({CONTAINERS_VARIABLE: value}, engine(False))
    assert not selection.containers
    assert "no container engine answers" in selection.reason


def test_required_without_an_engine_fails_the_run():
    with pytest.raises(RuntimeError, match="no container engine answers"):
        select_backends({CONTAINERS_VARIABLE: "require"}, engine(False))


def test_a_value_that_is_neither_on_nor_off_is_refused():
    with pytest.raises(ValueError, match=CONTAINERS_VARIABLE):
        select_backends({CONTAINERS_VARIABLE: "maybe"}, engine(True))


def unused_address() -> str:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return f"tcp://127.0.0.1:{probe.getsockname()[1]}"


def test_no_engine_answers_where_none_listens(monkeypatch):
    monkeypatch.setenv("DOCKER_HOST", unused_address())
    assert container_engine_available() is False


def test_opted_in_with_no_engine_reachable_resolves_to_the_local_servers_which_answer(monkeypatch):
    monkeypatch.setenv("DOCKER_HOST", unused_address())
    environ = {**os.environ, CONTAINERS_VARIABLE: "1"}
    backends, containers = resolve_backends(environ)  # the real engine probe
    assert containers == []
    assert backends == Backends.local(os.environ, f"{CONTAINERS_VARIABLE}=1, but no container engine answers")
    assert backends.source == "local servers"
    with psycopg.connect(backends.postgres_admin_url, connect_timeout=5) as connection:
        assert connection.execute("SELECT 1").fetchone() == (1,)
    assert redis.Redis.from_url(backends.redis_url, socket_timeout=5).ping()
    host, port = backends.kafka_bootstrap_servers.rsplit(":", 1)
    socket.create_connection((host, int(port)), timeout=5).close()


def test_the_local_servers_default_to_the_addresses_make_infra_up_uses():
    backends, _containers = resolve_backends({}, engine(True))
    assert (backends.postgres_admin_url, backends.redis_url, backends.kafka_bootstrap_servers) == (
        LOCAL_DEFAULTS["postgres_admin_url"],
        LOCAL_DEFAULTS["redis_url"],
        LOCAL_DEFAULTS["kafka_bootstrap_servers"],
    )


def test_the_local_servers_can_be_moved_by_the_usual_variables():
    environ = {
        "TEST_POSTGRES_ADMIN_URL": "postgresql://admin:secret@db.internal:5433/postgres",
        "REDIS_URL": "redis://cache.internal:6380/1",
        "KAFKA_BOOTSTRAP_SERVERS": "kafka-1:9092,kafka-2:9092",
    }
    backends, containers = resolve_backends(environ, engine(True))
    assert containers == []
    assert (backends.postgres_admin_url, backends.redis_url, backends.kafka_bootstrap_servers) == (
        environ["TEST_POSTGRES_ADMIN_URL"],
        environ["REDIS_URL"],
        environ["KAFKA_BOOTSTRAP_SERVERS"],
    )


def test_this_run_uses_what_the_fixtures_were_given(postgres_url, redis_url, kafka_servers):
    backends = platform_backends()
    if backends.source == "containers":  # a machine with an engine, opted in
        assert testing._resolved[1], "containers were chosen, so they were started"
    else:
        assert testing._resolved[1] == []
    assert postgres_url.rsplit("/", 1)[0] == backends.postgres_admin_url.rsplit("/", 1)[0]
    assert redis_url == backends.redis_url
    assert kafka_servers == backends.kafka_bootstrap_servers.split(",")


def test_outage_tests_run_on_the_local_broker_and_are_skipped_on_a_containers_one(monkeypatch):
    testing.require_local_broker()  # this run's broker is the local one: nothing happens
    in_containers = Backends(**LOCAL_DEFAULTS, source="containers", reason="opted in")
    monkeypatch.setattr(testing, "_resolved", (in_containers, []))
    with pytest.raises(pytest.skip.Exception, match="pausing the local broker"):
        testing.require_local_broker()
