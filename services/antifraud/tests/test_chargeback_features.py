"""What chargebacks reveal, through the consumer into the velocity store and out as features of
the next analysis: disputed activations per account, network and device; a retailer's
chargeback rate; keys of one order redeemed from many countries within minutes. The rules on
them run in shadow mode: hit and recorded, never changing the decision."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

from sqlalchemy import select

from antifraud.consumers import make_handler
from antifraud.db.tables import assessments
from gamekeys_platform.contracts import activations, keys

SHADOW_RULES = {
    "disputed-network-or-device",
    "disputed-account",
    "order-resold-across-countries",
    "retailer-chargeback-rate",
}


def feed(af, *contracts) -> None:
    handler = make_handler(af.velocity)
    with af.db.transaction() as session:
        for data in contracts:
            handler(session, data.to_event())


def disputed_activation(user: str, ip: str, device: str) -> activations.ActivationDisputed:
    activation = uuid.uuid4()
    return activations.ActivationDisputed(
        activation_id=activation,
        transaction_id=activation,
        user_id=user,
        status="disputed",
        key_id=uuid.uuid4(),
        game_id=uuid.uuid4(),
        batch_id=uuid.uuid4(),
        developer_id=uuid.uuid4(),
        key_type="retail",
        key_fingerprint=None,
        region="DE",
        ip_address=ip,
        ip_country="DE",
        device_fingerprint=device,
        platform="windows",
        reason=None,
        assessment_id=None,
        case_id=None,
        review_reason=None,
        occurred_at=datetime.now(UTC),
        activated_at=datetime.now(UTC),
        dispute_source="chargeback",
        dispute_reference=str(uuid.uuid4()),
        dispute_reason="fraud",
        disputed_at=datetime.now(UTC),
    )


def features_of(af, score: dict) -> dict:
    with af.db.transaction() as session:
        return session.execute(
            select(assessments.c.features).where(assessments.c.id == uuid.UUID(score["assessmentId"]))
        ).scalar_one()


def shadow_hits(score: dict) -> set[str]:
    return {hit["id"] for hit in score["rulesHit"] if hit["shadow"]}


def test_disputed_activations_count_against_account_network_and_device(af, analyze, request_body):
    user, device = str(uuid.uuid4()), f"dev-{uuid.uuid4().hex}"
    event = disputed_activation(user, "192.0.2.10", device)
    feed(af, event, event)  # delivered twice: counted once
    feed(
        af,
        disputed_activation(user, "192.0.2.11", device),
        disputed_activation("other", "192.0.2.12", device),
    )
    score = analyze(request_body(userId=user, deviceFingerprint=device, context={"ipAddress": "192.0.2.99"}))
    features = features_of(af, score)
    assert features["account_disputed_activations_90d"] == 2
    assert (
        features["device_disputed_activations_90d"] == 3 and features["subnet_disputed_activations_90d"] == 3
    )
    assert {"disputed-account", "disputed-network-or-device"} <= shadow_hits(score)
    assert score["recommendedAction"] == "ALLOW"  # shadow rules never change the decision
    clean = analyze(request_body(context={"ipAddress": "198.51.100.7"}))
    assert (
        features_of(af, clean)["account_disputed_activations_90d"] == 0
        and not shadow_hits(clean) & SHADOW_RULES
    )


def test_a_retailers_chargeback_rate_and_an_order_resold_across_countries(af, analyze, request_body):
    retailer, order = uuid.uuid4(), f"order-{uuid.uuid4()}"
    sold = [uuid.uuid4() for _ in range(60)]
    feed(
        af,
        keys.KeySold(
            retailer_id=retailer, order_id=order, key_ids=sold[:3], quantity=3, sold_at=datetime.now(UTC)
        ),
        keys.KeySold(
            retailer_id=retailer, order_id="another", key_ids=sold[3:], quantity=57, sold_at=datetime.now(UTC)
        ),
        keys.KeysChargedBack(
            chargeback_id=uuid.uuid4(),
            retailer_id=retailer,
            order_id="another",
            revoked_key_ids=sold[3:5],
            disputed_key_ids=sold[5:6],
            reason="fraud",
            charged_back_by="distribution",
        ),
    )
    scores = [
        analyze(request_body(keyId=str(key), context={"ipAddress": ip, "retailerId": str(retailer)}))
        for key, ip in zip(sold[:3], ("192.0.2.5", "198.51.100.5", "2001:db8::5"), strict=True)
    ]
    first, last = features_of(af, scores[0]), features_of(af, scores[-1])
    assert first["retailer_sold_keys_30d"] == 60 and first["retailer_charged_back_keys_30d"] == 3
    assert first["retailer_chargeback_percent_30d"] == 5 and first["retailer_revoked_keys_24h"] == 2
    assert first["order_distinct_countries_10m"] == 1 and last["order_distinct_countries_10m"] == 3
    assert "retailer-chargeback-rate" in shadow_hits(scores[0])
    assert "order-resold-across-countries" in shadow_hits(scores[-1])
    assert "order-resold-across-countries" not in shadow_hits(scores[0])
