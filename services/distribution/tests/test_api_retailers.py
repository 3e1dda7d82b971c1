"""Retailers (platform admin): create with credentials shown once, list, update, rotate; bad input."""

from __future__ import annotations

import uuid

from sqlalchemy import select

from distribution.db.tables import retailers

API = "/api/v1/distribution"


def test_create_shows_secret_once_and_stores_only_a_slow_hash(
    client, make_retailer, admin_auth, dist, events_of
):
    game_id = uuid.uuid4()
    created = make_retailer([game_id], allowedRegions=["de", "FR"], commissionRate="0.125")
    credentials = created["apiCredentials"]
    assert created["status"] == "active" and created["commissionRate"] == "0.1250"
    assert created["allowedGameIds"] == [str(game_id)] and created["allowedRegions"] == ["DE", "FR"]
    assert credentials["clientId"].startswith("rtl_") and len(credentials["clientSecret"]) >= 43
    with dist.db.transaction() as session:
        stored = session.execute(select(retailers).where(retailers.c.id == created["id"])).one()
    assert (
        stored.secret_hash.startswith("$argon2id$") and credentials["clientSecret"] not in stored.secret_hash
    )

    shown = client.get(f"{API}/retailers/{created['id']}", headers=admin_auth).get_json()
    assert "clientSecret" not in shown["apiCredentials"]
    listed = client.get(f"{API}/retailers?limit=100", headers=admin_auth).get_json()
    assert any(item["id"] == created["id"] for item in listed["items"])
    assert all("clientSecret" not in item["apiCredentials"] for item in listed["items"])
    [event] = events_of("retailer.added", created["id"])
    assert credentials["clientSecret"] not in str(event) and event["data"]["commissionRate"] == "0.1250"


def test_list_pages_with_cursor(client, make_retailer, admin_auth):
    for _ in range(3):
        make_retailer()
    first = client.get(f"{API}/retailers?limit=2", headers=admin_auth).get_json()
    assert len(first["items"]) == 2 and first["nextCursor"]
    second = client.get(
        f"{API}/retailers?limit=2&cursor={first['nextCursor']}", headers=admin_auth
    ).get_json()
    assert {i["id"] for i in first["items"]}.isdisjoint({i["id"] for i in second["items"]})
    bad = client.get(f"{API}/retailers?cursor=nonsense", headers=admin_auth)
    assert bad.status_code == 422 and bad.get_json()["error"]["code"] == "VALIDATION_ERROR"


def test_update_suspend_reactivate_and_terms(client, make_retailer, admin_auth, events_of):
    created = make_retailer()
    url = f"{API}/retailers/{created['id']}"
    suspended = client.patch(
        url, json={"status": "suspended", "reason": "unpaid invoices"}, headers=admin_auth
    )
    assert suspended.status_code == 200 and suspended.get_json()["status"] == "suspended"
    game_id = str(uuid.uuid4())
    changed = client.patch(
        url,
        json={"status": "active", "commissionRate": "0.2", "allowedGameIds": [game_id]},
        headers=admin_auth,
    ).get_json()
    assert changed["status"] == "active" and changed["commissionRate"] == "0.2000"
    assert changed["allowedGameIds"] == [game_id]
    updates = events_of("retailer.updated", created["id"])
    assert [e["data"]["changedFields"] for e in updates] == [
        ["status"],
        ["allowedGameIds", "commissionRate", "status"],
    ]
    assert updates[0]["data"]["previousStatus"] == "active"
    unknown = client.patch(f"{API}/retailers/{uuid.uuid4()}", json={"name": "x"}, headers=admin_auth)
    assert unknown.status_code == 404


def test_bad_input_writes_nothing(client, admin_auth, counts, make_token):
    before = counts()
    valid = {
        "name": "Shop",
        "contactInfo": {"email": "a@b.example"},
        "commissionRate": "0.1",
        "allowedGameIds": [],
    }
    for body, status in (
        ({**valid, "commissionRate": "1.5"}, 422),
        ({**valid, "commissionRate": "0.12345"}, 422),
        ({**valid, "commissionRate": "abc"}, 422),
        ({**valid, "unknown": 1}, 422),
        ({**valid, "contactInfo": {"email": "not-an-email"}}, 422),
        ({**valid, "allowedRegions": ["DEU"]}, 422),
        ({**valid, "allowedRegions": ["XX"]}, 422),
        ({**valid, "name": ""}, 422),
        ({k: v for k, v in valid.items() if k != "name"}, 422),
    ):
        response = client.post(f"{API}/retailers", json=body, headers=admin_auth)
        assert response.status_code == status, (body, response.get_json())
        assert response.get_json()["error"]["code"] == "VALIDATION_ERROR"
    malformed = client.post(
        f"{API}/retailers", data="{", headers={**admin_auth, "Content-Type": "application/json"}
    )
    assert malformed.status_code == 400
    developer = {"Authorization": f"Bearer {make_token(roles=('developer',))}"}
    assert client.post(f"{API}/retailers", json=valid, headers=developer).status_code == 403
    assert client.post(f"{API}/retailers", json=valid).status_code == 401
    assert client.get(f"{API}/analytics", headers=developer).status_code == 403
    assert counts() == before


def test_decimals_are_strings_and_bad_ones_name_their_field(client, admin_auth, make_retailer):
    valid = {"name": "Shop", "contactInfo": {"email": "a@b.example"}, "allowedGameIds": []}
    for rate, message in (
        (0.15, 'must be a decimal string such as "19.99", never a number'),
        ("1.5", "must be at least 0 and below 1"),
        ("0.12345", "has more than 4 decimal places"),
    ):
        response = client.post(f"{API}/retailers", json={**valid, "commissionRate": rate}, headers=admin_auth)
        assert response.status_code == 422, response.get_json()
        assert response.get_json()["error"]["details"]["fields"]["json"] == {"commissionRate": [message]}
    url = f"{API}/retailers/{make_retailer()['id']}"
    patched = client.patch(url, json={"commissionRate": 0.2}, headers=admin_auth)
    assert patched.status_code == 422
    assert list(patched.get_json()["error"]["details"]["fields"]["json"]) == ["commissionRate"]


def test_patch_needs_a_change_and_valid_status(client, make_retailer, admin_auth):
    created = make_retailer()
    url = f"{API}/retailers/{created['id']}"
    assert client.patch(url, json={}, headers=admin_auth).status_code == 422
    assert client.patch(url, json={"status": "closed"}, headers=admin_auth).status_code == 422
    same = client.patch(url, json={"status": "active"}, headers=admin_auth)
    assert same.status_code == 200 and same.get_json()["updatedAt"] == created["updatedAt"]


def test_sales_report_period_is_validated(client, make_retailer, admin_auth):
    retailer = make_retailer()
    url = f"{API}/retailers/{retailer['id']}/sales-report"
    empty = client.get(
        url, query_string={"from": "2026-01-01T00:00:00Z", "to": "2026-02-01T00:00:00Z"}, headers=admin_auth
    )
    assert empty.status_code == 200 and empty.get_json()["totals"] == []
    for query in (
        {"from": "2026-02-01T00:00:00Z", "to": "2026-01-01T00:00:00Z"},
        {"from": "2024-01-01T00:00:00Z", "to": "2026-01-01T00:00:00Z"},
        {"from": "2026-01-01T00:00:00", "to": "2026-02-01T00:00:00Z"},
        {"to": "2026-02-01T00:00:00Z"},
    ):
        response = client.get(url, query_string=query, headers=admin_auth)
        assert response.status_code == 422, query
    unknown = client.get(
        f"{API}/retailers/{uuid.uuid4()}/sales-report",
        query_string={"from": "2026-01-01T00:00:00Z", "to": "2026-02-01T00:00:00Z"},
        headers=admin_auth,
    )
    assert unknown.status_code == 404
