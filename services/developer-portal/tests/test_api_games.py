"""Games, their metadata and their pricing through the API."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest
from dp_testkit import assert_error, expect
from sqlalchemy import update

from developer_portal.db.tables import games
from gamekeys_platform.errors import format_timestamp


def set_status(db, game_id: str, status: str) -> None:
    with db.transaction() as session:
        session.execute(update(games).where(games.c.game_id == uuid.UUID(game_id)).values(status=status))


def iso(moment: datetime) -> str:
    return format_timestamp(moment)


@pytest.fixture()
def studio(portal):
    return portal.studio()


def test_create_read_update_delete_a_draft_game(portal, studio):
    admin, developer = studio
    game = portal.game(admin, "  Star   Harbour ")
    assert game["title"] == "Star Harbour"
    assert game["status"] == "draft"
    assert game["developerId"] == developer["developerId"]
    assert expect(admin.get(f"/games/{game['gameId']}"), 200) == game

    renamed = expect(admin.put(f"/games/{game['gameId']}", json={"title": "Star Harbour II"}), 200)
    assert renamed["title"] == "Star Harbour II" and renamed["status"] == "draft"
    expect(admin.delete(f"/games/{game['gameId']}"), 204)
    assert_error(admin.get(f"/games/{game['gameId']}"), 404, "NOT_FOUND")


def test_put_never_changes_the_status(portal, studio, nothing_written):
    admin, developer = studio
    game = portal.game(admin)
    with nothing_written(developer["developerId"]):
        response = admin.put(f"/games/{game['gameId']}", json={"title": "X", "status": "published"})
        error = assert_error(response, 422, "VALIDATION_ERROR")
        assert "status" in error["details"]["fields"]["json"]
    assert expect(admin.get(f"/games/{game['gameId']}"), 200)["status"] == "draft"


@pytest.mark.parametrize("status", ["pending_review", "approved", "rejected", "published", "removed"])
def test_only_a_draft_can_be_deleted(portal, studio, db, status):
    admin, _developer = studio
    game = portal.game(admin)
    set_status(db, game["gameId"], status)
    assert_error(admin.delete(f"/games/{game['gameId']}"), 409, "CONFLICT", "GAME_NOT_DRAFT")
    assert expect(admin.get(f"/games/{game['gameId']}"), 200)["status"] == status


def test_a_game_under_review_keeps_its_title_and_metadata(portal, studio, db):
    admin, _developer = studio
    game = portal.game(admin)
    set_status(db, game["gameId"], "pending_review")
    response = admin.put(f"/games/{game['gameId']}", json={"title": "Changed under review"})
    assert_error(response, 409, "CONFLICT", "GAME_CONTENT_FROZEN")
    response = admin.put(f"/games/{game['gameId']}/metadata", json={"description": "new"})
    assert_error(response, 409, "CONFLICT", "GAME_CONTENT_FROZEN")
    # Prices may still change while moderators look.
    expect(
        admin.put(
            f"/games/{game['gameId']}/pricing", json={"basePrice": {"amount": "5.00", "currency": "USD"}}
        ),
        200,
    )


def test_duplicate_titles_within_a_studio_are_a_conflict(portal, studio, nothing_written):
    admin, developer = studio
    first = portal.game(admin, "Moon Miners")
    other = portal.game(admin, "Sun Miners")
    with nothing_written(developer["developerId"]):
        assert_error(admin.post("/games", json={"title": "moon  MINERS"}), 409, "CONFLICT", "DUPLICATE_TITLE")
        response = admin.put(f"/games/{other['gameId']}", json={"title": "Moon Miners"})
        assert_error(response, 409, "CONFLICT", "DUPLICATE_TITLE")
    # Re-casing one's own title is fine; another studio may use the same title.
    assert (
        expect(admin.put(f"/games/{first['gameId']}", json={"title": "MOON Miners"}), 200)["title"]
        == "MOON Miners"
    )
    other_admin, _ = portal.studio()
    portal.game(other_admin, "Moon Miners")


def test_game_creation_is_idempotent_with_a_key(portal, studio):
    admin, _developer = studio
    headers = {"Idempotency-Key": f"create-{uuid.uuid4()}"}
    first = admin.post("/games", json={"title": "Once Only"}, headers=headers)
    again = admin.post("/games", json={"title": "Once Only"}, headers=headers)
    assert first.status_code == again.status_code == 201
    assert first.get_json() == again.get_json()
    assert again.headers["Idempotent-Replayed"] == "true"
    other = admin.post("/games", json={"title": "Something else"}, headers=headers)
    assert_error(other, 422, "IDEMPOTENCY_CONFLICT")
    titles = [g["title"] for g in expect(admin.get("/games"), 200)["items"]]
    assert titles.count("Once Only") == 1


def test_games_are_listed_newest_first_in_pages(portal, studio):
    admin, _developer = studio
    created = [portal.game(admin)["gameId"] for _ in range(5)]
    seen, cursor = [], None
    while True:
        page = expect(admin.get("/games?limit=2" + (f"&cursor={cursor}" if cursor else "")), 200)
        seen += [item["gameId"] for item in page["items"]]
        cursor = page["nextCursor"]
        if cursor is None:
            break
    assert seen == list(reversed(created))
    assert expect(admin.get("/games?status=published"), 200)["items"] == []


def test_metadata_defaults_then_fields_given_are_replaced(portal, studio):
    admin, _developer = studio
    game = portal.game(admin)
    path = f"/games/{game['gameId']}/metadata"
    empty = expect(admin.get(path), 200)
    assert empty == {
        "gameId": game["gameId"],
        "description": None,
        "shortDescription": None,
        "systemRequirements": {},
        "tags": [],
        "genres": [],
        "ageRating": None,
        "mediaUrls": {},
        "updatedAt": None,
    }
    body = {
        "description": "A long description " * 50,
        "shortDescription": "Mine the moon.",
        "tags": ["Co-op", "co-op", "Space  Mining"],
        "genres": ["Simulation", "indie"],
        "ageRating": "PEGI 12",
        "systemRequirements": {
            "windows": {"minimum": {"os": "Windows 10", "memory": "8 GB", "graphics": None}}
        },
        "mediaUrls": {"screenshots": ["https://cdn.example.com/a.png"], "videos": []},
    }
    saved = expect(admin.put(path, json=body), 200)
    assert saved["tags"] == ["co-op", "space mining"]
    assert saved["genres"] == ["simulation", "indie"]
    assert saved["systemRequirements"] == {"windows": {"minimum": {"os": "Windows 10", "memory": "8 GB"}}}
    assert saved["updatedAt"].endswith("Z")

    partial = expect(admin.put(path, json={"shortDescription": "Mine it.", "ageRating": None}), 200)
    assert partial["shortDescription"] == "Mine it."
    assert partial["ageRating"] is None
    assert partial["tags"] == saved["tags"] and partial["description"] == saved["description"]
    assert expect(admin.get(path), 200) == partial


def test_pricing_with_regional_prices_and_a_running_discount(portal, studio):
    admin, _developer = studio
    game = portal.game(admin)
    path = f"/games/{game['gameId']}/pricing"
    assert expect(admin.get(path), 200)["basePrice"] is None
    now = datetime.now(UTC)
    running = {
        "percent": 33,
        "startsAt": iso(now - timedelta(hours=1)),
        "endsAt": iso(now + timedelta(days=7)),
    }
    later = {"percent": 50, "startsAt": iso(now + timedelta(days=7)), "endsAt": iso(now + timedelta(days=14))}
    body = {
        "basePrice": {"amount": "19.99", "currency": "USD"},
        "regionalPrices": {
            "DE": {"amount": "17.5", "currency": "EUR"},
            "JP": {"amount": "2200", "currency": "JPY"},
        },
        "discounts": [later, running],
    }
    saved = expect(admin.put(path, json=body), 200)
    assert saved["basePrice"] == {"amount": "19.99", "currency": "USD"}
    assert saved["regionalPrices"] == {
        "DE": {"amount": "17.50", "currency": "EUR"},
        "JP": {"amount": "2200", "currency": "JPY"},
    }
    assert saved["discounts"] == [running, later]  # sorted by start
    assert saved["discount"] == running  # the one in effect now
    assert saved["currentPrice"] == {"amount": "13.39", "currency": "USD"}  # 19.99 * 0.67 = 13.3933
    assert expect(admin.get(path), 200) == saved

    free = expect(admin.put(path, json={"basePrice": {"amount": "0", "currency": "USD"}}), 200)
    assert free["basePrice"] == {"amount": "0.00", "currency": "USD"}
    assert free["discounts"] == [] and free["discount"] is None and free["regionalPrices"] == {}


def test_a_member_of_another_studio_gets_404_for_everything(portal, studio):
    admin, developer = studio
    game = portal.game(admin)
    stranger, _ = portal.studio()
    gid = game["gameId"]
    for method, path, body in [
        ("GET", f"/games/{gid}", None),
        ("PUT", f"/games/{gid}", {"title": "Mine now"}),
        ("DELETE", f"/games/{gid}", None),
        ("GET", f"/games/{gid}/metadata", None),
        ("PUT", f"/games/{gid}/metadata", {"description": "mine"}),
        ("GET", f"/games/{gid}/pricing", None),
        ("PUT", f"/games/{gid}/pricing", {"basePrice": {"amount": "1.00", "currency": "USD"}}),
        ("GET", f"/games?developerId={developer['developerId']}", None),
        ("GET", f"/accounts/{developer['developerId']}", None),
        ("GET", f"/accounts/{developer['developerId']}/team", None),
        ("GET", f"/accounts/{developer['developerId']}/audit-log", None),
        ("PUT", f"/accounts/me/team/{admin.user_id}", {"role": "finance"}),
        ("DELETE", f"/accounts/me/team/{admin.user_id}", None),
    ]:
        assert_error(stranger.request(method, path, json=body), 404, "NOT_FOUND")
    assert gid not in [g["gameId"] for g in expect(stranger.get("/games"), 200)["items"]]
    assert expect(admin.get(f"/games/{gid}"), 200)["title"] == game["title"]
