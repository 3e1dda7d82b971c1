"""validate (dry run), history, key status, check-region, restrictions."""

from __future__ import annotations

import uuid

from key_manager.domain import codec

API = "/api/v1/activations"


def test_validate_is_a_dry_run_that_counts_failures(game, user, client, redeem_body, counts, km_app):
    user_id, auth = user()
    key = game.key()
    before = counts()
    ok = client.post(f"{API}/validate", json=redeem_body(key["key"]), headers=auth)
    assert ok.status_code == 200 and ok.get_json()["valid"] is True and ok.get_json()["keyId"] == key["id"]
    bad = client.post(f"{API}/validate", json=redeem_body("ABCD-EFGH-JKMN-PQRS"), headers=auth)
    assert bad.status_code == 200 and bad.get_json()["error"]["code"] == "INVALID_KEY_FORMAT"
    assert counts() == before
    info = km_app.test_client().get(f"/api/v1/keys/{key['id']}", headers=game.developer_auth).get_json()
    assert info["status"] == "generated"
    restrictions = client.get(f"{API}/users/{user_id}/restrictions", headers=auth).get_json()
    user_rule = next(r for r in restrictions["lockouts"] if r["dimension"] == "user")
    assert user_rule["remaining"] == user_rule["limit"] - 1  # the malformed key counted


def test_history_self_staff_and_pages(game, user, redeem, client, staff_auth):
    user_id, auth = user()
    for _ in range(3):
        redeem(game.key()["key"], auth)
    first = client.get(f"{API}/users/{user_id}/history?limit=2", headers=auth)
    assert first.status_code == 200
    page = first.get_json()
    assert len(page["items"]) == 2 and page["nextCursor"]
    rest = client.get(f"{API}/users/{user_id}/history?limit=2&cursor={page['nextCursor']}", headers=auth)
    items = page["items"] + rest.get_json()["items"]
    assert len(items) == 3 and rest.get_json()["nextCursor"] is None
    assert len({i["transactionId"] for i in items}) == 3 and {i["status"] for i in items} == {"activated"}
    assert client.get(f"{API}/users/{user_id}/history", headers=staff_auth("support")).status_code == 200
    _, stranger = user()
    assert client.get(f"{API}/users/{user_id}/history", headers=stranger).status_code == 403
    for route in ("history", "restrictions"):
        typo = client.get(f"{API}/users/not-a-uuid/{route}", headers=staff_auth("support"))
        assert typo.status_code == 404 and typo.get_json()["error"]["code"] == "NOT_FOUND"
    bad = client.get(f"{API}/users/{user_id}/history?cursor=nonsense", headers=auth)
    assert bad.status_code == 422


def test_key_status_for_staff_and_owning_studio(game, make_game, user, redeem, client, staff_auth):
    _, auth = user()
    key = game.key()
    redeem(key["key"], auth)
    support = client.get(f"{API}/keys/{key['id']}/status", headers=staff_auth("support"))
    body = support.get_json()
    assert support.status_code == 200 and body["status"] == "activated" and len(body["activations"]) == 1
    owner = client.get(f"{API}/keys/{key['id']}/status", headers=game.developer_auth)
    assert owner.status_code == 200 and owner.get_json()["status"] == "activated"
    other_studio = make_game(1)
    assert (
        client.get(f"{API}/keys/{key['id']}/status", headers=other_studio.developer_auth).status_code == 404
    )
    assert client.get(f"{API}/keys/{key['id']}/status", headers=auth).status_code == 404
    assert client.get(f"{API}/keys/{uuid.uuid4()}/status", headers=staff_auth("admin")).status_code == 404


def test_check_region(make_game, user, client):
    game = make_game(1, regions=[{"type": "allow", "countries": ["DE"]}])
    _, auth = user()
    key = game.keys[0]
    ok = client.post(f"{API}/check-region", json={"keyId": key["id"], "userRegion": "DE"}, headers=auth)
    assert ok.status_code == 200 and ok.get_json()["allowed"] is True
    no = client.post(f"{API}/check-region", json={"key": key["key"], "userRegion": "FR"}, headers=auth)
    assert no.get_json()["allowed"] is False and no.get_json()["code"] == "REGION_RESTRICTED"
    vpn = client.post(
        f"{API}/check-region",
        json={"keyId": key["id"], "userRegion": "DE"},
        headers={**auth, "X-Forwarded-For": "198.19.0.9"},
    )
    assert vpn.get_json()["code"] == "VPN_DETECTED" and vpn.get_json()["details"]["networkSource"] == "sample"
    real = client.post(
        f"{API}/check-region",
        json={"keyId": key["id"], "userRegion": "DE"},
        headers={**auth, "X-Forwarded-For": "193.99.144.80"},
    )
    assert real.get_json()["allowed"] is True
    assert (real.get_json()["details"]["ipCountry"], real.get_json()["details"]["ipCountrySource"]) == (
        "DE",
        "registry",
    )
    both = client.post(
        f"{API}/check-region", json={"key": key["key"], "keyId": key["id"], "userRegion": "DE"}, headers=auth
    )
    assert both.status_code == 422
    lower = client.post(f"{API}/check-region", json={"keyId": key["id"], "userRegion": "de"}, headers=auth)
    assert lower.status_code == 200 and lower.get_json()["allowed"] is True
    unknown = client.post(f"{API}/check-region", json={"keyId": key["id"], "userRegion": "XX"}, headers=auth)
    assert unknown.status_code == 422
    assert unknown.get_json()["error"]["details"]["fields"]["json"]["userRegion"] == [
        "XX is not an ISO 3166-1 alpha-2 country code"
    ]


def test_check_region_counts_toward_the_redemption_lockout(make_game, user, client, redeem, random_ip):
    """check-region says whether a key exists, so its misses count like /redeem's and a caller
    locked out there is locked out everywhere (and the other way round)."""
    key = make_game(1, regions=[{"type": "allow", "countries": ["DE"]}]).keys[0]
    user_id, auth = user()
    headers = {**auth, "X-Forwarded-For": random_ip()}

    def check(**ref):
        return client.post(f"{API}/check-region", json={**ref, "userRegion": "DE"}, headers=headers)

    assert check(key=key["key"]).get_json()["allowed"] is True  # an existing, usable key: not counted
    for _ in range(8):
        miss = check(key=codec.generate_keys(1)[0].decode())
        assert miss.status_code == 404 and miss.get_json()["error"]["code"] == "KEY_NOT_FOUND"
    assert check(keyId=str(uuid.uuid4())).status_code == 404
    assert check(key="ABCD-EFGH-JKMN-PQRS").status_code == 400
    restrictions = client.get(f"{API}/users/{user_id}/restrictions", headers=auth).get_json()
    assert next(r for r in restrictions["lockouts"] if r["dimension"] == "user")["remaining"] == 0
    for ref in ({"key": key["key"]}, {"keyId": key["id"]}):
        locked = check(**ref)
        assert locked.status_code == 429 and locked.get_json()["error"]["code"] == "RATE_LIMITED"
        assert int(locked.headers["Retry-After"]) > 3000
        assert "allowed" not in locked.get_json()
    assert redeem(key["key"], auth).status_code == 429


def test_check_region_refused_while_locked_out_by_redeem(make_game, user, client, redeem):
    key = make_game(1).keys[0]
    _, auth = user()
    for _ in range(10):
        assert redeem("ABCD-EFGH-JKMN-PQRS", auth).status_code == 400
    locked = client.post(f"{API}/check-region", json={"keyId": key["id"], "userRegion": "DE"}, headers=auth)
    assert locked.status_code == 429 and locked.get_json()["error"]["code"] == "RATE_LIMITED"


def test_check_region_of_a_used_key_counts(make_game, user, client, redeem, random_ip):
    """An activated (or revoked, expired) key is an answer a guesser gets: it counts, as on /redeem."""
    key = make_game(1).keys[0]
    _, owner = user()
    assert redeem(key["key"], owner).status_code == 200
    user_id, auth = user()
    headers = {**auth, "X-Forwarded-For": random_ip()}
    answer = client.post(f"{API}/check-region", json={"key": key["key"], "userRegion": "DE"}, headers=headers)
    assert answer.status_code == 200
    restrictions = client.get(f"{API}/users/{user_id}/restrictions", headers=auth).get_json()
    user_rule = next(r for r in restrictions["lockouts"] if r["dimension"] == "user")
    assert user_rule["remaining"] == user_rule["limit"] - 1


def test_restrictions_show_lockouts_with_expiry(user, redeem, client, staff_auth):
    user_id, auth = user()
    for _ in range(10):
        redeem("ABCD-EFGH-JKMN-PQRS", auth)
    body = client.get(f"{API}/users/{user_id}/restrictions", headers=staff_auth("support")).get_json()
    assert body["canRedeem"] is False
    [user_rule] = [r for r in body["lockouts"] if r["dimension"] == "user"]
    assert user_rule["locked"] and user_rule["retryAfter"] > 3000 and user_rule["expiresAt"].endswith("Z")
    _, stranger = user()
    assert client.get(f"{API}/users/{user_id}/restrictions", headers=stranger).status_code == 403


def test_openapi_and_health(client):
    spec = client.get("/openapi.json").get_json()
    assert f"{API}/redeem" in spec["paths"] and f"{API}/users/{{user_id}}/history" in spec["paths"]
    assert client.get("/healthz").status_code == 200
    ready = client.get("/readyz")
    assert ready.status_code == 200 and ready.get_json()["checks"]["geoip"] == "ok"
    geoip = ready.get_json()["details"]["geoip"]
    assert set(geoip["sources"]) == {"registry", "hosting-ranges"} and geoip["sampleRanges"] is True
    assert geoip["sources"]["registry"]["builtAt"].endswith("Z")
    metrics = client.get("/metrics").get_data(as_text=True)
    assert 'geoip_data_built_timestamp_seconds{service="activation-gateway",source="registry"}' in metrics
