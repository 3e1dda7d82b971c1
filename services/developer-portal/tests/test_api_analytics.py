"""Analytics for studios: developer-portal's /analytics routes answered by the real analytics
service (its app on a local HTTP server, its own ClickHouse database for the run, its studio
projection fed the developer.events the portal wrote), never by reading its database; analytics
away is 503, not a 500."""

from __future__ import annotations

import uuid
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

import pytest
from dp_testkit import assert_error, expect
from sqlalchemy import or_, select

from analytics.app import create_app as create_analytics
from analytics.db.clickhouse import connect
from analytics.db.tables import studio_projection
from analytics.domain.events import event_row
from analytics.ingest import ClickHouseSink
from analytics.migrate import migrate
from analytics.settings import get_settings
from developer_portal.analytics_client import AnalyticsClient
from gamekeys_platform.contracts import activations
from gamekeys_platform.events import Event
from gamekeys_platform.migrations import upgrade_to_head
from gamekeys_platform.testing import serving

ANALYTICS_DIR = Path(__file__).resolve().parents[2] / "analytics"
CLICKHOUSE_URL = "clickhouse://127.0.0.1:9000"
DAY = datetime.now(UTC).replace(hour=12, minute=0, second=0, microsecond=0)


@pytest.fixture(scope="module")
def analytics(platform_env, postgres_url, run_id):
    """analytics on a real server: (its state, its base URL)."""
    database = f"dp_analytics_test_{run_id}"
    migrate(CLICKHOUSE_URL, database)
    upgrade_to_head(ANALYTICS_DIR / "alembic.ini", postgres_url)
    app = create_analytics(
        get_settings(**platform_env, clickhouse_url=CLICKHOUSE_URL, clickhouse_database=database)
    )
    state = app.extensions["analytics"]
    with serving(app) as url:
        yield state, url
    state.db.dispose()
    server = connect(CLICKHOUSE_URL, "default", timeout_seconds=30)
    server.execute(f"DROP DATABASE IF EXISTS {database}")
    server.disconnect()


@pytest.fixture()
def wired(app, settings, analytics):
    """The portal calling that analytics for the test (ANALYTICS_URL set), as it was afterwards."""
    state = app.extensions["developer_portal"]
    client = AnalyticsClient.from_settings(settings.model_copy(update={"analytics_url": analytics[1]}))
    app.extensions["developer_portal"] = replace(state, analytics=client)
    yield analytics[0]
    app.extensions["developer_portal"] = state


def project(db, analytics_state, developer_id: str) -> None:
    """Feed analytics' studio projection the developer.events the portal wrote for the studio."""
    outbox = db.tables.outbox
    with db.transaction() as session:
        studio_events = or_(
            outbox.c.message_key == developer_id,
            outbox.c.payload["data"]["developerId"].astext == developer_id,
        )
        payloads = session.execute(
            select(outbox.c.payload).where(studio_events).order_by(outbox.c.seq)
        ).scalars()
        events = [Event.from_dict(p) for p in payloads]
    handle = studio_projection.handlers()
    for event in events:
        with analytics_state.db.transaction() as session:
            handle(session, event)


def activation(game: dict, status: str, region: str) -> Event:
    contract = {"activated": activations.ActivationSucceeded, "failed": activations.ActivationFailed}[status]
    activation_id = uuid.uuid4()
    return contract(
        activation_id=activation_id,
        transaction_id=activation_id,
        user_id=f"player-{uuid.uuid4().hex[:6]}",
        status=status,
        key_id=uuid.uuid4(),
        game_id=game["gameId"],
        batch_id=uuid.uuid4(),
        developer_id=game["developerId"],
        key_type="retail",
        key_fingerprint=None,
        region=region,
        ip_address="198.51.100.7",
        ip_country=region,
        device_fingerprint="device-1",
        platform="windows",
        reason=None if status == "activated" else "KEY_REVOKED",
        assessment_id=None,
        case_id=None,
        review_reason=None,
        occurred_at=DAY,
        activated_at=DAY if status == "activated" else None,
    ).to_event()


def test_studio_members_read_their_reports_from_analytics(portal, db, wired):
    admin, developer = portal.studio()
    game = portal.game(admin)
    project(db, wired, developer["developerId"])
    events = [
        activation(game, "activated", "DE"),
        activation(game, "activated", "FR"),
        activation(game, "failed", "DE"),
    ]
    ClickHouseSink(wired.clickhouse).insert_events([event_row(e, "activations.events") for e in events])

    marketing = portal.member(admin, "marketing")
    project(db, wired, developer["developerId"])  # the new member too
    day = DAY.date().isoformat()
    report = expect(
        marketing.get(f"/analytics/games/{game['gameId']}", query_string={"from": day, "to": day}), 200
    )
    assert (report["totals"]["attempts"], report["totals"]["activations"], report["totals"]["failed"]) == (
        3,
        2,
        1,
    )
    assert {row["country"] for row in report["countries"]} == {"DE", "FR"}
    summary = expect(admin.get("/analytics/summary"), 200)
    assert summary["totals"]["activations"] == 2
    reports = expect(admin.get("/analytics/reports", query_string={"from": day, "to": day}), 200)
    assert [g["gameId"] for g in reports["games"]] == [game["gameId"]]

    platform_admin = portal.user(roles=("admin",))
    expect(
        platform_admin.get("/analytics/summary", query_string={"developerId": developer["developerId"]}), 200
    )
    stranger, _other = portal.studio()
    assert_error(stranger.get(f"/analytics/games/{game['gameId']}"), 404, "NOT_FOUND")
    # analytics checks the period: its 422 is passed on
    assert_error(
        admin.get("/analytics/summary", query_string={"from": "2026-02-30"}), 422, "VALIDATION_ERROR"
    )


def test_analytics_away_is_503_with_retry_after(portal, app, settings):
    admin, _developer = portal.studio()
    state = app.extensions["developer_portal"]
    nowhere = AnalyticsClient.from_settings(
        settings.model_copy(update={"analytics_url": "http://127.0.0.1:9"})
    )
    app.extensions["developer_portal"] = replace(state, analytics=nowhere)
    try:
        response = admin.get("/analytics/summary")
    finally:
        app.extensions["developer_portal"] = state
    assert_error(response, 503, "SERVICE_UNAVAILABLE")
    assert response.headers.get("Retry-After")
    # not configured at all (ANALYTICS_URL unset): 503 with the reason
    assert_error(admin.get("/analytics/summary"), 503, "SERVICE_UNAVAILABLE")
