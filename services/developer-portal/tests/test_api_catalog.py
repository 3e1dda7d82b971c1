"""The Catalog Service's calls over a real HTTP server with service tokens: a game's listing
(prices per region with today's discount, the published build, media), the paged sync by
``updatedSince``, the same listing carried by game.published / pricing.updated /
game.metadata_updated / game.unpublished, scopes and bad input."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest
import requests
from dp_testkit import expect, outbox_data, published_game

from developer_portal.usecases.catalog import announce_price_changes
from gamekeys_platform.testing import serving

SCOPE = "catalog:read"


@pytest.fixture(scope="module")
def base_url(app):
    with serving(app) as url:
        yield url


@pytest.fixture(scope="module")
def catalog(make_token):
    return {"Authorization": f"Bearer {make_token(sub='catalog-service', roles=(), scopes=(SCOPE,))}"}


def _error(response, status: int, code: str) -> dict:
    assert response.status_code == status, (response.status_code, response.text)
    error = response.json()["error"]
    assert error["code"] == code and error["requestId"] == response.headers["X-Request-Id"]
    return error


def test_a_published_game_s_listing_with_regional_prices_and_today_s_discount(portal, db, base_url, catalog):
    admin, game, version_id = published_game(portal, db)
    gid = game["gameId"]
    now = datetime.now(UTC)
    discount = {
        "percent": 25,
        "startsAt": (now - timedelta(hours=1)).isoformat(),
        "endsAt": (now + timedelta(days=2)).isoformat(),
    }
    prices = {
        "basePrice": {"amount": "19.99", "currency": "USD"},
        "regionalPrices": {
            "DE": {"amount": "17.99", "currency": "EUR"},
            "JP": {"amount": "2200", "currency": "JPY"},
        },
        "discounts": [discount],
    }
    expect(admin.put(f"/games/{gid}/pricing", json=prices), 200)

    response = requests.get(f"{base_url}/internal/v1/games/{gid}", headers=catalog, timeout=10)
    assert response.status_code == 200, response.text
    listing = response.json()
    assert listing["gameId"] == gid and listing["title"] == game["title"] and listing["status"] == "published"
    assert listing["developerId"] == game["developerId"] and listing["publishedAt"]
    assert listing["metadata"]["shortDescription"] == "Short." and listing["metadata"]["genres"] == ["indie"]
    assert listing["media"] == {"screenshots": [], "videos": []}
    assert listing["builds"] == [{"platform": "windows", "versionId": version_id, "version": "1.0.0"}]
    pricing = listing["pricing"]
    assert pricing["free"] is False
    assert pricing["basePrice"] == {"amount": "19.99", "currency": "USD"}
    assert pricing["currentPrice"] == {"amount": "14.99", "currency": "USD"}  # 25 % off, half up
    assert pricing["regionalPrices"] == [
        {
            "country": "DE",
            "price": {"amount": "17.99", "currency": "EUR"},
            "currentPrice": {"amount": "13.49", "currency": "EUR"},
        },
        {
            "country": "JP",
            "price": {"amount": "2200", "currency": "JPY"},
            "currentPrice": {"amount": "1650", "currency": "JPY"},
        },
    ]
    assert pricing["discount"]["percent"] == 25 and len(pricing["discounts"]) == 1

    # pricing.updated carries the same listing (the Catalog can follow events alone).
    event = outbox_data(db, "pricing.updated", gid)[-1]
    carried = event["listing"]
    assert {k: v for k, v in carried.items() if k != "pricing"} == {
        k: v for k, v in listing.items() if k != "pricing"
    }
    assert carried["pricing"]["regionalPrices"] == pricing["regionalPrices"]
    published = outbox_data(db, "game.published", gid)[-1]
    assert (
        published["listing"]["status"] == "published" and published["listing"]["builds"] == listing["builds"]
    )


def test_unpublished_games_are_listed_as_removed_and_drafts_are_not_listed(portal, db, base_url, catalog):
    admin, game, _version_id = published_game(portal, db)
    gid = game["gameId"]
    expect(admin.post(f"/games/{gid}/unpublish"), 200)
    listing = requests.get(f"{base_url}/internal/v1/games/{gid}", headers=catalog, timeout=10).json()
    assert listing["status"] == "removed"
    assert outbox_data(db, "game.unpublished", gid)[-1]["listing"]["status"] == "removed"

    draft = portal.game(admin)
    for unknown in (draft["gameId"], str(uuid.uuid4())):
        _error(
            requests.get(f"{base_url}/internal/v1/games/{unknown}", headers=catalog, timeout=10),
            404,
            "NOT_FOUND",
        )
    # a draft's events carry no listing
    expect(
        admin.put(
            f"/games/{draft['gameId']}/pricing", json={"basePrice": {"amount": "5.00", "currency": "USD"}}
        ),
        200,
    )
    assert outbox_data(db, "pricing.updated", draft["gameId"])[-1]["listing"] is None


def test_sync_pages_listings_changed_since_a_time_oldest_first(portal, db, base_url, catalog):
    since = datetime.now(UTC) - timedelta(seconds=1)
    admin, _developer = portal.studio()
    games = [published_game(portal, db, admin)[1] for _ in range(3)]
    expect(admin.post(f"/games/{games[0]['gameId']}/unpublish"), 200)  # now the latest change

    seen: list[dict] = []
    cursor = None
    while True:
        params = {"updatedSince": since.isoformat(), "limit": 2, **({"cursor": cursor} if cursor else {})}
        response = requests.get(f"{base_url}/internal/v1/games", params=params, headers=catalog, timeout=10)
        assert response.status_code == 200, response.text
        page = response.json()
        assert len(page["items"]) <= 2
        seen.extend(page["items"])
        cursor = page["nextCursor"]
        if cursor is None:
            break
    mine = [item for item in seen if item["developerId"] == games[0]["developerId"]]
    assert [item["gameId"] for item in mine] == [games[1]["gameId"], games[2]["gameId"], games[0]["gameId"]]
    assert [item["updatedAt"] for item in seen] == sorted(item["updatedAt"] for item in seen)

    published_only = requests.get(
        f"{base_url}/internal/v1/games",
        params={"status": "published", "updatedSince": since.isoformat(), "limit": 100},
        headers=catalog,
        timeout=10,
    ).json()["items"]
    assert games[0]["gameId"] not in {item["gameId"] for item in published_only}
    assert {games[1]["gameId"], games[2]["gameId"]} <= {item["gameId"] for item in published_only}
    later = requests.get(
        f"{base_url}/internal/v1/games",
        params={"updatedSince": (datetime.now(UTC) + timedelta(minutes=1)).isoformat()},
        headers=catalog,
        timeout=10,
    ).json()
    assert later == {"items": [], "nextCursor": None}


def test_catalog_calls_need_the_catalog_read_scope(portal, db, base_url, make_token):
    _admin, game, _version_id = published_game(portal, db)
    wrong = {"Authorization": f"Bearer {make_token(sub='payment-service', roles=(), scopes=('keys:issue',))}"}
    user = {"Authorization": f"Bearer {make_token(sub=str(uuid.uuid4()), roles=('admin',))}"}
    for path in (f"/internal/v1/games/{game['gameId']}", "/internal/v1/games"):
        _error(requests.get(base_url + path, timeout=10), 401, "UNAUTHORIZED")
        _error(
            requests.get(base_url + path, headers={"Authorization": "Bearer forged"}, timeout=10),
            401,
            "UNAUTHORIZED",
        )
        _error(requests.get(base_url + path, headers=wrong, timeout=10), 403, "FORBIDDEN")
        _error(requests.get(base_url + path, headers=user, timeout=10), 403, "FORBIDDEN")


def test_bad_sync_queries_are_422(base_url, catalog):
    for params in (
        {"status": "draft"},
        {"updatedSince": "yesterday"},
        {"updatedSince": "2026-01-01T00:00:00"},  # no zone
        {"limit": 0},
        {"cursor": "not-a-cursor"},
    ):
        response = requests.get(f"{base_url}/internal/v1/games", params=params, headers=catalog, timeout=10)
        _error(response, 422, "VALIDATION_ERROR")


def test_a_scheduled_discount_starting_and_ending_is_announced_once_each(portal, db, app):
    admin, game, _version_id = published_game(portal, db)
    gid = game["gameId"]
    starts = datetime.now(UTC) + timedelta(hours=1)
    ends = starts + timedelta(days=1)
    discount = {"percent": 50, "startsAt": starts.isoformat(), "endsAt": ends.isoformat()}
    prices = {"basePrice": {"amount": "20.00", "currency": "USD"}, "discounts": [discount]}
    expect(admin.put(f"/games/{gid}/pricing", json=prices), 200)
    before = len(outbox_data(db, "pricing.updated", gid))
    state = app.extensions["developer_portal"]

    assert announce_price_changes(state, now=starts - timedelta(seconds=1)) >= 0
    assert len(outbox_data(db, "pricing.updated", gid)) == before  # not yet
    announce_price_changes(state, now=starts + timedelta(seconds=1))
    announce_price_changes(state, now=starts + timedelta(seconds=2))  # again (a second worker, a restart)
    started = outbox_data(db, "pricing.updated", gid)[before:]
    assert len(started) == 1
    pricing = started[0]["listing"]["pricing"]
    assert (
        pricing["currentPrice"] == {"amount": "10.00", "currency": "USD"}
        and pricing["discount"]["percent"] == 50
    )

    announce_price_changes(state, now=ends + timedelta(seconds=1))
    ended = outbox_data(db, "pricing.updated", gid)[before:]
    assert len(ended) == 2
    assert ended[1]["listing"]["pricing"]["currentPrice"] == {"amount": "20.00", "currency": "USD"}
    assert ended[1]["discount"] is None
    announce_price_changes(state, now=ends + timedelta(days=30))
    assert len(outbox_data(db, "pricing.updated", gid)) == before + 2  # nothing left to announce
