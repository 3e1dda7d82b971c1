"""analytics on a fresh PostgreSQL database (the studio projection, migrated with Alembic), a
ClickHouse database of its own for the run (migrated by the service's runner, dropped at the
end), and Kafka topics of its own for every topic the service reads."""

from __future__ import annotations

import sys
import uuid
from pathlib import Path

import pytest
from kafka.admin import KafkaAdminClient, NewTopic

from analytics.app import create_app
from analytics.db.clickhouse import connect
from analytics.db.tables import studio_projection
from analytics.migrate import migrate
from analytics.settings import get_settings
from gamekeys_platform.migrations import upgrade_to_head
from gamekeys_platform.testing import seed_studio_game

SERVICE_DIR = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(Path(__file__).parent))  # analytics_testkit

CLICKHOUSE_URL = "clickhouse://127.0.0.1:9000"
TOPIC_SETTINGS = (
    "developer_events_topic",
    "builds_events_topic",
    "keys_events_topic",
    "activations_events_topic",
    "antifraud_events_topic",
    "distribution_events_topic",
    "payments_events_topic",
)


@pytest.fixture(scope="session")
def clickhouse_database(run_id):
    name = f"analytics_test_{run_id}"
    migrate(CLICKHOUSE_URL, name)
    yield name
    server = connect(CLICKHOUSE_URL, "default", timeout_seconds=30)
    server.execute(f"DROP DATABASE IF EXISTS {name}")
    server.disconnect()


@pytest.fixture(scope="session")
def topics(kafka_servers, run_id) -> dict[str, str]:
    """Setting name -> a topic of this run's (3 partitions, with its .dlq)."""
    names = {setting: f"test.an.{run_id}.{setting.removesuffix('_topic')}" for setting in TOPIC_SETTINGS}
    admin = KafkaAdminClient(bootstrap_servers=kafka_servers, request_timeout_ms=10_000)
    admin.create_topics(
        [NewTopic(topic, 3, 1) for topic in names.values()]
        + [NewTopic(f"{t}.dlq", 1, 1) for t in names.values()]
    )
    admin.close()
    return names


@pytest.fixture(scope="session")
def settings(platform_env, postgres_url, clickhouse_database, topics):
    upgrade_to_head(SERVICE_DIR / "alembic.ini", postgres_url)
    return get_settings(
        **platform_env,
        clickhouse_url=CLICKHOUSE_URL,
        clickhouse_database=clickhouse_database,
        ingest_batch_seconds=0.3,
        ingest_retry_backoff_seconds=0.2,
        **topics,
    )


@pytest.fixture(scope="session")
def app(settings):
    application = create_app(settings)
    yield application
    application.extensions["analytics"].db.dispose()


@pytest.fixture(scope="session")
def ctx(app):
    return app.extensions["analytics"]


@pytest.fixture()
def client(app):
    return app.test_client()


@pytest.fixture()
def studio(ctx):
    """(developer id, game id, team role -> user id) of a new studio with one game."""
    return seed_studio_game(ctx.db, studio_projection, members=("developer", "finance", "marketing"))


@pytest.fixture()
def auth(make_token):
    def headers(sub=None, roles=("developer",), scopes=()) -> dict[str, str]:
        return {
            "Authorization": f"Bearer {make_token(sub=sub or str(uuid.uuid4()), roles=roles, scopes=scopes)}"
        }

    return headers


@pytest.fixture()
def own_topics(kafka_servers) -> dict[str, str]:
    """Setting name -> a topic of this test's own (3 partitions, with its .dlq): a consumer group
    reading them from the start sees only what the test published."""
    run = uuid.uuid4().hex[:8]
    names = {setting: f"test.an.{run}.{setting.removesuffix('_topic')}" for setting in TOPIC_SETTINGS}
    admin = KafkaAdminClient(bootstrap_servers=kafka_servers, request_timeout_ms=10_000)
    admin.create_topics(
        [NewTopic(topic, 3, 1) for topic in names.values()]
        + [NewTopic(f"{t}.dlq", 1, 1) for t in names.values()]
    )
    admin.close()
    return names
