import uuid
from datetime import UTC, datetime, timedelta

from sqlalchemy import select

from antifraud.db.tables import assessments, cases


def hits(score: dict) -> list[str]:
    return [hit["id"] for hit in score["rulesHit"] if not hit["shadow"]]


def test_normal_activation_is_low_allow_and_stored(analyze, af, events_of, random_ip, request_body):
    body = request_body(
        context={"ipAddress": random_ip("192.0.2"), "keyRegions": ["DE"], "gameId": str(uuid.uuid4())}
    )
    score = analyze(body)
    assert score["score"] == 0 and score["riskLevel"] == "LOW" and score["recommendedAction"] == "ALLOW"
    assert score["reasons"] == [] and score["rulesHit"] == [] and score["degraded"] is False
    assert score["ruleSetVersion"] >= 0 and score["caseId"] is None
    with af.db.transaction() as session:
        row = session.execute(
            select(assessments).where(assessments.c.id == uuid.UUID(score["assessmentId"]))
        ).one()
    assert (
        row.action == "ALLOW" and row.features["ip_country"] == "DE" and row.features["user_attempts_1m"] == 1
    )
    event = events_of("fraud.assessed", score["assessmentId"])[0]["data"]
    assert event["recommendedAction"] == "ALLOW" and event["userId"] == body["userId"]


def test_brute_force_from_one_user(analyze):
    user = str(uuid.uuid4())
    for _ in range(4):
        score = analyze(userId=user, context={"keyOutcome": "already_activated"})
        assert "brute-force" not in hits(score)
    score = analyze(userId=user, context={"keyOutcome": "already_activated"})
    assert "brute-force" in hits(score)
    assert score["recommendedAction"] == "REVIEW" and score["caseId"]
    assert "Burst of attempts or failures from one user, IP, subnet or device" in score["reasons"]


def test_key_enumeration_from_one_ip_blocks(analyze, random_ip):
    ip = random_ip("198.51.100")
    for i in range(4):
        score = analyze(
            keyId=None,
            context={"ipAddress": ip, "keyOutcome": "not_found", "keyFingerprint": f"fp-{uuid.uuid4().hex}"},
        )
        assert "key-enumeration" not in hits(score), i
    score = analyze(
        keyId=None, context={"ipAddress": ip, "keyOutcome": "invalid_format", "keyFingerprint": "fp-last-one"}
    )
    assert "key-enumeration" in hits(score)
    assert score["recommendedAction"] == "BLOCK"


def test_the_same_invalid_key_retried_is_not_enumeration(analyze, random_ip):
    ip = random_ip("198.51.100")
    for _ in range(6):
        score = analyze(
            keyId=None, context={"ipAddress": ip, "keyOutcome": "not_found", "keyFingerprint": "fp-typo-0001"}
        )
    assert "key-enumeration" not in hits(score)


def test_device_farm(analyze, random_ip):
    """Accounts sharing one device and one address (a family PC) are fine up to three."""
    device, ip = f"farm-{uuid.uuid4().hex}", random_ip("192.0.2")
    for _ in range(3):
        assert "device-farm" not in hits(analyze(deviceFingerprint=device, context={"ipAddress": ip}))
    assert "device-farm" in hits(analyze(deviceFingerprint=device, context={"ipAddress": ip}))


def test_device_farm_rotating_addresses(analyze, random_ip):
    """A second account on the device from another network: a farm behind a proxy pool. Another
    address of the same /24 (a carrier's NAT pool) is not."""
    device = f"farm-{uuid.uuid4().hex}"
    first = analyze(deviceFingerprint=device, context={"ipAddress": random_ip("198.18.7")})
    assert "device-farm" not in hits(first)
    same_network = analyze(deviceFingerprint=device, context={"ipAddress": random_ip("198.18.7")})
    assert "device-farm" not in hits(same_network)
    second = analyze(deviceFingerprint=device, context={"ipAddress": random_ip("198.18.9")})
    assert "device-farm" in hits(second) and second["recommendedAction"] == "REVIEW"


def test_review_rules_firing_together_stay_a_review(analyze, random_ip):
    """device-farm and region-mismatch, both REVIEW, weigh 105 together: a case, never a block."""
    device, ip = f"farm-{uuid.uuid4().hex}", random_ip("192.0.2")
    for _ in range(3):
        analyze(deviceFingerprint=device, context={"ipAddress": ip})
    score = analyze(deviceFingerprint=device, context={"ipAddress": ip, "keyRegions": ["RU"]})
    assert sorted(hits(score)) == ["device-farm", "region-mismatch"]
    assert (score["score"], score["recommendedAction"]) == (100, "REVIEW") and score["caseId"]


def test_region_mismatch_and_vpn_with_region_locked_key(analyze, random_ip):
    mismatch = analyze(context={"ipAddress": random_ip("192.0.2"), "keyRegions": ["RU"], "userRegion": "RU"})
    assert hits(mismatch) == ["region-mismatch"] and mismatch["recommendedAction"] == "REVIEW"
    vpn_ip = "203.0.113." + str(200 + uuid.uuid4().int % 50)
    vpn = analyze(context={"ipAddress": vpn_ip, "keyRegions": ["RU"], "userRegion": "RU"})
    assert hits(vpn) == ["vpn-region-locked"]
    unlocked = analyze(context={"ipAddress": vpn_ip, "keyRegions": [], "userRegion": "RU"})
    assert hits(unlocked) == []


def test_key_hoarding_from_one_batch(analyze):
    user, batch = str(uuid.uuid4()), str(uuid.uuid4())
    for _ in range(4):
        assert "key-hoarding" not in hits(analyze(userId=user, context={"batchId": batch}))
    assert "key-hoarding" in hits(analyze(userId=user, context={"batchId": batch}))


def test_instant_activation_after_resale(analyze):
    now = datetime.now(UTC)
    fast = analyze(
        context={"retailerId": str(uuid.uuid4()), "soldAt": (now - timedelta(seconds=5)).isoformat()}
    )
    assert hits(fast) == ["instant-resale-activation"]
    slow = analyze(context={"retailerId": str(uuid.uuid4()), "soldAt": (now - timedelta(days=2)).isoformat()})
    assert hits(slow) == []


def test_review_opens_a_case_with_its_event(analyze, af, events_of, random_ip, request_body):
    body = request_body(context={"ipAddress": random_ip("192.0.2"), "keyRegions": ["US"]})
    score = analyze(body)
    assert score["recommendedAction"] == "REVIEW"
    with af.db.transaction() as session:
        case = session.execute(select(cases).where(cases.c.id == uuid.UUID(score["caseId"]))).one()
    assert case.status == "open" and str(case.assessment_id) == score["assessmentId"]
    data = events_of("fraud.case_opened", score["caseId"])[0]["data"]
    assert data["keyId"] == body["keyId"] and data["activationId"] == body["activationId"]


def test_bad_input_is_422_and_writes_nothing(client, service_auth, count_rows, request_body):
    before = count_rows()
    bad_bodies = [
        {**request_body(), "unexpected": 1},
        request_body(userId="not-a-uuid"),
        request_body(context={"ipAddress": "999.1.1.1"}),
        request_body(deviceFingerprint=""),
        request_body(context={"keyOutcome": "maybe"}),
        request_body(context={"userRegion": "XX"}),
        request_body(context={"keyRegions": ["DE", "ZZ"]}),
        request_body(context={"soldAt": (datetime.now(UTC) + timedelta(days=400)).isoformat()}),
        request_body(context={"accountCreatedAt": (datetime.now(UTC) + timedelta(days=1)).isoformat()}),
        request_body(context={"accountCreatedAt": "1970-01-01T00:00:00Z"}),
    ]
    for body in bad_bodies:
        response = client.post("/api/v1/antifraud/analyze", json=body, headers=service_auth)
        assert response.status_code == 422, body
        assert response.get_json()["error"]["code"] == "VALIDATION_ERROR"
        assert response.get_json()["error"]["details"]["fields"]
    malformed = client.post(
        "/api/v1/antifraud/analyze", data="{", headers={**service_auth, "Content-Type": "application/json"}
    )
    assert malformed.status_code == 400
    assert count_rows() == before


def test_analyze_needs_the_service_scope(client, user_auth, admin_auth, make_token, request_body):
    body = request_body()
    assert client.post("/api/v1/antifraud/analyze", json=body).status_code == 401
    for headers in (
        user_auth,
        admin_auth,
        {"Authorization": f"Bearer {make_token(roles=(), scopes=('keys:activate',))}"},
    ):
        response = client.post("/api/v1/antifraud/analyze", json=body, headers=headers)
        assert response.status_code == 403
        assert response.get_json()["error"]["code"] == "FORBIDDEN"


def test_idempotency_key_replays_the_assessment(client, service_auth, count_rows, request_body):
    body = request_body()
    headers = {**service_auth, "Idempotency-Key": str(uuid.uuid4())}
    first = client.post("/api/v1/antifraud/analyze", json=body, headers=headers)
    second = client.post("/api/v1/antifraud/analyze", json=body, headers=headers)
    assert first.get_json() == second.get_json()
    assert count_rows(user_id=uuid.UUID(body["userId"])) == 1


def test_redis_down_scores_in_degraded_mode(settings, service_auth, request_body):
    from antifraud.app import create_app

    app = create_app(settings.model_copy(update={"redis_url": "redis://127.0.0.1:1/0"}))
    try:
        response = app.test_client().post(
            "/api/v1/antifraud/analyze", json=request_body(), headers=service_auth
        )
        assert response.status_code == 200
        score = response.get_json()
        assert score["degraded"] is True
        assert any("degraded mode" in reason for reason in score["reasons"])
    finally:
        app.extensions["antifraud"].db.dispose()
