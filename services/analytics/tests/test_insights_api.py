"""§5's other analytics routes over HTTP, against hand-computed answers on stored events (each
stored twice: a redelivery not yet merged): the hourly and daily series, regions and key types,
batch and retailer funnels, a key's timeline, fraud statistics, and who may read them."""

from __future__ import annotations

import uuid
from datetime import timedelta

import pytest
from analytics_testkit import (
    activation,
    aggregate,
    assessed,
    at,
    batch_of,
    case_decided,
    case_opened,
    key_activated,
    key_allocated,
    key_returned,
    key_revoked,
    key_sold,
)

from analytics.db.tables import studio_projection
from analytics.domain.events import event_row
from analytics.ingest import ClickHouseSink
from gamekeys_platform.testing import seed_studio_game

API = "/api/v1/analytics"


def store(ctx, events) -> None:
    rows = [event_row(e.to_json(), "test") for e in events]
    ClickHouseSink(ctx.clickhouse).insert_events(rows)
    ClickHouseSink(ctx.clickhouse).insert_events(rows)
    aggregate(ctx.db, ctx.clickhouse)


@pytest.fixture()
def attempts(ctx, studio):
    developer_id, game_id, users = studio
    held = uuid.uuid4()
    store(
        ctx,
        [
            activation(game_id, "activated", at("2026-03-01T10:15:00"), region="DE"),
            activation(game_id, "activated", at("2026-03-01T10:45:00"), region="FR", key_type="press"),
            activation(game_id, "failed", at("2026-03-01T12:00:00"), region="DE", reason="KEY_REVOKED"),
            activation(game_id, "blocked", at("2026-03-01T23:30:00"), region=None, reason="FRAUD_DETECTED"),
            activation(game_id, "pending_review", at("2026-03-02T01:00:00"), region="DE", activation_id=held),
            activation(game_id, "activated", at("2026-03-05T09:00:00"), region="DE", activation_id=held),
        ],
    )
    return developer_id, game_id, users


def test_the_hourly_series_counts_each_attempt_in_its_local_hour(client, auth, attempts):
    _, game_id, users = attempts
    body = client.get(
        f"{API}/games/{game_id}/activations?from=2026-03-01&to=2026-03-01&granularity=hour&tz=Europe/Berlin",
        headers=auth(users["developer"]),
    ).get_json()
    assert (body["granularity"], body["timezone"], len(body["series"])) == ("hour", "Europe/Berlin", 24)
    assert body["series"][0]["t"] == "2026-03-01T00:00:00+01:00"
    by_hour = {p["t"][11:13]: (p["activations"], p["failed"]) for p in body["series"] if p["attempts"]}
    # 10:15 and 10:45 UTC are 11:xx in Berlin; 12:00 UTC is 13:00; 23:30 UTC is the 2nd there.
    assert by_hour == {"11": (2, 0), "13": (0, 1)}
    assert body["total"] == 2 and body["totals"]["attempts"] == 3


def test_the_daily_series_filters_by_key_type_and_takes_the_latest_outcome(client, auth, attempts):
    _, game_id, users = attempts
    url = f"{API}/games/{game_id}/activations?from=2026-03-01&to=2026-03-07"
    body = client.get(url, headers=auth(users["finance"])).get_json()
    assert body["timezone"] == "UTC" and [p["t"] for p in body["series"]][:2] == ["2026-03-01", "2026-03-02"]
    assert [p["activations"] for p in body["series"]] == [2, 1, 0, 0, 0, 0, 0]  # held on the 2nd, approved
    assert body["totals"]["blocked"] == 1 and body["total"] == 3
    press = client.get(f"{url}&keyType=press", headers=auth(users["finance"])).get_json()
    assert press["keyType"] == "press" and press["total"] == 1 and press["totals"]["attempts"] == 1


def test_regions_and_key_types_share_the_activations(client, auth, attempts):
    _, game_id, users = attempts
    period = "from=2026-03-01&to=2026-03-31"
    regions = client.get(
        f"{API}/games/{game_id}/regions?{period}", headers=auth(users["marketing"])
    ).get_json()
    assert [(i["country"], i["activations"], i["attempts"], i["share"]) for i in regions["items"]] == [
        ("DE", 2, 3, "0.6667"),
        ("FR", 1, 1, "0.3333"),
        (None, 0, 1, "0.0000"),
    ]
    assert regions["total"] == 3 and regions["timezone"] == "UTC"
    retail = client.get(
        f"{API}/games/{game_id}/regions?{period}&keyType=retail", headers=auth(users["marketing"])
    ).get_json()
    assert [(i["country"], i["activations"]) for i in retail["items"]] == [("DE", 2), (None, 0)]
    kinds = client.get(
        f"{API}/games/{game_id}/key-types?{period}", headers=auth(users["marketing"])
    ).get_json()
    assert [(i["keyType"], i["activations"], i["share"]) for i in kinds["items"]] == [
        ("retail", 2, "0.6667"),
        ("press", 1, "0.3333"),
    ]


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ("granularity=minute", "granularity"),
        ("granularity=hour&from=2026-01-01&to=2026-03-01", "to"),
        ("from=2026-03-02&to=2026-03-01", "to"),
        ("tz=Nowhere/Land", "tz"),
        ("keyType=" + "x" * 65, "keyType"),
    ],
)
def test_bad_series_parameters_are_422_naming_them(client, auth, attempts, query, field):
    _, game_id, users = attempts
    answer = client.get(f"{API}/games/{game_id}/activations?{query}", headers=auth(users["admin"]))
    assert answer.status_code == 422, answer.get_json()
    error = answer.get_json()["error"]
    assert error["code"] == "VALIDATION_ERROR" and field in error["details"]["fields"]["query"]


def test_series_access_members_and_admins_only(client, auth, attempts):
    _, game_id, _ = attempts
    for path in ("activations", "regions", "key-types"):
        url = f"{API}/games/{game_id}/{path}"
        assert client.get(url, headers=auth(roles=("admin",))).status_code == 200
        assert client.get(url, headers=auth()).status_code == 404
        assert client.get(url, headers=auth(roles=("support",))).status_code == 403
        assert (
            client.get(f"{API}/games/{uuid.uuid4()}/{path}", headers=auth(roles=("admin",))).status_code
            == 404
        )


@pytest.fixture()
def channel(ctx, studio):
    """A batch of 100 keys; a retailer allocated 10 of them sells k1, k2, k3 on 1 March at 10:00;
    k1 is activated 2 h later, k2 4 h later, k3 returned; k4 (never sold) revoked. Another
    studio's key sold by the same retailer is activated too."""
    developer_id, game_id, users = studio
    other_developer, other_game, other_users = seed_studio_game(ctx.db, studio_projection)
    batch, retailer, allocation = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    k1, k2, k3, k4, foreign = (uuid.uuid4() for _ in range(5))
    sold = at("2026-03-01T10:00:00")
    store(
        ctx,
        [
            batch_of(batch, game_id, developer_id, 100, at("2026-03-01T08:00:00")),
            key_allocated(allocation, retailer, game_id, 10, at("2026-03-01T09:00:00")),
            key_allocated(uuid.uuid4(), retailer, other_game, 5, at("2026-03-01T09:00:00")),
            key_sold(retailer, "order-1", [k1, k2, k3], sold),
            key_sold(retailer, "order-2", [foreign], sold),
            key_activated(
                k1,
                batch,
                game_id,
                developer_id,
                at("2026-03-01T12:00:00"),
                retailer_id=retailer,
                allocation_id=allocation,
            ),
            key_activated(
                k2,
                batch,
                game_id,
                developer_id,
                at("2026-03-01T14:00:00"),
                retailer_id=retailer,
                allocation_id=allocation,
            ),
            key_activated(
                foreign,
                uuid.uuid4(),
                other_game,
                other_developer,
                at("2026-03-02T10:00:00"),
                retailer_id=retailer,
            ),
            key_returned(retailer, "order-1", [k3], at("2026-03-02T10:00:00")),
            key_revoked(k4, batch, game_id, developer_id, at("2026-03-03T10:00:00")),
        ],
    )
    return {
        "developer": developer_id, "game": game_id, "users": users, "other_users": other_users,
        "batch": batch, "retailer": retailer, "allocation": allocation, "keys": (k1, k2, k3, k4),
    }  # fmt: skip


def test_a_batch_funnel(client, auth, channel):
    body = client.get(
        f"{API}/batches/{channel['batch']}/performance", headers=auth(channel["users"]["developer"])
    ).get_json()
    assert body["gameId"] == str(channel["game"]) and body["keyType"] == "retail"
    # k3's batch is named by no event (sold and returned only): not known to be of this batch.
    assert body["counts"] == {
        "generated": 100, "allocated": 2, "sold": 2, "activated": 2, "revoked": 1,
        "expired": 0, "returned": 0, "chargedBack": 0,
    }  # fmt: skip
    assert body["activationRate"] == "0.0200" and body["activationRateOf"] == "generated"
    assert body["medianHoursFromSaleToActivation"] == 3.0 and body["salesActivated"] == 2


def test_a_batch_funnel_counts_the_keys_that_sales_and_allocations_name_with_their_batch(
    ctx, client, auth, studio
):
    """Events as key-manager writes them today: an allocation says how many keys each batch gave,
    a sale or return each key's batch. k3, sold and never redeemed, counts as sold."""
    developer_id, game_id, users = studio
    batch, other_batch, retailer = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    first, second = uuid.uuid4(), uuid.uuid4()
    k1, k2, k3, elsewhere = (uuid.uuid4() for _ in range(4))
    day = "2026-03-01T"
    store(
        ctx,
        [
            batch_of(batch, game_id, developer_id, 50, at(day + "08:00:00")),
            batch_of(other_batch, game_id, developer_id, 5, at(day + "08:30:00")),
            key_allocated(first, retailer, game_id, 8, at(day + "09:00:00"), batches=[(batch, 8)]),
            key_allocated(
                second, retailer, game_id, 5, at(day + "09:30:00"), batches=[(batch, 2), (other_batch, 3)]
            ),
            key_sold(
                retailer,
                "order-9",
                [k1, k2, k3, elsewhere],
                at(day + "10:00:00"),
                batch_ids=[batch, batch, batch, other_batch],
            ),
            key_activated(
                k1,
                batch,
                game_id,
                developer_id,
                at(day + "16:00:00"),
                retailer_id=retailer,
                allocation_id=first,
            ),
            key_returned(retailer, "order-9", [k2], at("2026-03-02T10:00:00"), batch_ids=[batch]),
        ],
    )
    body = client.get(f"{API}/batches/{batch}/performance", headers=auth(users["developer"])).get_json()
    assert body["counts"] == {
        "generated": 50, "allocated": 10, "sold": 3, "activated": 1, "revoked": 0,
        "expired": 0, "returned": 1, "chargedBack": 0,
    }  # fmt: skip
    assert body["returnRate"] == "0.3333" and body["medianHoursFromSaleToActivation"] == 6.0
    other = client.get(
        f"{API}/batches/{other_batch}/performance", headers=auth(users["developer"])
    ).get_json()
    assert (other["counts"]["allocated"], other["counts"]["sold"]) == (3, 1)


def test_a_retailer_funnel_for_admins_and_for_each_studio_its_own_keys(client, auth, channel):
    url = f"{API}/retailers/{channel['retailer']}/performance"
    everything = client.get(url, headers=auth(roles=("admin",))).get_json()
    assert everything["gameIds"] is None
    assert everything["counts"] == {
        "generated": None, "allocated": 15, "sold": 4, "activated": 3, "revoked": 0,
        "expired": 0, "returned": 1, "chargedBack": 0,
    }  # fmt: skip
    assert everything["activationRate"] == "0.7500" and everything["returnRate"] == "0.2500"
    assert everything["medianHoursFromSaleToActivation"] == 4.0  # 2, 4 and 24 hours

    mine = client.get(url, headers=auth(channel["users"]["finance"])).get_json()
    assert mine["gameIds"] == [str(channel["game"])]
    # k3 (returned, never activated) has no event naming its game: only k1 and k2 count as sold.
    assert (
        mine["counts"]["allocated"] == 10 and mine["counts"]["activated"] == 2 and mine["counts"]["sold"] == 2
    )
    assert mine["medianHoursFromSaleToActivation"] == 3.0

    theirs = client.get(url, headers=auth(channel["other_users"]["admin"])).get_json()
    assert theirs["counts"]["allocated"] == 5 and theirs["counts"]["activated"] == 1

    assert client.get(url, headers=auth()).status_code == 404  # a stranger
    assert (
        client.get(f"{API}/retailers/{uuid.uuid4()}/performance", headers=auth(roles=("admin",))).status_code
        == 404
    )


def test_batch_access(client, auth, channel):
    url = f"{API}/batches/{channel['batch']}/performance"
    assert client.get(url, headers=auth(roles=("admin",))).status_code == 200
    assert client.get(url, headers=auth(channel["other_users"]["admin"])).status_code == 404
    assert client.get(url, headers=auth()).status_code == 404
    assert (
        client.get(f"{API}/batches/{uuid.uuid4()}/performance", headers=auth(roles=("admin",))).status_code
        == 404
    )


def test_a_keys_timeline_oldest_first_with_its_batch_and_allocation(client, auth, channel, make_token):
    k1 = channel["keys"][0]
    staff = client.get(f"{API}/keys/{k1}/timeline", headers=auth(roles=("support",))).get_json()
    assert [(i["type"], i["via"]) for i in staff["items"]] == [
        ("batch.generated", "batch"),
        ("key.allocated", "allocation"),
        ("key.sold", "key"),
        ("key.activated", "key"),
    ]
    assert staff["gameId"] == str(channel["game"]) and staff["truncated"] is False
    assert staff["items"][2]["orderId"] == "order-1" and staff["items"][3]["userId"] == "player-1"
    assert "keyIds" in staff["items"][2]["data"]

    member = client.get(f"{API}/keys/{k1}/timeline", headers=auth(channel["users"]["marketing"])).get_json()
    assert (
        len(member["items"]) == 4 and "data" not in member["items"][0] and "userId" not in member["items"][3]
    )

    assert client.get(f"{API}/keys/{k1}/timeline", headers=auth()).status_code == 404
    assert (
        client.get(f"{API}/keys/{k1}/timeline", headers=auth(channel["other_users"]["admin"])).status_code
        == 404
    )
    unknown = client.get(f"{API}/keys/{uuid.uuid4()}/timeline", headers=auth(roles=("admin",)))
    assert unknown.status_code == 404 and unknown.get_json()["error"]["code"] == "KEY_NOT_FOUND"

    service = {
        "Authorization": f"Bearer {make_token(sub='key-manager', roles=(), scopes=('analytics:read',))}"
    }
    internal = client.get(f"/internal/v1/analytics/keys/{k1}/timeline", headers=service)
    assert internal.status_code == 200 and len(internal.get_json()["items"]) == 4
    owned = client.get(
        f"/internal/v1/analytics/keys/{k1}/timeline?developerId={channel['developer']}", headers=service
    )
    assert owned.status_code == 200
    other = client.get(
        f"/internal/v1/analytics/keys/{k1}/timeline?developerId={uuid.uuid4()}", headers=service
    )
    assert other.status_code == 404
    people = {"Authorization": f"Bearer {make_token(roles=('admin',))}"}
    assert client.get(f"/internal/v1/analytics/keys/{k1}/timeline", headers=people).status_code == 403


def test_fraud_statistics_by_rule_with_the_false_positive_rate(client, auth, ctx, run_id):
    day = at("2031-01-10T12:00:00")  # a day of this test's own
    review_1, review_2, review_3 = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    case_1, case_2, case_3 = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    store(
        ctx,
        [
            assessed("ALLOW", [], day, shadow=["night-owl"]),
            assessed("ALLOW", [], day),
            assessed("BLOCK", ["vpn", "velocity"], day),
            assessed("REVIEW", ["velocity"], day, assessment_id=review_1),
            assessed("REVIEW", ["velocity"], day, assessment_id=review_2),
            assessed("REVIEW", ["geo-mismatch"], day, assessment_id=review_3, shadow=["night-owl"]),
            case_opened(case_1, review_1, ["velocity: 12 attempts in 1 h"], day),
            case_opened(case_2, review_2, ["velocity: 12 attempts in 1 h"], day),
            case_opened(case_3, review_3, ["country differs"], day),
            case_decided(case_1, review_1, "approve", day),
            case_decided(case_2, review_2, "reject", day),
            case_decided(case_3, review_3, "approve", day),
            activation(uuid.uuid4(), "blocked", day, reason="FRAUD_DETECTED"),
            activation(uuid.uuid4(), "blocked", day, reason="FRAUD_DETECTED"),
            activation(uuid.uuid4(), "failed", day, reason="VPN_DETECTED"),
        ],
    )
    url = f"{API}/fraud/statistics?from=2031-01-10&to=2031-01-10"
    body = client.get(url, headers=auth(roles=("support",))).get_json()
    assert body["assessments"] == {"total": 6, "allowed": 2, "review": 3, "blocked": 1}
    rules = {(r["ruleId"], r["mode"]): r for r in body["rules"]}
    assert rules[("velocity", "active")] == {
        "ruleId": "velocity", "mode": "active", "allowed": 0, "review": 2, "blocked": 1,
        "decided": 2, "approved": 1, "rejected": 1, "falsePositiveRate": "0.5000",
    }  # fmt: skip
    assert rules[("geo-mismatch", "active")]["falsePositiveRate"] == "1.0000"
    assert rules[("night-owl", "shadow")]["allowed"] == 1 and rules[("night-owl", "shadow")]["review"] == 1
    assert body["cases"] == {
        "opened": 3, "decided": 3, "approved": 2, "rejected": 1, "falsePositiveRate": "0.6667",
    }  # fmt: skip
    assert body["topCaseReasons"][0] == {"reason": "velocity: 12 attempts in 1 h", "count": 2}
    assert body["topRefusalReasons"] == [
        {"reason": "FRAUD_DETECTED", "count": 2},
        {"reason": "VPN_DETECTED", "count": 1},
    ]
    assert client.get(url, headers=auth(roles=("admin",))).status_code == 200
    assert client.get(url, headers=auth()).status_code == 403
    assert client.get(f"{API}/fraud/statistics?from=junk", headers=auth(roles=("admin",))).status_code == 422


@pytest.fixture()
def busy_game(ctx, studio):
    """60 days of activations up to 2026-04-30 with a weekly shape, and a spike on the last day."""
    developer_id, game_id, users = studio
    start = at("2026-03-02T12:00:00")
    events = []
    for day in range(60):
        count = (3, 4, 3, 4, 6, 9, 8)[day % 7] + (day * 5) % 3 + (25 if day == 59 else 0)
        events += [activation(game_id, "activated", start + timedelta(days=day)) for _ in range(count)]
    store(ctx, events)
    return developer_id, game_id, users


def test_trends_say_how_unusual_the_last_day_is(client, auth, busy_game):
    _, game_id, users = busy_game
    body = client.get(
        f"{API}/games/{game_id}/trends?to=2026-04-30", headers=auth(users["developer"])
    ).get_json()
    assert body["asOf"] == "2026-04-30" and body["timezone"] == "UTC" and len(body["series"]) == 28
    assert body["latest"]["activations"] == 30 and body["latest"]["flag"] == "spike"
    assert body["dayOverDay"]["previous"] == 5 and body["dayOverDay"]["current"] == 30
    assert [a["t"] for a in body["anomalies"]] == ["2026-04-30"]


def test_the_forecast_names_its_model_and_carries_intervals_and_a_backtest(client, auth, busy_game):
    _, game_id, users = busy_game
    url = f"{API}/games/{game_id}/forecast?to=2026-04-29&horizon=21"
    body = client.get(url, headers=auth(users["finance"])).get_json()
    assert body["method"] == "ETS(A,N,A)" and "weekly seasonality" in body["methodReason"]
    assert (body["historyFrom"], body["historyTo"], body["interval"]) == ("2026-03-02", "2026-04-29", 0.8)
    assert len(body["series"]) == 21 and body["series"][0]["t"] == "2026-04-30"
    assert all(p["lower"] <= p["expected"] <= p["upper"] for p in body["series"])
    assert body["backtest"]["origins"] == 4 and body["backtest"]["mase"] is not None
    for bad, field in (("horizon=91", "horizon"), ("horizon=0", "horizon"), ("tz=Moon/Base", "tz")):
        answer = client.get(f"{API}/games/{game_id}/forecast?{bad}", headers=auth(users["finance"]))
        assert answer.status_code == 422 and field in answer.get_json()["error"]["details"]["fields"]["query"]
    assert client.get(f"{API}/games/{game_id}/forecast", headers=auth()).status_code == 404


SERIES_ROUTES = {
    "": "t,timezone,attempts,activations,failed,blocked,pendingReview,disputed",
    "/activations": "t,timezone,attempts,activations,failed,blocked,pendingReview,disputed",
    "/regions": "country,attempts,activations,failed,blocked,pendingReview,disputed,share,from,to,timezone",
    "/key-types": "keyType,attempts,activations,failed,blocked,pendingReview,disputed,share,from,to,timezone",
    "/trends": "t,timezone,activations,expected,zScore,flag",
    "/forecast": "t,timezone,kind,activations,expected,lower80,upper80",
}


@pytest.mark.parametrize("path", list(SERIES_ROUTES))
def test_every_series_answers_csv_and_png(client, auth, busy_game, path):
    _, game_id, users = busy_game
    query = (
        "to=2026-04-30"
        if path in ("/trends", "/forecast")
        else "from=2026-04-01&to=2026-04-30&tz=Europe/Berlin"
    )
    url = f"{API}/games/{game_id}{path}?{query}"
    as_csv = client.get(url, headers={**auth(users["developer"]), "Accept": "text/csv"})
    assert as_csv.status_code == 200 and as_csv.mimetype == "text/csv"
    lines = as_csv.get_data(as_text=True).split("\r\n")
    assert lines[0] == SERIES_ROUTES[path] and len(lines) > 2
    if path in ("", "/activations"):
        assert (
            lines[1].startswith("2026-04-01,Europe/Berlin,") and len(lines) == 30 + 2
        )  # header, 30 days, ''
    as_png = client.get(url, headers={**auth(users["developer"]), "Accept": "image/png"})
    assert as_png.status_code == 200 and as_png.mimetype == "image/png"
    assert as_png.data[:8] == b"\x89PNG\r\n\x1a\n" and len(as_png.data) > 10_000
    as_json = client.get(url, headers={**auth(users["developer"]), "Accept": "*/*"})
    assert as_json.is_json
    refused = client.get(url, headers={**auth(), "Accept": "image/png"})
    assert refused.status_code == 404 and refused.is_json  # errors stay §3 JSON


def test_the_forecast_chart_shades_its_interval(busy_game, client, auth):
    from io import BytesIO

    import numpy as np
    from PIL import Image

    _, game_id, users = busy_game
    png = client.get(
        f"{API}/games/{game_id}/forecast?to=2026-04-29&horizon=30",
        headers={**auth(users["developer"]), "Accept": "image/png"},
    ).data
    image = Image.open(BytesIO(png)).convert("RGB")
    assert image.size == (1000, 500)
    # The shaded interval is tab:green at alpha 0.2 over white: about (212, 234, 212).
    pixels = np.asarray(image).reshape(-1, 3).astype(int)
    r, g, b = pixels[:, 0], pixels[:, 1], pixels[:, 2]
    shaded = int(((r >= 200) & (r <= 222) & (g >= 228) & (g <= 240) & (b >= 200) & (b <= 222)).sum())
    assert shaded > 2_000
