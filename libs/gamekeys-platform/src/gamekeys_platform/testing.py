"""pytest fixtures for the platform's tests, registered as a plugin so every service gets them.

Tests talk to real components: a fresh PostgreSQL database per run (dropped afterwards),
the local Redis and Kafka broker (``make infra-up``), and tokens signed by a key pair made
for the run.
"""

from __future__ import annotations

import os
import re
import socket
import subprocess
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import psycopg
import pytest
import requests
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from jsonschema import Draft202012Validator
from psycopg import sql
from sqlalchemy import MetaData, create_engine
from werkzeug.serving import make_server

from gamekeys_platform import contracts, devkeys
from gamekeys_platform.consumer import EventConsumer, EventHandler
from gamekeys_platform.contracts import developer
from gamekeys_platform.contracts.docs import event_schema
from gamekeys_platform.db import Database
from gamekeys_platform.events import TOPIC_BY_SOURCE, Event, MalformedEvent
from gamekeys_platform.studios import StudioProjection


def _admin_url() -> str:
    return os.environ.get("TEST_POSTGRES_ADMIN_URL", "postgresql://postgres@127.0.0.1:5432/postgres")


@contextmanager
def fresh_database() -> Iterator[str]:
    """URL of a database created for the caller and dropped when the block ends."""
    name = f"gk_test_{uuid.uuid4().hex[:10]}"
    admin = _admin_url()
    with psycopg.connect(admin, autocommit=True) as connection:
        connection.execute(f'CREATE DATABASE "{name}"')
    try:
        yield admin.rsplit("/", 1)[0] + f"/{name}"
    finally:
        with psycopg.connect(admin, autocommit=True) as connection:
            connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    """URL of a database created for this test run and dropped at its end, once every event
    the run's services wrote to their outboxes has been checked against its contract: a change
    that would break a consumer fails the producer's tests."""
    with fresh_database() as url:
        yield url
        violations = outbox_contract_violations(url)
    assert not violations, "events that break their contracts:\n" + "\n".join(violations[:20])


def outbox_contract_violations(url: str) -> list[str]:
    """Each event in any schema's outbox that does not load through its contract, and each
    type whose first event does not match its published JSON Schema."""
    violations, checked_schemas = [], set()
    with psycopg.connect(url) as connection:
        schemas = connection.execute(
            "SELECT table_schema FROM information_schema.tables WHERE table_name = 'outbox'"
        ).fetchall()
        for (schema,) in schemas:
            outbox = sql.SQL("SELECT payload FROM {}.outbox ORDER BY seq").format(sql.Identifier(schema))
            for (payload,) in connection.execute(outbox):
                try:
                    event = Event.from_dict(payload)
                    contracts.load(event)
                except MalformedEvent as exc:
                    violations.append(f"{schema}: {exc}")
                    continue
                contract = contracts.contract_for(event.source, event.type)
                if contract not in checked_schemas and contract.SOURCE in TOPIC_BY_SOURCE:
                    checked_schemas.add(contract)
                    for error in Draft202012Validator(event_schema(contract)).iter_errors(payload):
                        violations.append(f"{schema}: {event.type} against its JSON Schema: {error.message}")
    return violations


@pytest.fixture(scope="session")
def run_id() -> str:
    """A short id of this test run, for topic names and Redis prefixes of its own."""
    return uuid.uuid4().hex[:8]


@pytest.fixture(scope="session")
def redis_url() -> str:
    return os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0")


@pytest.fixture(scope="session")
def kafka_servers() -> list[str]:
    servers = os.environ.get("KAFKA_BOOTSTRAP_SERVERS", "127.0.0.1:9092").split(",")
    host, port = servers[0].rsplit(":", 1)
    try:
        socket.create_connection((host, int(port)), timeout=2).close()
    except OSError:
        pytest.fail(f"no Kafka broker at {servers[0]}: start it with `make infra-up`")
    return servers


@pytest.fixture(scope="session")
def dev_key_dir(tmp_path_factory) -> Path:
    directory = tmp_path_factory.mktemp("dev-keys")
    devkeys.ensure_key_pair(directory)
    return directory


@pytest.fixture(scope="session")
def make_token(dev_key_dir: Path) -> Callable[..., str]:
    """``make_token(sub=..., roles=("developer",), scopes=(), email=None, **claims)``."""
    private_key = (dev_key_dir / devkeys.PRIVATE_KEY_FILE).read_text()

    def make(
        sub: str | None = None, roles=("user",), scopes=(), email=None, ttl_seconds=3600, **claims
    ) -> str:
        return devkeys.mint_token(
            private_key,
            sub=sub or str(uuid.uuid4()),
            roles=roles,
            scopes=scopes,
            email=email,
            issuer=devkeys.DEV_ISSUER,
            audience=devkeys.DEV_AUDIENCE,
            ttl_seconds=ttl_seconds,
            extra_claims=claims or None,
        )

    return make


@pytest.fixture(scope="session")
def platform_env(postgres_url: str, redis_url: str, dev_key_dir: Path) -> dict[str, str]:
    """Settings overrides every service's test app needs (see ``settings.PlatformSettings``)."""
    return {
        "environment": "test",
        "database_url": postgres_url,
        "redis_url": redis_url,
        "kafka_bootstrap_servers": os.environ.get("KAFKA_BOOTSTRAP_SERVERS", "127.0.0.1:9092"),
        "jwt_issuer": devkeys.DEV_ISSUER,
        "jwt_audience": devkeys.DEV_AUDIENCE,
        "jwt_public_key_file": dev_key_dir / devkeys.PUBLIC_KEY_FILE,
        "service_token_signing_key_file": dev_key_dir / devkeys.PRIVATE_KEY_FILE,
    }


def free_port() -> int:
    """A port on 127.0.0.1 that nothing listens on now, for a server started in a subprocess."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def wait_until_answering(url: str, process: subprocess.Popen, *, timeout: float = 30.0) -> None:
    """Wait until ``url`` answers 200; RuntimeError if ``process`` (the server) exits first or
    ``timeout`` seconds pass."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"the server exited with {process.returncode} before answering {url}")
        try:
            if requests.get(url, timeout=1).status_code == 200:
                return
        except requests.RequestException:
            pass  # not listening yet
        time.sleep(0.1)
    raise RuntimeError(f"{url} did not answer within {timeout:g} s")


@contextmanager
def serving(app) -> Iterator[str]:
    """``app`` on a real threaded HTTP server on 127.0.0.1, for concurrent requests and for
    services that call each other; yields its base URL."""
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()


def race(count: int, call: Callable[[requests.Session, int], object]) -> list:
    """Run ``call(session, n)`` for n in 0..count-1 on ``count`` threads released together (a
    barrier), each with its own HTTP session; their results in order of n."""
    barrier = threading.Barrier(count)

    def run(n: int):
        with requests.Session() as session:
            barrier.wait()
            return call(session, n)

    threads_results: list = [None] * count
    errors: list[BaseException] = []

    def target(n: int) -> None:
        try:
            threads_results[n] = run(n)
        except BaseException as exc:  # re-raised in the caller's thread
            errors.append(exc)

    threads = [threading.Thread(target=target, args=(n,)) for n in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    if errors:
        raise errors[0]
    return threads_results


def openapi_problems(app) -> list[str]:
    """What /openapi.json of ``app`` lacks (§3 "OpenAPI"): every operation has a summary and
    declares its 4xx answers with a JSON body schema (§3's error schema unless the route
    documents its own), authenticated ones 401 and 403, and the routes that honour
    Idempotency-Key declare that header with its 409 and 422."""
    spec = app.test_client().get("/openapi.json").get_json()
    idempotent_paths = set()
    for rule in app.url_map.iter_rules():
        facts = getattr(app.view_functions[rule.endpoint], "_apidoc", {}).get("gamekeys", {})
        if facts.get("idempotent"):
            path = re.sub(r"<(?:[^:<>]+:)?([^<>]+)>", r"{\1}", rule.rule)
            idempotent_paths |= {(method.lower(), path) for method in rule.methods - {"HEAD", "OPTIONS"}}
    problems = []
    for path, operations in spec["paths"].items():
        for method, operation in operations.items():
            if method == "parameters":
                continue
            where = f"{method.upper()} {path}"
            responses = operation["responses"]
            client_errors = [status for status in responses if status.startswith("4")]
            if not operation.get("summary"):
                problems.append(f"{where}: no summary")
            if not client_errors:
                problems.append(f"{where}: no 4xx answer declared")
            for status in client_errors:
                if "schema" not in responses[status].get("content", {}).get("application/json", {}):
                    problems.append(f"{where}: {status} has no JSON schema")
            if "default" in responses:
                problems.append(f"{where}: a default response lets any status through")
            security = operation.get("security", spec.get("security"))
            # {} among the alternatives: a token is optional (distribution's token endpoint).
            if security and {} not in security and not {"401", "403"} <= set(responses):
                problems.append(f"{where}: authenticated, but 401/403 not declared")
            headers = {p["name"] for p in operation.get("parameters", []) if p.get("in") == "header"}
            if (method, path) in idempotent_paths and not (
                "Idempotency-Key" in headers and {"409", "422"} <= set(responses)
            ):
                problems.append(f"{where}: idempotent, but Idempotency-Key or its 409/422 undeclared")
    return problems


def check_operations_in_process(
    app, headers_for: Callable[[str], dict[str, str]], *, max_examples: int = 3, exclude=()
) -> dict[str, str]:
    """schemathesis over ``app``'s /openapi.json, in process (WSGI): a few generated cases per
    operation, each answer checked for no 5xx, a status the operation declares, and a body its
    schema allows. ``headers_for(path)`` gives each operation's credentials; ``exclude`` holds
    (method, path) pairs not to fuzz. Returns the failures by operation."""
    import schemathesis
    from hypothesis import HealthCheck, Phase, given, settings
    from schemathesis.checks import not_a_server_error, response_schema_conformance, status_code_conformance

    checks = [not_a_server_error, status_code_conformance, response_schema_conformance]
    fuzz_settings = settings(
        max_examples=max_examples,
        deadline=None,
        database=None,  # nothing written into the checkout
        derandomize=True,  # the same cases every run, so a failure can be replayed
        phases=[Phase.explicit, Phase.generate],
        suppress_health_check=list(HealthCheck),
    )

    def fuzz(operation) -> None:
        headers = headers_for(operation.path)

        @fuzz_settings
        @given(case=operation.as_strategy())
        def check(case):
            case.call_and_validate(headers=headers, checks=checks)

        check()

    failures = {}
    for result in schemathesis.openapi.from_wsgi("/openapi.json", app).get_all_operations():
        operation = result.ok()
        if (operation.method.upper(), operation.path) in exclude:
            continue
        try:
            fuzz(operation)
        except (Exception, BaseExceptionGroup) as failure:  # schemathesis groups its failures
            failures[operation.label] = str(failure)[:2000]
    return failures


def consumer_in_own_group(
    db: Database, servers: list[str], *, name: str, topics: list[str], handler: EventHandler, **options
) -> EventConsumer:
    """The consumer ``name`` (its inbox rows are those the worker's consumer writes) in a Kafka
    consumer group of its own, so it reads the test's topics from their start whatever offsets
    earlier runs left; ``options`` as ``EventConsumer`` takes them (``event_types``, ...)."""
    group = f"{name}-{uuid.uuid4().hex[:8]}"
    return EventConsumer.connect(
        db, servers, name=name, topics=topics, handler=handler, group=group, **options
    )


def settle_all(consumer: EventConsumer, count: int, *, timeout: float = 60) -> int:
    """Poll ``consumer`` until it has settled ``count`` records (or ``timeout`` passed), then close
    it; returns how many it settled."""
    settled, deadline = 0, time.monotonic() + timeout
    try:
        while settled < count and time.monotonic() < deadline:
            settled += consumer.poll_once(timeout_ms=500)
    finally:
        consumer.consumer.close()
        consumer.dead_letter_producer.close()
    return settled


def seed_studio_game(
    db: Database, projection: StudioProjection, *, members: tuple[str, ...] = (), verified: bool = True
) -> tuple[uuid.UUID, uuid.UUID, dict[str, str]]:
    """A studio with one game in a service's studio projection, fed the developer.events its
    consumer would get: its admin plus a member per team role in ``members``, verified unless
    told otherwise. Returns (developer id, game id, team role -> user id)."""
    developer_id, game_id = uuid.uuid4(), uuid.uuid4()
    users = {role: str(uuid.uuid4()) for role in ("admin", *members)}
    events = [
        developer.DeveloperRegistered(
            developer_id=developer_id,
            company_name="Studio",
            admin_user_id=users["admin"],
            verification_status="pending",
        ),
        *(developer.TeamMemberAdded(developer_id=developer_id, user_id=users[r], role=r) for r in members),
        *(
            [
                developer.DeveloperVerified(
                    developer_id=developer_id, verification_status="verified", reason=None
                )
            ]
            if verified
            else []
        ),
        developer.GameCreated(game_id=game_id, developer_id=developer_id, title="Game", status="draft"),
    ]
    handlers = projection.handlers()
    with db.transaction() as session:
        for data in events:
            handlers(session, data.to_event())
    return developer_id, game_id, users


def migration_drift(url, metadata: MetaData) -> list:
    """What differs between a database migrated to head and a service's tables (``metadata``,
    its schema only, types compared): empty when the migrations create what the code expects."""
    engine = create_engine(url)  # the default search_path, as the migrations run
    try:
        with engine.connect() as connection:
            context = MigrationContext.configure(
                connection,
                opts={
                    "include_schemas": True,
                    "include_name": lambda name, type_, _parent: (
                        name == metadata.schema if type_ == "schema" else name != "alembic_version"
                    ),
                    "compare_type": True,
                },
            )
            return compare_metadata(context, metadata)
    finally:
        engine.dispose()
