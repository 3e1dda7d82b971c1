"""pytest fixtures for the platform's tests, registered as a plugin so every service gets them.

Tests talk to real components: a fresh PostgreSQL database per run (dropped afterwards),
Redis and a Kafka broker, and tokens signed by a key pair made for the run.

Where PostgreSQL, Redis and Kafka are (``platform_backends``): the local servers
(``make infra-up``; ``TEST_POSTGRES_ADMIN_URL``, ``REDIS_URL``, ``KAFKA_BOOTSTRAP_SERVERS`` move
them), unless ``GAMEKEYS_TESTCONTAINERS=1`` and a container engine answers (Docker's
``DOCKER_HOST`` or socket): then PostgreSQL 15, Redis 7 and Kafka in KRaft mode are started in
containers with testcontainers for the run and removed at its end. ``GAMEKEYS_TESTCONTAINERS=require``
fails the run when no engine answers instead of falling back. ClickHouse, S3 and clamd stay the
local servers either way. pytest's header says which were chosen and why.
"""

from __future__ import annotations

import os
import re
import socket
import subprocess
import threading
import time
import uuid
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
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

# -- where the tests' PostgreSQL, Redis and Kafka are ---------------------------------------------------

CONTAINERS_VARIABLE = "GAMEKEYS_TESTCONTAINERS"
_CONTAINERS_OFF = frozenset({"", "0", "false", "no", "off"})
_CONTAINERS_ON = frozenset({"1", "true", "yes", "on"})
_CONTAINERS_REQUIRED = "require"
POSTGRES_IMAGE = "postgres:15-alpine"
REDIS_IMAGE = "redis:7-alpine"
KAFKA_IMAGE = "confluentinc/cp-kafka:7.6.0"  # run in KRaft mode, no ZooKeeper


@dataclass(frozen=True)
class Backends:
    """Where this run's PostgreSQL (its admin database), Redis and Kafka are, and why."""

    postgres_admin_url: str
    redis_url: str
    kafka_bootstrap_servers: str
    source: str  # "local servers" or "containers"
    reason: str

    @classmethod
    def local(cls, environ: Mapping[str, str], reason: str) -> Backends:
        return cls(
            postgres_admin_url=environ.get(
                "TEST_POSTGRES_ADMIN_URL", "postgresql://postgres@127.0.0.1:5432/postgres"
            ),
            redis_url=environ.get("REDIS_URL", "redis://127.0.0.1:6379/0"),
            kafka_bootstrap_servers=environ.get("KAFKA_BOOTSTRAP_SERVERS", "127.0.0.1:9092"),
            source="local servers",
            reason=reason,
        )


@dataclass(frozen=True)
class Selection:
    containers: bool
    reason: str


def select_backends(environ: Mapping[str, str], engine_available: Callable[[], bool]) -> Selection:
    """Containers only when ``GAMEKEYS_TESTCONTAINERS`` asks for them and ``engine_available()``
    says a container engine answers; the local servers otherwise. ValueError for a value that is
    neither on nor off; RuntimeError when it is ``require`` and no engine answers."""
    value = environ.get(CONTAINERS_VARIABLE, "").strip().lower()
    if value in _CONTAINERS_OFF:
        return Selection(False, f"{CONTAINERS_VARIABLE} is not set")
    if value not in _CONTAINERS_ON and value != _CONTAINERS_REQUIRED:
        raise ValueError(
            f"{CONTAINERS_VARIABLE}={value!r}: use 1 (containers when an engine answers, else the "
            f"local servers), {_CONTAINERS_REQUIRED} (containers or fail), or leave it unset"
        )
    if engine_available():
        return Selection(True, f"{CONTAINERS_VARIABLE}={value} and a container engine answers")
    if value == _CONTAINERS_REQUIRED:
        raise RuntimeError(f"{CONTAINERS_VARIABLE}={value}, but no container engine answers")
    return Selection(False, f"{CONTAINERS_VARIABLE}={value}, but no container engine answers")


def container_engine_available() -> bool:
    """Whether a Docker-compatible engine answers a ping (``DOCKER_HOST`` or the default socket)."""
    try:
        import docker
    except ImportError:  # testcontainers (and its docker client) is a development dependency
        return False
    try:
        client = docker.from_env(timeout=3)
    except Exception:  # no socket, no DOCKER_HOST, nothing listening
        return False
    try:
        return bool(client.ping())
    except Exception:
        return False
    finally:
        client.close()


def resolve_backends(
    environ: Mapping[str, str], engine_available: Callable[[], bool] = container_engine_available
) -> tuple[Backends, list]:
    """The backends to use, with the containers started for them (empty for the local servers)."""
    selection = select_backends(environ, engine_available)
    if not selection.containers:
        return Backends.local(environ, selection.reason), []
    return _start_containers(selection.reason)


def _start_containers(reason: str) -> tuple[Backends, list]:
    from testcontainers.community.kafka import KafkaContainer
    from testcontainers.community.postgres import PostgresContainer
    from testcontainers.community.redis import RedisContainer

    started: list = []
    try:
        postgres = PostgresContainer(
            POSTGRES_IMAGE,
            username="postgres",
            password="postgres",  # noqa: S106 - a throwaway container of the test run
            dbname="postgres",
            driver=None,
        ).start()
        started.append(postgres)
        redis_container = RedisContainer(REDIS_IMAGE).start()
        started.append(redis_container)
        kafka = KafkaContainer(KAFKA_IMAGE).with_kraft().start()
        started.append(kafka)
    except BaseException:
        _stop_containers(started)
        raise
    redis_address = f"{redis_container.get_container_host_ip()}:{redis_container.get_exposed_port(6379)}"
    backends = Backends(
        postgres_admin_url=postgres.get_connection_url(driver=None),
        redis_url=f"redis://{redis_address}/0",
        kafka_bootstrap_servers=kafka.get_bootstrap_server(),
        source="containers",
        reason=reason,
    )
    return backends, started


def _stop_containers(started: list) -> None:
    for container in reversed(started):
        try:
            container.stop()
        except Exception as exc:  # the run is over: report, do not mask its outcome
            print(f"gamekeys: could not remove a test container: {exc}")


_resolved: tuple[Backends, list] | None = None


def platform_backends() -> Backends:
    """This run's backends, chosen (and containers started) on first use; containers are removed
    when pytest ends."""
    global _resolved
    if _resolved is None:
        _resolved = resolve_backends(os.environ)
    return _resolved[0]


def pytest_report_header(config) -> str:
    try:
        selection = select_backends(os.environ, container_engine_available)
    except (ValueError, RuntimeError) as exc:
        return f"gamekeys backends: {exc}"
    where = "containers (testcontainers)" if selection.containers else "local servers"
    return f"gamekeys backends: PostgreSQL, Redis, Kafka on {where} ({selection.reason})"


def pytest_unconfigure(config) -> None:
    global _resolved
    if _resolved is not None:
        _stop_containers(_resolved[1])
        _resolved = None


def require_local_broker() -> None:
    """Skip the calling test unless this run's broker is the local one: outage tests pause the
    local broker process (``deploy/local/infra.sh pause kafka``), which a container's is not."""
    backends = platform_backends()
    if backends.source != "local servers":
        pytest.skip("the broker outage is made by pausing the local broker; this run's is in a container")


# The repository's local infrastructure script (the lib is installed editable from libs/).
_INFRA = Path(__file__).resolve().parents[4] / "deploy" / "local" / "infra.sh"


@contextmanager
def local_broker_paused() -> Iterator[None]:
    """The local broker stopped (SIGSTOP) for the block and continued after it: its clients see
    a broker that does not answer, and it loses nothing (a restart would: it keeps records in
    memory). Skips the test unless the broker is the local one."""
    require_local_broker()
    subprocess.run([str(_INFRA), "pause", "kafka"], check=True, capture_output=True, timeout=30)  # noqa: S603
    try:
        yield
    finally:
        subprocess.run([str(_INFRA), "resume", "kafka"], check=True, capture_output=True, timeout=30)  # noqa: S603


def _admin_url() -> str:
    return platform_backends().postgres_admin_url


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
    return platform_backends().redis_url


@pytest.fixture(scope="session")
def kafka_servers() -> list[str]:
    backends = platform_backends()
    servers = backends.kafka_bootstrap_servers.split(",")
    host, port = servers[0].rsplit(":", 1)
    try:
        socket.create_connection((host, int(port)), timeout=2).close()
    except OSError:
        hint = "start it with `make infra-up`" if backends.source == "local servers" else backends.reason
        pytest.fail(f"no Kafka broker at {servers[0]}: {hint}")
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
        "kafka_bootstrap_servers": platform_backends().kafka_bootstrap_servers,
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
    documents its own), a 2xx answer with a body offers JSON (CSV or a chart only beside it),
    authenticated ones 401 and 403, and the routes that honour
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
            for status, answer in responses.items():
                # Other media types (CSV, a chart) are alternatives to the JSON answer, never instead.
                if (
                    status.startswith("2")
                    and answer.get("content")
                    and "application/json" not in answer["content"]
                ):
                    problems.append(f"{where}: {status} offers no application/json answer")
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


class OtlpReceiver:
    """An OTLP/HTTP trace receiver (what an OpenTelemetry Collector answers on /v1/traces):
    ``with OtlpReceiver() as receiver:`` serves ``receiver.url`` on a thread and keeps every span
    it is sent with its service's name, so tests and benchmarks see what was really exported."""

    def __init__(self, port: int = 0) -> None:
        import gzip
        from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

        from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
            ExportTraceServiceRequest,
            ExportTraceServiceResponse,
        )

        self.spans: list[tuple[str | None, object]] = []  # (service.name, span)
        self.requests = 0
        self._lock = threading.Lock()
        receiver, answer = self, ExportTraceServiceResponse().SerializeToString()

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                if self.headers.get("Content-Encoding") == "gzip":
                    body = gzip.decompress(body)
                export = ExportTraceServiceRequest.FromString(body)
                with receiver._lock:
                    receiver.requests += 1
                    for resource_spans in export.resource_spans:
                        attributes = {a.key: a.value.string_value for a in resource_spans.resource.attributes}
                        for scope_spans in resource_spans.scope_spans:
                            receiver.spans.extend(
                                (attributes.get("service.name"), s) for s in scope_spans.spans
                            )
                self.send_response(200 if self.path == "/v1/traces" else 404)
                self.send_header("Content-Type", "application/x-protobuf")
                self.send_header("Content-Length", str(len(answer)))
                self.end_headers()
                self.wfile.write(answer)

            def log_message(self, *_args) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}"

    def spans_of(self, trace_id: str) -> dict[str, object]:
        """The spans of one trace (hex id), by span name."""
        with self._lock:
            return {span.name: span for _service, span in self.spans if span.trace_id.hex() == trace_id}

    def spans_by_service(self) -> dict[str | None, int]:
        with self._lock:
            counts: dict[str | None, int] = {}
            for service, _span in self.spans:
                counts[service] = counts.get(service, 0) + 1
            return counts

    def __enter__(self) -> OtlpReceiver:
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return self

    def __exit__(self, *_exc) -> None:
        self.server.shutdown()
        self.server.server_close()
