"""The reports over HTTP: figures from events stored (duplicates included), who may read them,
bad periods, the internal routes developer-portal calls."""

from __future__ import annotations

import uuid

import pytest
from analytics_testkit import activation, aggregate, at, batch_generated

from analytics.db.tables import studio_projection
from analytics.domain.events import event_row
from analytics.ingest import ClickHouseSink
from gamekeys_platform.testing import seed_studio_game

API = "/api/v1/analytics"
INTERNAL = "/internal/v1/analytics/developers"
MARCH = "from=2026-03-01&to=2026-03-31"


def store(ctx, events) -> None:
    ClickHouseSink(ctx.clickhouse).insert_events([event_row(e.to_json(), "test") for e in events])
    aggregate(ctx.db, ctx.clickhouse)


@pytest.fixture()
def reported(ctx, studio):
    """The studio's game with activation events, each stored twice (a redelivery not yet merged)."""
    developer_id, game_id, users = studio
    held = uuid.uuid4()
    events = [
        activation(game_id, "activated", at("2026-03-01T10:00:00"), region="DE"),
        activation(game_id, "activated", at("2026-03-01T23:30:00"), region="FR"),  # 2 March in Berlin
        activation(game_id, "failed", at("2026-03-02T08:00:00"), region="DE", reason="KEY_REVOKED"),
        activation(game_id, "blocked", at("2026-03-02T09:00:00"), region=None, reason="FRAUD_DETECTED"),
        activation(game_id, "pending_review", at("2026-03-31T22:30:00"), activation_id=held),
        activation(game_id, "activated", at("2026-04-01T09:00:00"), activation_id=held),  # approved later
        activation(game_id, "activated", at("2026-02-28T23:59:59"), region="DE"),  # before the period (UTC)
        batch_generated(game_id, developer_id, 250, at("2026-03-01T08:00:00")),
    ]
    store(ctx, events)
    store(ctx, events)
    return developer_id, game_id, users


def test_a_members_report_counts_each_attempt_once_with_its_latest_outcome(client, auth, reported):
    _, game_id, users = reported
    answer = client.get(f"{API}/games/{game_id}?{MARCH}", headers=auth(users["finance"]))
    assert answer.status_code == 200
    body = answer.get_json()
    assert body["totals"] == {
        "attempts": 5,
        "activations": 3,
        "failed": 1,
        "blocked": 1,
        "pendingReview": 0,
        "disputed": 0,
    }
    assert (body["from"], body["to"], body["timezone"], body["granularity"]) == (
        "2026-03-01",
        "2026-03-31",
        "UTC",
        "day",
    )
    assert len(body["series"]) == 31
    assert body["series"][0] == {
        "t": "2026-03-01",
        "attempts": 2,
        "activations": 2,
        "failed": 0,
        "blocked": 0,
        "pendingReview": 0,
        "disputed": 0,
    }
    assert body["series"][30]["activations"] == 1  # held on the 31st, approved on 1 April
    countries = {c["country"]: (c["activations"], c["share"]) for c in body["countries"]}
    assert countries == {"DE": (2, "0.6667"), "FR": (1, "0.3333"), None: (0, "0.0000")}


def test_the_time_zone_draws_the_day_boundaries(client, auth, reported):
    _, game_id, users = reported
    body = client.get(
        f"{API}/games/{game_id}?{MARCH}&tz=Europe/Berlin", headers=auth(users["admin"])
    ).get_json()
    assert body["timezone"] == "Europe/Berlin"
    # 28 Feb 23:59:59 UTC is 1 March in Berlin; 1 March 23:30 UTC is the 2nd.
    assert [p["activations"] for p in body["series"][:2]] == [2, 1]
    # 31 March 22:30 UTC is 00:30 on 1 April in Berlin (summer time): outside the period.
    assert body["totals"]["activations"] == 3


def test_access_members_and_admins_read_strangers_learn_nothing(client, auth, reported, make_token):
    _, game_id, users = reported
    url = f"{API}/games/{game_id}?{MARCH}"
    for role in ("admin", "developer", "finance", "marketing"):
        assert client.get(url, headers=auth(users[role])).status_code == 200, role
    assert client.get(url, headers=auth(roles=("admin",))).status_code == 200
    stranger = client.get(url, headers=auth())
    assert stranger.status_code == 404 and stranger.get_json()["error"]["code"] == "NOT_FOUND"
    assert client.get(f"{API}/games/{uuid.uuid4()}", headers=auth(roles=("admin",))).status_code == 404
    assert client.get(url, headers=auth(roles=("support",))).status_code == 403
    assert client.get(url, headers=auth(roles=("user",))).status_code == 403
    assert client.get(url).status_code == 401
    service = {
        "Authorization": f"Bearer {make_token(sub='developer-portal', roles=(), scopes=('analytics:read',))}"
    }
    assert client.get(url, headers=service).status_code == 403  # the public route is for people


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ("from=2026-03-02&to=2026-03-01", "to"),
        ("from=2024-01-01&to=2026-03-01", "to"),
        ("tz=Not/AZone", "tz"),
        ("from=1999-12-31", "from"),
        ("from=yesterday", "from"),
    ],
)
def test_bad_periods_are_422_naming_the_parameter(client, auth, reported, query, field):
    _, game_id, users = reported
    answer = client.get(f"{API}/games/{game_id}?{query}", headers=auth(users["admin"]))
    assert answer.status_code == 422
    error = answer.get_json()["error"]
    assert error["code"] == "VALIDATION_ERROR" and field in error["details"]["fields"]["query"]


def test_the_summary_covers_the_callers_games(client, auth, ctx, reported):
    developer_id, game_id, users = reported
    other_developer, other_game, _ = seed_studio_game(ctx.db, studio_projection)
    store(ctx, [activation(other_game, "activated", at("2026-03-05T12:00:00"))])

    mine = client.get(f"{API}/summary?{MARCH}", headers=auth(users["marketing"])).get_json()
    assert mine["developerId"] == str(developer_id)  # one studio
    assert mine["games"] == 1 and mine["keysGenerated"] == 250
    assert mine["totals"]["activations"] == 3 and mine["totals"]["attempts"] == 5
    assert [(g["gameId"], g["title"], g["activations"]) for g in mine["topGames"]] == [
        (str(game_id), "Game", 3)
    ]

    assert (
        client.get(f"{API}/summary?developerId={other_developer}", headers=auth(users["admin"])).status_code
        == 404
    )
    assert (
        client.get(f"{API}/summary?developerId={uuid.uuid4()}", headers=auth(roles=("admin",))).status_code
        == 404
    )
    theirs = client.get(
        f"{API}/summary?{MARCH}&developerId={other_developer}", headers=auth(roles=("admin",))
    )
    assert theirs.status_code == 200 and theirs.get_json()["totals"]["activations"] == 1

    everything = client.get(f"{API}/summary?{MARCH}", headers=auth(roles=("admin",))).get_json()
    assert everything["developerId"] is None and everything["totals"]["activations"] >= 4

    nobody = client.get(f"{API}/summary?{MARCH}", headers=auth()).get_json()
    assert nobody["games"] == 0 and nobody["totals"]["attempts"] == 0 and nobody["topGames"] == []
    assert client.get(f"{API}/summary", headers=auth(roles=("support",))).status_code == 403


def test_the_internal_routes_answer_developer_portal_for_the_studio_it_names(
    client, make_token, reported, ctx
):
    developer_id, game_id, _ = reported
    service = {
        "Authorization": f"Bearer {make_token(sub='developer-portal', roles=(), scopes=('analytics:read',))}"
    }
    report = client.get(f"{INTERNAL}/{developer_id}/games/{game_id}?{MARCH}", headers=service)
    assert report.status_code == 200 and report.get_json()["totals"]["activations"] == 3
    summary = client.get(f"{INTERNAL}/{developer_id}/summary?{MARCH}", headers=service)
    assert summary.status_code == 200 and summary.get_json()["keysGenerated"] == 250

    other_developer, _, _ = seed_studio_game(ctx.db, studio_projection)
    assert client.get(f"{INTERNAL}/{other_developer}/games/{game_id}", headers=service).status_code == 404
    assert client.get(f"{INTERNAL}/{uuid.uuid4()}/summary", headers=service).status_code == 404
    wrong_scope = {"Authorization": f"Bearer {make_token(sub='x', roles=(), scopes=('keys:read',))}"}
    assert client.get(f"{INTERNAL}/{developer_id}/summary", headers=wrong_scope).status_code == 403
    people = {"Authorization": f"Bearer {make_token(roles=('admin',))}"}
    assert client.get(f"{INTERNAL}/{developer_id}/summary", headers=people).status_code == 403


def test_clickhouse_unavailable_is_503_with_retry_after(app, client, auth, reported, monkeypatch):
    from analytics.db.clickhouse import ClickHouseUnavailable

    _, game_id, users = reported

    def unavailable(*_args, **_kwargs):
        raise ClickHouseUnavailable("connection refused")

    monkeypatch.setattr(app.extensions["analytics"].clickhouse, "execute", unavailable)
    answer = client.get(f"{API}/games/{game_id}", headers=auth(users["admin"]))
    assert answer.status_code == 503
    assert (
        answer.get_json()["error"]["code"] == "SERVICE_UNAVAILABLE" and answer.headers["Retry-After"] == "5"
    )
