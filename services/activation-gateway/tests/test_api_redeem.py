"""POST /redeem against the real key-manager and antifraud: the happy path, each refusal in
the order of the checks, idempotent replays, brute-force lockout."""

from __future__ import annotations

import uuid

from key_manager.domain import codec

API = "/api/v1/activations"


def unknown_key() -> str:
    """A well-formed key (valid check character) that was never issued."""
    return codec.generate_keys(1)[0].decode()


def error_code(response) -> str:
    return response.get_json()["error"]["code"]


def test_happy_path_activates_once_and_records_it(game, user, redeem, rows, events_of, make_token):
    user_id, auth = user()
    key = game.key()
    response = redeem(key["key"], auth, ip="192.0.2.10", region="DE")
    body = response.get_json()
    assert response.status_code == 200, body
    assert body["success"] is True and body["status"] == "activated" and body["error"] is None
    assert body["gameId"] == str(game.game_id) and body["keyId"] == key["id"]
    [row] = rows(id=uuid.UUID(body["transactionId"]))
    assert row["status"] == "activated" and row["user_id"] == user_id and row["ip_address"] == "192.0.2.10"
    assert row["ip_country"] == "DE" and row["risk_score"] is not None
    [event] = events_of("activation.succeeded", body["transactionId"])
    data = event["data"]
    assert data["userId"] == user_id and data["keyId"] == key["id"] and data["ipAddress"] == "192.0.2.10"
    assert key["key"] not in str(event)
    # A second redemption of the same key by someone else: KEY_ALREADY_ACTIVATED, recorded as failed.
    _, other = user()
    again = redeem(key["key"], other)
    assert again.status_code == 409 and error_code(again) == "KEY_ALREADY_ACTIVATED"
    assert again.get_json()["success"] is False and again.get_json()["status"] == "failed"
    assert events_of("activation.failed", again.get_json()["transactionId"])


def test_invalid_format_is_refused_without_a_row(user, redeem, counts):
    _, auth = user()
    before = counts()
    response = redeem("ABCD-EFGH-JKMN-PQRS", auth)
    assert response.status_code == 400 and error_code(response) == "INVALID_KEY_FORMAT"
    assert response.get_json()["success"] is False and "ABCD" not in response.get_json()["error"]["message"]
    assert counts() == before


def test_unknown_key_is_not_found_and_reported_to_antifraud(
    user, redeem, rows, events_of, af, count_assessments
):
    user_id, auth = user()
    before = count_assessments(user_id)
    response = redeem(unknown_key(), auth)
    assert response.status_code == 404 and error_code(response) == "KEY_NOT_FOUND"
    [row] = rows(user_id=user_id)
    assert row["status"] == "failed" and row["key_fingerprint"] and row["key_id"] is None
    [event] = events_of("activation.failed", row["id"])
    assert event["data"]["reason"] == "KEY_NOT_FOUND" and event["data"]["keyFingerprint"]
    assert count_assessments(user_id) == before + 1  # analyze called with keyOutcome not_found


def test_revoked_and_expired_keys(make_game, user, redeem, km_app):
    game = make_game(2)
    km = km_app.test_client()
    revoked = game.key()
    response = km.post(
        f"/api/v1/keys/{revoked['id']}/revoke", json={"reason": "leak"}, headers=game.developer_auth
    )
    assert response.status_code == 200, response.get_json()
    _, auth = user()
    result = redeem(revoked["key"], auth)
    assert result.status_code == 410 and error_code(result) == "KEY_REVOKED"
    expired = game.key()
    response = km.patch(
        f"/api/v1/keys/{expired['id']}/status",
        json={"status": "expired", "reason": "test"},
        headers=game.developer_auth,
    )
    assert response.status_code == 200, response.get_json()
    result = redeem(expired["key"], auth)
    assert result.status_code == 410 and error_code(result) == "KEY_EXPIRED"


def test_region_locked_key_from_wrong_region_country_and_vpn(make_game, user, redeem, rows):
    game = make_game(4, regions=[{"type": "allow", "countries": ["DE", "AT"]}])
    _, auth = user()
    claimed = redeem(game.keys[0]["key"], auth, region="RU", ip="192.0.2.7")
    assert claimed.status_code == 403 and error_code(claimed) == "REGION_RESTRICTED"
    assert claimed.get_json()["error"]["details"]["reason"] == "user_region"
    by_ip = redeem(game.keys[0]["key"], auth, region="DE", ip="203.0.113.5")  # sample data: RU
    assert by_ip.status_code == 403 and error_code(by_ip) == "REGION_RESTRICTED"
    assert by_ip.get_json()["error"]["details"] == {
        "reason": "ip_country",
        "ipCountry": "RU",
        "ipCountrySource": "sample",
        "userRegion": "DE",
        "allowedCountries": ["AT", "DE"],
        "deniedCountries": [],
    }
    vpn = redeem(game.keys[0]["key"], auth, region="DE", ip="198.19.4.4")  # sample data: VPN range
    assert vpn.status_code == 403 and error_code(vpn) == "VPN_DETECTED"
    dc = redeem(game.keys[0]["key"], auth, region="DE", ip="198.18.4.4")  # datacenter range
    assert dc.status_code == 403 and error_code(dc) == "VPN_DETECTED"
    ok = redeem(game.keys[0]["key"], auth, region="AT", ip="192.0.2.7")
    assert ok.status_code == 200, ok.get_json()


def test_a_key_locked_to_de_is_refused_from_a_russian_address_whatever_the_player_claims(
    make_game, user, redeem, rows
):
    """Real addresses, real data: 77.88.8.8 (Yandex) is registered in Russia, 193.99.144.80
    (heise) in Germany; the player claims DE both times."""
    game = make_game(2, regions=[{"type": "allow", "countries": ["DE"]}])
    user_id, auth = user()
    russian = redeem(game.keys[0]["key"], auth, region="DE", ip="77.88.8.8")
    assert russian.status_code == 403 and error_code(russian) == "REGION_RESTRICTED"
    details = russian.get_json()["error"]["details"]
    assert (details["reason"], details["ipCountry"], details["ipCountrySource"]) == (
        "ip_country",
        "RU",
        "registry",
    )
    german = redeem(game.keys[0]["key"], auth, region="DE", ip="193.99.144.80")
    assert german.status_code == 200, german.get_json()
    [refused, activated] = rows(user_id=user_id)
    assert (refused["status"], refused["ip_country"]) == ("failed", "RU")
    assert (activated["status"], activated["ip_country"]) == ("activated", "DE")
    hosted = redeem(game.keys[1]["key"], auth, region="DE", ip="46.4.0.1")  # Hetzner, DE
    assert hosted.status_code == 403 and error_code(hosted) == "VPN_DETECTED"
    assert hosted.get_json()["error"]["details"]["networkSource"] == "hosting-ranges"


def test_fraud_block_and_account_block(game, user, redeem, rows, events_of, af_admin):
    user_id, auth = user()
    key = game.key()
    blocked = redeem(key["key"], auth, deviceInfo={"fingerprint": "dev-block", "platform": "block-me"})
    assert blocked.status_code == 403 and error_code(blocked) == "FRAUD_DETECTED"
    [row] = rows(user_id=user_id)
    assert row["status"] == "blocked" and row["assessment_id"] is not None
    assert events_of("activation.blocked", row["id"])
    # A block-listed user whose block has not reached the gateway's projection yet: antifraud's
    # own block list refuses it at step 6 (ACCOUNT_BLOCKED, recorded as blocked).
    response = af_admin("POST", "/blocks", {"entityType": "user", "value": user_id, "reason": "chargebacks"})
    assert response.status_code == 201, response.get_json()
    listed = redeem(key["key"], auth)
    assert listed.status_code == 403 and error_code(listed) == "ACCOUNT_BLOCKED"
    # The key was never activated: another player gets it.
    _, other = user()
    assert redeem(key["key"], other).status_code == 200


def test_idempotent_replay_of_success_and_refusal(game, user, redeem, rows):
    user_id, auth = user()
    key = game.key()
    headers = {"Idempotency-Key": f"redeem-{uuid.uuid4()}"}
    first = redeem(key["key"], auth, headers=headers, ip="192.0.2.1", device="dev-idem")
    assert first.status_code == 200
    replay = redeem(key["key"], auth, headers=headers, ip="192.0.2.1", device="dev-idem")
    assert replay.status_code == 200 and replay.get_json() == first.get_json()
    assert replay.headers.get("Idempotent-Replayed") == "true"
    assert len(rows(user_id=user_id)) == 1
    different = redeem(game.keys[0]["key"], auth, headers=headers)
    assert different.status_code == 422 and error_code(different) == "IDEMPOTENCY_CONFLICT"
    refused_headers = {"Idempotency-Key": f"redeem-{uuid.uuid4()}"}
    refused = redeem(key["key"], auth, headers=refused_headers, ip="192.0.2.1", device="dev-idem")
    assert refused.status_code == 409
    again = redeem(key["key"], auth, headers=refused_headers, ip="192.0.2.1", device="dev-idem")
    assert again.status_code == 409 and again.get_json() == refused.get_json()


def test_brute_force_locks_the_account_with_retry_after(game, user, redeem, client, redeem_body):
    _, auth = user()
    for _ in range(10):  # default: 10 failed attempts an hour per account
        assert redeem("ABCD-EFGH-JKMN-PQRS", auth).status_code == 400
    locked = redeem(game.key()["key"], auth)
    assert locked.status_code == 429 and error_code(locked) == "RATE_LIMITED"
    assert 3500 <= int(locked.headers["Retry-After"]) <= 3600
    body = locked.get_json()
    # A RedemptionResult like every other refusal, with §3's error object inside.
    assert body["success"] is False and body["status"] == "failed" and body["transactionId"]
    assert body["gameId"] is None and body["keyId"] is None
    assert set(body["error"]) == {"code", "message", "details", "timestamp", "requestId"}
    assert body["error"]["details"]["lockedBy"] == ["user"]
    # /validate's lockout answer is its ValidationResult, with the same status and Retry-After.
    dry = client.post(f"{API}/validate", json=redeem_body(game.key()["key"]), headers=auth)
    assert dry.status_code == 429 and 3500 <= int(dry.headers["Retry-After"]) <= 3600
    assert dry.get_json()["valid"] is False and dry.get_json()["keyId"] is None
    assert dry.get_json()["error"]["code"] == "RATE_LIMITED"
    assert dry.get_json()["error"]["details"]["lockedBy"] == ["user"]


def test_brute_force_from_one_ip_across_many_accounts(game, user, redeem, random_ip):
    ip = random_ip()
    for _ in range(30):  # default: 30 failed attempts an hour per IP
        _, auth = user()
        assert redeem(unknown_key(), auth, ip=ip).status_code == 404
    _, fresh = user()
    locked = redeem(game.key()["key"], fresh, ip=ip)
    assert locked.status_code == 429 and locked.get_json()["error"]["details"]["lockedBy"] == ["ip"]
    assert int(locked.headers["Retry-After"]) > 3000
    assert redeem(game.key()["key"], fresh, ip=random_ip()).status_code == 200  # another address is fine


def test_auth_and_validation(client, user, make_token, redeem_body):
    assert client.post(f"{API}/redeem", json=redeem_body("X")).status_code == 401
    service = {"Authorization": f"Bearer {make_token(roles=(), scopes=('keys:read',))}"}
    assert client.post(f"{API}/redeem", json=redeem_body("X"), headers=service).status_code == 403
    _, auth = user()
    bad = client.post(f"{API}/redeem", json={**redeem_body("X"), "userId": "someone"}, headers=auth)
    assert bad.status_code == 422 and bad.get_json()["error"]["code"] == "VALIDATION_ERROR"
    assert (
        client.post(f"{API}/redeem", json=redeem_body("X", region="Germany"), headers=auth).status_code == 422
    )
    assert client.post(f"{API}/redeem", json=redeem_body("X", region="XX"), headers=auth).status_code == 422


def test_idempotency_key_reused_after_expiry_answers_the_first_outcome(game, user, redeem, gw, rows):
    user_id, auth = user()
    key = game.key()
    headers = {"Idempotency-Key": f"redeem-{uuid.uuid4()}"}
    first = redeem(key["key"], auth, headers=headers, device="dev-reuse")
    assert first.status_code == 200
    stored = gw.db.tables.idempotency_keys
    with gw.db.transaction() as session:  # as if 24 h had passed and housekeeping had run
        session.execute(stored.delete().where(stored.c.scope == user_id))
    again = redeem(key["key"], auth, headers=headers, device="dev-reuse")
    assert again.status_code == 200 and again.get_json()["transactionId"] == first.get_json()["transactionId"]
    assert len(rows(user_id=user_id)) == 1
