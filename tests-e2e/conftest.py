"""The end-to-end suite's fixtures: the running platform (started here if it is not up), callers
with dev tokens, the Kafka topics read from the end, and the plaintext keys the suite saw."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import requests
from kafka import KafkaConsumer, TopicPartition
from kafka.errors import KafkaError

ROOT = Path(__file__).resolve().parents[1]
LOCAL_DEPLOY = ROOT / "deploy" / "local"
sys.path.insert(0, str(LOCAL_DEPLOY))

import platform_client  # noqa: E402 - found through the path above
import run as local_run  # noqa: E402

GATEWAY = platform_client.GATEWAY
KAFKA = "127.0.0.1:9092"
TOPICS = (
    "developer.events",
    "builds.events",
    "keys.events",
    "activations.events",
    "antifraud.events",
    "distribution.events",
    "payments.events",
)
KEY_PATTERN = re.compile(r"\b[A-Z2-9]{4}-[A-Z2-9]{4}-[A-Z2-9]{4}-[A-Z2-9]{4}\b")
START_TIMEOUT_SECONDS = 180


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "e2e_last: run after every other test (it checks what they left)")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    items.sort(key=lambda item: item.get_closest_marker("e2e_last") is not None)


def _ready(url: str) -> bool:
    try:
        return requests.get(url, timeout=3).status_code == 200
    except requests.RequestException:
        return False


def platform_ready() -> bool:
    return _ready(f"{GATEWAY}/gateway/healthz") and all(
        _ready(f"{service.url}/readyz") for service in local_run.services()
    )


def wait_until_ready(timeout: float = START_TIMEOUT_SECONDS) -> None:
    deadline = time.monotonic() + timeout
    while not platform_ready():
        if time.monotonic() > deadline:
            raise AssertionError(f"the platform is not ready after {timeout:.0f} s")
        time.sleep(1)


def run_py(*args: str) -> None:
    subprocess.run([sys.executable, str(LOCAL_DEPLOY / "run.py"), *args], check=True, cwd=ROOT)


def infra(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [str(LOCAL_DEPLOY / "infra.sh"), *args], check=True, cwd=ROOT, capture_output=True, text=True
    )


@pytest.fixture(scope="session", autouse=True)
def running_platform() -> Iterator[None]:
    """The platform as `make run` leaves it. If some service is not up, start what is missing
    (without the demo) and, at the end, stop only what was started here."""
    if platform_ready():
        yield
        return
    down = [s.name for s in local_run.services() if local_run.running_pid(f"{s.name}-api") is None]
    run_py("start", "--no-demo")
    wait_until_ready()
    yield
    if down:
        run_py("stop", *down)


class Control:
    """What fault tests do to the platform: infra.sh and run.py commands, waiting for readiness."""

    infra = staticmethod(infra)
    run_py = staticmethod(run_py)
    wait_until_ready = staticmethod(wait_until_ready)


@pytest.fixture(scope="session")
def control(running_platform) -> Control:
    return Control()


@pytest.fixture(scope="session")
def token() -> Callable[..., str]:
    return platform_client.token


@pytest.fixture(scope="session")
def caller() -> Callable[..., platform_client.Caller]:
    """caller(roles=[...], sub=None, scopes=()) -> a Caller through the gateway with a new dev token."""

    def make(roles=(), sub: str | None = None, scopes=(), base: str = GATEWAY) -> platform_client.Caller:
        return platform_client.Caller(
            platform_client.token(sub or str(uuid.uuid4()), roles=roles, scopes=scopes), base=base
        )

    return make


class EventLog:
    """Every record on the platform's topics from the moment it was created, read in the background
    by a consumer without a group (assigned every partition, starting at the end)."""

    def __init__(self) -> None:
        self.consumer = KafkaConsumer(
            bootstrap_servers=KAFKA,
            enable_auto_commit=False,
            request_timeout_ms=40_000,
            consumer_timeout_ms=1_000,
        )
        partitions = [
            TopicPartition(topic, partition)
            for topic in TOPICS
            for partition in sorted(self.consumer.partitions_for_topic(topic) or ())
        ]
        self.consumer.assign(partitions)
        self.consumer.seek_to_end()
        for partition in partitions:  # resolve the end offsets now, not at the first poll
            self.consumer.position(partition)
        self.records: list[tuple[str, dict]] = []
        self.headers: dict[str, dict[str, bytes]] = {}  # event id -> its record's Kafka headers
        self.lock = threading.Lock()
        self.stopping = threading.Event()
        self.thread = threading.Thread(target=self._read, name="e2e-events", daemon=True)
        self.thread.start()

    def _read(self) -> None:
        while not self.stopping.is_set():
            try:
                batches = self.consumer.poll(timeout_ms=500)
            except KafkaError:  # the broker paused by a fault test: keep reading once it is back
                time.sleep(0.5)
                continue
            for batch in batches.values():
                with self.lock:
                    for record in batch:
                        event = json.loads(record.value)
                        self.records.append((record.topic, event))
                        if isinstance(event, dict) and isinstance(event.get("id"), str):
                            self.headers[event["id"]] = dict(record.headers or [])

    def close(self) -> None:
        self.stopping.set()
        self.thread.join(timeout=10)
        self.consumer.close()

    def header(self, event: dict, name: str) -> str | None:
        """A Kafka header of the record ``event`` came in (the last one read with its id)."""
        with self.lock:
            value = self.headers.get(event["id"], {}).get(name)
        return None if value is None else value.decode()

    def matching(self, topic: str, type_: str, **where) -> list[dict]:
        """Events of ``type_`` on ``topic`` whose fields (envelope, else data) equal ``where``."""
        with self.lock:
            records = list(self.records)
        return [
            event
            for record_topic, event in records
            if record_topic == topic
            and event.get("type") == type_
            and all(
                event.get(name, event.get("data", {}).get(name)) == value for name, value in where.items()
            )
        ]

    def wait(self, topic: str, type_: str, count: int = 1, timeout: float = 60, **where) -> list[dict]:
        """At least ``count`` matching events, waiting up to ``timeout`` seconds for them."""
        deadline = time.monotonic() + timeout
        while True:
            found = self.matching(topic, type_, **where)
            if len(found) >= count:
                return found
            if time.monotonic() > deadline:
                raise AssertionError(f"{len(found)} of {count} {type_} events on {topic} where {where}")
            time.sleep(0.2)


@pytest.fixture(scope="session")
def events(running_platform) -> Iterator[EventLog]:
    log = EventLog()
    yield log
    log.close()


class SeenKeys:
    """Plaintext keys the suite saw in responses, to look for in the platform's logs at the end."""

    def __init__(self) -> None:
        self.keys: set[str] = set()

    def add(self, *texts: str) -> None:
        for text in texts:
            self.keys.update(KEY_PATTERN.findall(text))


@pytest.fixture(scope="session")
def seen_keys() -> SeenKeys:
    return SeenKeys()
