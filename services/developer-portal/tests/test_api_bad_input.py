"""Bad input: a §3 error naming what is wrong, and nothing written (no row, no audit entry,
no event)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from dp_testkit import assert_error, expect, legal_details

from gamekeys_platform.errors import format_timestamp

NOW = datetime.now(UTC)


def iso(delta: timedelta) -> str:
    return format_timestamp(NOW + delta)


@pytest.fixture(scope="module")
def setup(portal):
    admin, developer = portal.studio()
    game = portal.game(admin, "Bad Input Target")
    price = {"basePrice": {"amount": "9.99", "currency": "USD"}}
    expect(admin.put(f"/games/{game['gameId']}/pricing", json=price), 200)
    expect(admin.put(f"/games/{game['gameId']}/metadata", json={"description": "kept"}), 200)
    return admin, developer, game


def field_errors(error: dict) -> dict:
    return error["details"]["fields"]["json"]


@pytest.mark.parametrize(
    ("body", "field"),
    [
        (
            {"companyName": "X", "legalDetails": legal_details(), "verificationStatus": "verified"},
            "verificationStatus",
        ),
        ({"companyName": "X" * 256, "legalDetails": legal_details()}, "companyName"),
        ({"companyName": "   ", "legalDetails": legal_details()}, "companyName"),
        ({"companyName": "X"}, "legalDetails"),
        ({"companyName": "X", "legalDetails": legal_details(country="XX")}, "legalDetails"),
        ({"companyName": "X", "legalDetails": legal_details(country="DEU")}, "legalDetails"),
        ({"companyName": "X", "legalDetails": legal_details(iban="DE00")}, "legalDetails"),
        ({"companyName": "X", "legalDetails": legal_details(website="http://plain.example")}, "legalDetails"),
        ({"companyName": "X", "legalDetails": legal_details(contactEmail="not-an-email")}, "legalDetails"),
    ],
)
def test_bad_registration_is_422_and_registers_nothing(portal, body, field):
    founder = portal.user()
    error = assert_error(founder.post("/accounts", json=body), 422, "VALIDATION_ERROR")
    assert field in field_errors(error)
    assert_error(founder.get("/accounts/me"), 404, "NOT_FOUND")


def test_malformed_json_and_oversized_bodies(portal, setup, nothing_written):
    admin, developer, game = setup
    with nothing_written(developer["developerId"]):
        response = admin.put(f"/games/{game['gameId']}", data='{"title": ', content_type="application/json")
        assert_error(response, 400, "VALIDATION_ERROR")
        huge = {"description": "x" * 1_100_000}
        assert_error(admin.put(f"/games/{game['gameId']}/metadata", json=huge), 413, "PAYLOAD_TOO_LARGE")


GOOD_DISCOUNT = {"percent": 20, "startsAt": iso(timedelta(days=1)), "endsAt": iso(timedelta(days=8))}


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"basePrice": {"amount": "-1.00", "currency": "USD"}}, "basePrice"),
        ({"basePrice": {"amount": 19.99, "currency": "USD"}}, "basePrice"),
        ({"basePrice": {"amount": "19.999", "currency": "USD"}}, "basePrice"),
        ({"basePrice": {"amount": "1,99", "currency": "USD"}}, "basePrice"),
        ({"basePrice": {"amount": "1e3", "currency": "USD"}}, "basePrice"),
        ({"basePrice": {"amount": "019.99", "currency": "USD"}}, "basePrice"),
        ({"basePrice": {"amount": "100.5", "currency": "JPY"}}, "basePrice"),
        ({"basePrice": {"amount": "1000000000", "currency": "USD"}}, "basePrice"),
        ({"basePrice": {"amount": "19.99", "currency": "usd"}}, "basePrice"),
        ({"basePrice": {"amount": "19.99", "currency": "XYZ"}}, "basePrice"),
        ({"basePrice": {"amount": "19.99", "currency": "XAU"}}, "basePrice"),
        ({"basePrice": {"amount": "19.99"}}, "basePrice"),
        ({"basePrice": {"amount": "19.99", "currency": "USD", "tax": "0"}}, "basePrice"),
        ({}, "basePrice"),
        (
            {
                "basePrice": {"amount": "9.99", "currency": "USD"},
                "regionalPrices": {"XX": {"amount": "1.00", "currency": "EUR"}},
            },
            "regionalPrices",
        ),
        (
            {
                "basePrice": {"amount": "9.99", "currency": "USD"},
                "regionalPrices": {"DE": {"amount": "-1", "currency": "EUR"}},
            },
            "regionalPrices",
        ),
        (
            {
                "basePrice": {"amount": "9.99", "currency": "USD"},
                "discounts": [{**GOOD_DISCOUNT, "percent": 0}],
            },
            "discounts",
        ),
        (
            {
                "basePrice": {"amount": "9.99", "currency": "USD"},
                "discounts": [{**GOOD_DISCOUNT, "percent": 100}],
            },
            "discounts",
        ),
        (
            {
                "basePrice": {"amount": "9.99", "currency": "USD"},
                "discounts": [{**GOOD_DISCOUNT, "percent": "20"}],
            },
            "discounts",
        ),
        (
            {
                "basePrice": {"amount": "9.99", "currency": "USD"},
                "discounts": [{**GOOD_DISCOUNT, "percent": 12.5}],
            },
            "discounts",
        ),
        (
            {
                "basePrice": {"amount": "9.99", "currency": "USD"},
                "discounts": [{**GOOD_DISCOUNT, "endsAt": GOOD_DISCOUNT["startsAt"]}],
            },
            "discounts",
        ),
        (
            {
                "basePrice": {"amount": "9.99", "currency": "USD"},
                "discounts": [{**GOOD_DISCOUNT, "endsAt": iso(timedelta(hours=1))}],
            },
            "discounts",
        ),
        (
            {
                "basePrice": {"amount": "9.99", "currency": "USD"},
                "discounts": [{**GOOD_DISCOUNT, "startsAt": "2030-01-01T00:00:00"}],
            },
            "discounts",
        ),
        (
            {
                "basePrice": {"amount": "9.99", "currency": "USD"},
                "discounts": [{**GOOD_DISCOUNT, "endsAt": iso(timedelta(days=200))}],
            },
            "discounts",
        ),
        (
            {
                "basePrice": {"amount": "9.99", "currency": "USD"},
                "discounts": [
                    {"percent": 10, "startsAt": iso(timedelta(days=-9)), "endsAt": iso(timedelta(days=-2))}
                ],
            },
            "discounts",
        ),
        (
            {
                "basePrice": {"amount": "9.99", "currency": "USD"},
                "discounts": [
                    GOOD_DISCOUNT,
                    {"percent": 30, "startsAt": iso(timedelta(days=7)), "endsAt": iso(timedelta(days=9))},
                ],
            },
            "discounts",
        ),
        ({"basePrice": {"amount": "0.00", "currency": "USD"}, "discounts": [GOOD_DISCOUNT]}, "discounts"),
        (
            {"basePrice": {"amount": "9.99", "currency": "USD"}, "discounts": [GOOD_DISCOUNT] * 21},
            "discounts",
        ),
    ],
)
def test_bad_pricing_is_422_and_keeps_the_old_price(setup, nothing_written, body, field):
    admin, developer, game = setup
    path = f"/games/{game['gameId']}/pricing"
    with nothing_written(developer["developerId"]):
        error = assert_error(admin.put(path, json=body), 422, "VALIDATION_ERROR")
    assert field in field_errors(error), error
    assert expect(admin.get(path), 200)["basePrice"] == {"amount": "9.99", "currency": "USD"}


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"description": "x" * 20_001}, "description"),
        ({"shortDescription": "x" * 501}, "shortDescription"),
        ({"tags": [f"tag{n}" for n in range(21)]}, "tags"),
        ({"tags": ["x" * 33]}, "tags"),
        ({"tags": ["<script>"]}, "tags"),
        ({"genres": ["dating-sim"]}, "genres"),
        ({"genres": ["action", "adventure", "casual", "indie", "puzzle", "racing"]}, "genres"),
        ({"ageRating": "<b>18</b>"}, "ageRating"),
        ({"mediaUrls": {"screenshots": ["http://insecure.example/a.png"]}}, "mediaUrls"),
        ({"mediaUrls": {"screenshots": ["https://cdn.example/a.png"] * 21}}, "mediaUrls"),
        ({"mediaUrls": {"posters": []}}, "mediaUrls"),
        ({"systemRequirements": {"windows": {"minimum": {"os": "x" * 301}}}}, "systemRequirements"),
        ({"systemRequirements": {"amiga": {}}}, "systemRequirements"),
        ({"status": "published"}, "status"),
    ],
)
def test_bad_metadata_is_422_and_keeps_the_old_metadata(setup, nothing_written, body, field):
    admin, developer, game = setup
    path = f"/games/{game['gameId']}/metadata"
    with nothing_written(developer["developerId"]):
        error = assert_error(admin.put(path, json=body), 422, "VALIDATION_ERROR")
    assert field in field_errors(error), error
    assert expect(admin.get(path), 200)["description"] == "kept"


@pytest.mark.parametrize(
    "body",
    [
        {"title": ""},
        {"title": "   "},
        {"title": "x" * 256},
        {"title": "bad\u0000title"},
        {"title": 42},
        {},
        {"title": "ok", "developerId": "00000000-0000-0000-0000-000000000000"},
    ],
)
def test_bad_game_input_is_422_and_creates_nothing(setup, nothing_written, body):
    admin, developer, _game = setup
    with nothing_written(developer["developerId"]):
        assert_error(admin.post("/games", json=body), 422, "VALIDATION_ERROR")


@pytest.mark.parametrize(
    ("path", "body", "messages"),
    [
        ("/games", {"title": "x" * 256}, {"title": ["title is over 255 characters"]}),
        ("/games", {"title": "x" * 10_000}, {"title": ["title is over 255 characters"]}),
        ("/games", {"title": ""}, {"title": ["title must not be blank"]}),
        (
            "/accounts",
            {"companyName": "", "legalDetails": legal_details()},
            {"companyName": ["must not be blank"]},
        ),
        (
            "/accounts",
            {"companyName": "x" * 300, "legalDetails": legal_details()},
            {"companyName": ["must be at most 255 characters"]},
        ),
        ("metadata", {"tags": [f"t{i}" for i in range(25)]}, {"tags": ["at most 20 tags"]}),
        ("metadata", {"genres": ["action"] * 6}, {"genres": ["at most 5 genres"]}),
    ],
)
def test_one_field_one_limit_one_message(setup, portal, path, body, messages):
    admin, _developer, game = setup
    if path == "metadata":
        response = admin.put(f"/games/{game['gameId']}/metadata", json=body)
    elif path == "/accounts":
        response = portal.user().post(path, json=body)
    else:
        response = admin.post(path, json=body)
    assert field_errors(assert_error(response, 422, "VALIDATION_ERROR")) == messages


@pytest.mark.parametrize(
    "body",
    [
        {"email": "not-an-email", "role": "developer"},
        {"email": "a@example.com", "role": "owner"},
        {"email": "a@example.com"},
        {"email": "x" * 250 + "@example.com", "role": "developer"},
        {"email": "a@example.com", "role": "developer", "message": "hi"},
    ],
)
def test_bad_invitations_are_422(setup, nothing_written, body):
    admin, developer, _game = setup
    with nothing_written(developer["developerId"]):
        assert_error(admin.post("/accounts/me/team", json=body), 422, "VALIDATION_ERROR")


def test_bad_query_parameters_are_422(setup):
    admin, _developer, _game = setup
    for query in ("limit=0", "limit=abc", "cursor=%%%", "status=done", "developerId=nope"):
        assert_error(admin.get(f"/games?{query}"), 422, "VALIDATION_ERROR")
