"""The /analytics routes against the real analytics service: its app on a real HTTP server, a
ClickHouse database of its own for the run (migrated by its runner, dropped at the end), its
studio projection fed the developer.events this portal wrote to its outbox (what analytics'
consumer would get), activation events stored as its ingestion stores them. Who reads (every
team role, platform admins with developerId), strangers 404, the period passed through, and
analytics catching up, failing, stopped or too slow (503, 502, 503, 503)."""

from __future__ import annotations

import socket
import uuid
from datetime import UTC, datetime
from pathlib import Path

import pytest
from dp_testkit import Portal, assert_error, expect
from sqlalchemy import select

from analytics.aggregates import Aggregator
from analytics.app import create_app as create_analytics_app
from analytics.db.clickhouse import connect
from analytics.db.tables import studio_projection
from analytics.domain.events import event_row
from analytics.ingest import ClickHouseSink
from analytics.migrate import migrate
from analytics.settings import get_settings as analytics_settings
from developer_portal.app import create_app
from developer_portal.settings import Settings
from gamekeys_platform.contracts import activations
from gamekeys_platform.events import Event
from gamekeys_platform.migrations import upgrade_to_head
from gamekeys_platform.settings import load_settings
from gamekeys_platform.testing import check_operations_in_process, serving

ANALYTICS_DIR = Path(__file__).resolve().parents[2] / "analytics"
CLICKHOUSE_URL = "clickhouse://127.0.0.1:9000"
INTERNAL = "/internal/v1/analytics/developers"
MARCH = "from=2026-03-01&to=2026-03-31"
ROLES = ("admin", "developer", "marketing", "finance")


@pytest.fixture(scope="module")
def analytics_app(platform_env, postgres_url, run_id):
    database = f"dp_analytics_test_{run_id}"
    migrate(CLICKHOUSE_URL, database)
    upgrade_to_head(ANALYTICS_DIR / "alembic.ini", postgres_url)
    app = create_analytics_app(
        analytics_settings(**platform_env, clickhouse_url=CLICKHOUSE_URL, clickhouse_database=database)
    )
    yield app
    app.extensions["analytics"].db.dispose()
    server = connect(CLICKHOUSE_URL, "default", timeout_seconds=30)
    server.execute(f"DROP DATABASE IF EXISTS {database}")
    server.disconnect()


@pytest.fixture(scope="module")
def analytics_url(analytics_app):
    with serving(analytics_app) as url:
        yield url


def portal_app(portal_env, **overrides):
    return create_app(load_settings(Settings, **{**portal_env, **overrides}))


@pytest.fixture(scope="module")
def wired(portal_env, migrated_url, analytics_url, make_token):
    """A portal whose ANALYTICS_URL is the served analytics."""
    app = portal_app(portal_env, analytics_url=analytics_url)
    yield Portal(app, make_token)
    app.extensions["developer_portal"].db.dispose()


def sync_projection(wired: Portal, analytics_app, developer_id: str) -> None:
    """The studio's developer.events from the portal's outbox through analytics' projection
    handlers, in order, one transaction each (as its consumer applies them)."""
    portal_db = wired.app.extensions["developer_portal"].db
    with portal_db.transaction() as session:
        outbox = portal_db.tables.outbox
        payloads = session.execute(select(outbox.c.payload).order_by(outbox.c.seq)).scalars().all()
    handle = studio_projection.handlers()
    for payload in payloads:
        event = Event.from_dict(payload)
        if event.data.get("developerId") == developer_id:
            with analytics_app.extensions["analytics"].db.transaction() as session:
                handle(session, event)


def activation(game_id: str, status: str, at: str, *, region: str | None = "DE") -> Event:
    """An activations.events event as activation-gateway writes it, at ``at`` (UTC)."""
    moment = datetime.fromisoformat(at).replace(tzinfo=UTC)
    activation_id = uuid.uuid4()
    contract = {
        "activated": activations.ActivationSucceeded,
        "failed": activations.ActivationFailed,
        "blocked": activations.ActivationBlocked,
    }[status]
    data = contract(
        activation_id=activation_id,
        transaction_id=activation_id,
        user_id=f"player-{uuid.uuid4().hex[:6]}",
        status=status,
        key_id=uuid.uuid4(),
        game_id=uuid.UUID(game_id),
        batch_id=uuid.uuid4(),
        developer_id=uuid.uuid4(),
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
        occurred_at=moment,
        activated_at=moment if status == "activated" else None,
    )
    event = data.to_event()
    return Event(type=event.type, source=event.source, subject=event.subject, data=event.data, time=moment)


def store(analytics_app, *events: Event) -> None:
    """The events in analytics' ClickHouse, and one pass of its aggregator (as its worker runs)."""
    analytics = analytics_app.extensions["analytics"]
    ClickHouseSink(analytics.clickhouse).insert_events(
        [event_row(event.to_json(), "test") for event in events]
    )
    Aggregator.from_settings(analytics.db, analytics.clickhouse, analytics.settings).run_once()


@pytest.fixture()
def studio(wired, analytics_app):
    """A verified studio (a member per team role) with a game that has March activations, known
    to analytics. Returns (role -> actor, developer, game)."""
    admin, developer = wired.studio()
    people = {"admin": admin, **{role: wired.member(admin, role) for role in ROLES[1:]}}
    game = wired.game(admin)
    sync_projection(wired, analytics_app, developer["developerId"])
    gid = game["gameId"]
    store(
        analytics_app,
        activation(gid, "activated", "2026-03-01T10:00:00", region="DE"),
        activation(gid, "activated", "2026-03-01T23:30:00", region="FR"),  # 2 March in Berlin
        activation(gid, "failed", "2026-03-02T08:00:00", region="DE"),
        activation(gid, "blocked", "2026-03-31T23:30:00", region=None),  # 1 April in Berlin
    )
    return people, developer, game


def internal(analytics_app, make_token, path: str) -> dict:
    """analytics' own answer to the portal's call, for comparison."""
    token = make_token(sub="developer-portal", roles=(), scopes=("analytics:read",))
    answer = analytics_app.test_client().get(path, headers={"Authorization": f"Bearer {token}"})
    return expect(answer, 200)


def test_every_team_role_reads_the_figures_analytics_computes(studio, analytics_app, make_token):
    people, developer, game = studio
    did, gid = developer["developerId"], game["gameId"]
    summary = internal(analytics_app, make_token, f"{INTERNAL}/{did}/summary?{MARCH}")
    report = internal(analytics_app, make_token, f"{INTERNAL}/{did}/games/{gid}?{MARCH}")
    assert report["totals"] == {
        "attempts": 4,
        "activations": 2,
        "failed": 1,
        "blocked": 1,
        "pendingReview": 0,
        "disputed": 0,
    }
    for role in ROLES:
        assert expect(people[role].get(f"/analytics/summary?{MARCH}"), 200) == summary, role
        assert expect(people[role].get(f"/analytics/games/{gid}?{MARCH}"), 200) == report, role
        reports = expect(people[role].get(f"/analytics/reports?{MARCH}"), 200)
        assert reports == {
            "developerId": did,
            "from": "2026-03-01",
            "to": "2026-03-31",
            "timezone": "UTC",
            "games": 1,
            "keysGenerated": 0,
            "totals": summary["totals"],
            "items": [{**report, "title": game["title"], "status": "draft"}],
            "nextCursor": None,
        }, role
    assert summary["topGames"][0]["gameId"] == gid and summary["totals"]["activations"] == 2


def test_the_period_is_passed_through(studio):
    people, _developer, game = studio
    finance, gid = people["finance"], game["gameId"]
    in_utc = expect(finance.get(f"/analytics/games/{gid}?{MARCH}"), 200)
    in_berlin = expect(finance.get(f"/analytics/games/{gid}?{MARCH}&tz=Europe/Berlin"), 200)
    assert (in_utc["timezone"], in_berlin["timezone"]) == ("UTC", "Europe/Berlin")
    by_day = {point["t"]: point["activations"] for point in in_berlin["series"] if point["activations"]}
    assert by_day == {"2026-03-01": 1, "2026-03-02": 1}
    assert (in_utc["totals"]["blocked"], in_berlin["totals"]["blocked"]) == (1, 0)  # 1 April there

    week = expect(finance.get("/analytics/summary?from=2026-03-02&to=2026-03-08"), 200)
    assert (week["from"], week["to"], week["totals"]["attempts"]) == ("2026-03-02", "2026-03-08", 1)
    default = expect(finance.get("/analytics/summary"), 200)
    assert default["to"] == datetime.now(UTC).date().isoformat() and default["timezone"] == "UTC"

    # analytics refuses the period: its 422 is ours, naming the parameter.
    for query, field in (
        ("from=2026-03-10&to=2026-03-01", "to"),
        ("from=2025-01-01&to=2026-03-01", "to"),
        ("tz=Mars/Olympus", "tz"),
    ):
        for path in (f"/analytics/games/{gid}", "/analytics/summary", "/analytics/reports"):
            error = assert_error(finance.get(f"{path}?{query}"), 422, "VALIDATION_ERROR")
            assert field in error["details"]["fields"]["query"], (path, query, error)
    # ... and one the portal's own schema refuses never leaves it.
    error = assert_error(finance.get("/analytics/summary?from=yesterday"), 422, "VALIDATION_ERROR")
    assert "from" in error["details"]["fields"]["query"]


def test_strangers_get_404_and_platform_admins_read_with_developer_id(wired, analytics_app, studio):
    people, developer, game = studio
    did, gid = developer["developerId"], game["gameId"]
    other_admin, other = wired.studio()
    for stranger in (other_admin, wired.user(), wired.user(roles=("support",))):
        assert_error(stranger.get(f"/analytics/games/{gid}"), 404, "NOT_FOUND")
        assert_error(stranger.get(f"/analytics/summary?developerId={did}"), 404, "NOT_FOUND")
        assert_error(stranger.get(f"/analytics/reports?developerId={did}"), 404, "NOT_FOUND")
    # Without developerId a member reads their own studio, never this one.
    sync_projection(wired, analytics_app, other["developerId"])
    own = expect(other_admin.get(f"/analytics/summary?{MARCH}"), 200)
    assert (own["developerId"], own["games"], own["totals"]["attempts"]) == (other["developerId"], 0, 0)
    assert_error(wired.user().get("/analytics/summary"), 404, "NOT_FOUND")

    platform_admin = wired.user(roles=("admin",))
    summary = expect(platform_admin.get(f"/analytics/summary?developerId={did}&{MARCH}"), 200)
    assert summary == expect(people["developer"].get(f"/analytics/summary?{MARCH}"), 200)
    reports = expect(platform_admin.get(f"/analytics/reports?developerId={did}&{MARCH}"), 200)
    assert [item["gameId"] for item in reports["items"]] == [gid]
    assert expect(platform_admin.get(f"/analytics/games/{gid}?{MARCH}"), 200)["totals"]["attempts"] == 4
    assert_error(platform_admin.get("/analytics/summary"), 404, "NOT_FOUND")  # no studio of their own
    assert_error(platform_admin.get(f"/analytics/summary?developerId={uuid.uuid4()}"), 404, "NOT_FOUND")


def test_reports_page_through_the_studios_games(wired, analytics_app, studio):
    people, developer, first = studio
    admin = people["admin"]
    newer = [wired.game(admin), wired.game(admin)]
    sync_projection(wired, analytics_app, developer["developerId"])
    store(analytics_app, activation(newer[1]["gameId"], "activated", "2026-03-05T12:00:00"))

    page = expect(people["marketing"].get(f"/analytics/reports?{MARCH}&limit=2"), 200)
    assert [item["gameId"] for item in page["items"]] == [newer[1]["gameId"], newer[0]["gameId"]]
    assert [item["totals"]["activations"] for item in page["items"]] == [1, 0]
    assert [item["title"] for item in page["items"]] == [newer[1]["title"], newer[0]["title"]]
    assert (page["games"], page["totals"]["activations"]) == (3, 3)
    assert page["nextCursor"]
    rest = expect(
        people["marketing"].get(f"/analytics/reports?{MARCH}&limit=2&cursor={page['nextCursor']}"), 200
    )
    assert [item["gameId"] for item in rest["items"]] == [first["gameId"]]
    assert rest["nextCursor"] is None and rest["totals"] == page["totals"]


def test_what_analytics_does_not_know_yet_is_503_with_retry_after(wired, analytics_app, studio):
    people, _developer, _game = studio
    unknown_game = wired.game(people["admin"])  # created after analytics last heard of the studio
    answer = people["developer"].get(f"/analytics/games/{unknown_game['gameId']}")
    error = assert_error(answer, 503, "SERVICE_UNAVAILABLE", reason="ANALYTICS_CATCHING_UP")
    assert answer.headers["Retry-After"] == "5" and error["details"]["service"] == "analytics"
    assert_error(people["developer"].get("/analytics/reports"), 503, "SERVICE_UNAVAILABLE")

    admin, fresh = wired.studio()  # a studio registered a moment ago
    assert_error(admin.get("/analytics/summary"), 503, "SERVICE_UNAVAILABLE", reason="ANALYTICS_CATCHING_UP")
    sync_projection(wired, analytics_app, fresh["developerId"])
    assert expect(admin.get("/analytics/summary"), 200)["games"] == 0


def test_analytics_failing_is_502(portal_env, analytics_app, analytics_url, make_token, studio, monkeypatch):
    people, _developer, game = studio

    def broken(*_args, **_kwargs):
        raise RuntimeError("a bug in analytics")

    monkeypatch.setattr(analytics_app.extensions["analytics"].clickhouse, "execute", broken)
    portal = Portal(portal_app(portal_env, analytics_url=analytics_url), make_token)
    member = people["finance"]

    def get(path: str):
        headers = {"Authorization": f"Bearer {member.token}"}
        return portal.app.test_client().get(f"/api/v1/developer{path}", headers=headers)

    for path in (f"/analytics/games/{game['gameId']}", "/analytics/summary"):
        error = assert_error(get(path), 502, "EXTERNAL_SERVICE_ERROR")
        assert error["details"] == {"service": "analytics", "status": 500}
    # Each call was tried twice: the fifth failure in a row opens the circuit breaker, and the
    # portal stops calling a failing analytics for a while (503 with Retry-After meanwhile).
    answer = get("/analytics/reports")
    assert_error(answer, 503, "SERVICE_UNAVAILABLE")
    assert int(answer.headers["Retry-After"]) > 1
    portal.app.extensions["developer_portal"].db.dispose()


def test_analytics_stopped_is_503_with_retry_after(portal_env, analytics_app, make_token, studio):
    people, _developer, game = studio
    member = people["marketing"]
    headers = {"Authorization": f"Bearer {member.token}"}
    with serving(analytics_app) as url:
        client = portal_app(portal_env, analytics_url=url, analytics_timeout_seconds=2).test_client()
        assert client.get("/api/v1/developer/analytics/summary", headers=headers).status_code == 200
    for path in (f"/analytics/games/{game['gameId']}", "/analytics/summary", "/analytics/reports"):
        answer = client.get(f"/api/v1/developer{path}", headers=headers)
        error = assert_error(answer, 503, "SERVICE_UNAVAILABLE")
        assert error["details"] == {"service": "analytics"} and int(answer.headers["Retry-After"]) >= 1
    client.application.extensions["developer_portal"].db.dispose()


def test_analytics_too_slow_is_503(portal_env, studio):
    people, _developer, _game = studio
    silent = socket.socket()  # accepts connections (the kernel's backlog) and never answers
    silent.bind(("127.0.0.1", 0))
    silent.listen(8)
    try:
        app = portal_app(
            portal_env,
            analytics_url=f"http://127.0.0.1:{silent.getsockname()[1]}",
            analytics_timeout_seconds=0.3,
        )
        headers = {"Authorization": f"Bearer {people['admin'].token}"}
        answer = app.test_client().get("/api/v1/developer/analytics/summary", headers=headers)
        assert_error(answer, 503, "SERVICE_UNAVAILABLE")
        assert answer.headers["Retry-After"]
        app.extensions["developer_portal"].db.dispose()
    finally:
        silent.close()


def test_the_analytics_routes_answer_within_the_spec(wired, studio):
    people, _developer, _game = studio
    spec = wired.app.test_client().get("/openapi.json").get_json()
    others = {
        (method.upper(), path)
        for path, operations in spec["paths"].items()
        for method in operations
        if method != "parameters" and not path.startswith("/api/v1/developer/analytics/")
    }
    assert len(spec["paths"]) - len({path for _, path in others}) == 3
    for role in ("admin", "finance"):
        token = people[role].token
        failures = check_operations_in_process(
            wired.app, lambda _path, token=token: {"Authorization": f"Bearer {token}"}, exclude=others
        )
        assert not failures, "\n\n".join(f"{label}:\n{text}" for label, text in failures.items())
