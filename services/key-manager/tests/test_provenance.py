"""A key's provenance against the real neighbours: distribution (its app on a local server, fed
through its own API: retailer, allocation, fetch, sale, chargeback) and activation-gateway (its
app on a local server, the activation record as a redemption leaves it). The owning studio,
support and admins read it; others 404; support's look-up by the plaintext key is audited,
rate-limited and keeps the key out of every answer and log line; a neighbour that cannot answer
leaves its part out and says so."""

from __future__ import annotations

import dataclasses
import logging
import uuid
from datetime import UTC, datetime
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from sqlalchemy import select

from activation_gateway.app import create_app as create_gateway
from activation_gateway.db import repository as gateway_repo
from activation_gateway.settings import get_settings as gateway_settings
from distribution.app import create_app as create_distribution
from distribution.settings import get_settings as distribution_settings
from gamekeys_platform.migrations import upgrade_to_head
from gamekeys_platform.testing import free_port, serving
from key_manager.clients.activation_gateway import ActivationGatewayClient
from key_manager.clients.distribution import DistributionClient
from key_manager.db.tables import key_lookups

SERVICES = Path(__file__).resolve().parents[2]
DIST = "/api/v1/distribution"


@pytest.fixture(scope="module")
def neighbours(platform_env, postgres_url, live_server, run_id, tmp_path_factory):
    """distribution and activation-gateway apps on local servers, both calling this key-manager."""
    upgrade_to_head(SERVICES / "distribution" / "alembic.ini", postgres_url)
    upgrade_to_head(SERVICES / "activation-gateway" / "alembic.ini", postgres_url)
    signing = tmp_path_factory.mktemp("retailer-keys") / "retailer.pem"
    signing.write_bytes(
        rsa.generate_private_key(public_exponent=65537, key_size=2048).private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    dist = create_distribution(
        distribution_settings(
            **platform_env,
            key_manager_url=live_server,
            retailer_token_signing_key_file=signing,
            distribution_events_topic=f"test.km-prov.{run_id}.distribution.events",
        )
    )
    gateway = create_gateway(
        gateway_settings(
            **platform_env,
            key_manager_url=live_server,
            antifraud_url=f"http://127.0.0.1:{free_port()}",
            activations_events_topic=f"test.km-prov.{run_id}.activations.events",
        )
    )
    with serving(dist) as dist_url, serving(gateway) as gateway_url:
        yield dist, dist_url, gateway, gateway_url
    dist.extensions["distribution"].db.dispose()
    gateway.extensions["activation_gateway"].db.dispose()


@pytest.fixture()
def wired(app, km, settings, neighbours, monkeypatch):
    """This key-manager reading its neighbours for provenance."""
    _, dist_url, _, gateway_url = neighbours
    configured = settings.model_copy(
        update={"distribution_url": dist_url, "activation_gateway_url": gateway_url}
    )
    replaced = dataclasses.replace(
        km,
        distribution=DistributionClient.from_settings(configured),
        activations=ActivationGatewayClient.from_settings(configured),
    )
    monkeypatch.setitem(app.extensions, "key_manager", replaced)
    return replaced


@pytest.fixture()
def story(gen, studio, admin_auth, service_auth, neighbours, wired):
    """Three keys sold by a retailer in one order at 12.50 EUR; the first activated through the
    gateway (fraud score 12) then, with the second, charged back: the first disputed, the second
    revoked; the third still sold."""
    dist = neighbours[0]
    generated = {k["id"]: k["key"] for k in gen(studio, 3).get_json()["keys"]}
    client = dist.test_client()
    retailer = client.post(
        f"{DIST}/retailers",
        json={
            "name": "Grey Keys Ltd",
            "contactInfo": {"email": "ops@grey.example"},
            "commissionRate": "0.10",
            "allowedGameIds": [str(studio.game_id)],
        },
        headers=admin_auth,
    ).get_json()
    allocation = client.post(
        f"{DIST}/allocations",
        json={
            "retailerId": retailer["id"],
            "gameId": str(studio.game_id),
            "quantity": 3,
            "keyType": "retail",
            "pricing": {"amount": "14.99", "currency": "EUR"},
        },
        headers=admin_auth,
    )
    assert allocation.status_code == 201, allocation.get_json()
    credentials = retailer["apiCredentials"]
    token = client.post(
        f"{DIST}/oauth/token",
        data={
            "grant_type": "client_credentials",
            "client_id": credentials["clientId"],
            "client_secret": credentials["clientSecret"],
        },
    ).get_json()["access_token"]
    retailer_auth = {"Authorization": f"Bearer {token}"}
    keys = sorted(
        k["keyId"] for k in client.get(f"{DIST}/retailer/keys", headers=retailer_auth).get_json()["items"]
    )
    order = f"order-{uuid.uuid4()}"
    sale = client.post(
        f"{DIST}/retailer/sales",
        json={
            "orderId": order,
            "keyIds": keys,
            "price": {"amount": "12.50", "currency": "EUR"},
            "soldAt": datetime.now(UTC).isoformat(),
        },
        headers=retailer_auth,
    )
    assert sale.status_code == 201, sale.get_json()
    activation_id = uuid.uuid4()
    return retailer, retailer_auth, order, keys, generated, activation_id, client


def redeem(app, service_auth, gateway, key_id: str, activation_id: uuid.UUID) -> None:
    """What a redemption through the gateway leaves: key-manager's activation and the gateway's
    record with its fraud score."""
    response = app.test_client().post(
        "/internal/v1/keys/activate",
        json={"keyId": key_id, "userId": "player-7", "activationId": str(activation_id), "userRegion": "DE"},
        headers=service_auth("keys:activate"),
    )
    assert response.status_code == 200, response.get_json()
    gw = gateway.extensions["activation_gateway"]
    with gw.db.transaction() as session:
        gateway_repo.add(
            session,
            {
                "id": activation_id,
                "user_id": "player-7",
                "status": "activated",
                "key_id": uuid.UUID(key_id),
                "user_region": "DE",
                "ip_address": "192.0.2.7",
                "ip_country": "DE",
                "device_fingerprint": "dev-7",
                "platform": "windows",
                "risk_score": 12,
                "assessment_id": uuid.uuid4(),
                "completed_at": datetime.now(UTC),
            },
        )


def test_provenance_of_a_charged_back_key(
    app, client, story, studio, service_auth, neighbours, make_token, caplog
):
    _, _, gateway, _ = neighbours
    retailer, retailer_auth, order, keys, generated, activation_id, dist_client = story
    redeem(app, service_auth, gateway, keys[0], activation_id)
    chargeback = dist_client.post(
        f"{DIST}/retailer/chargebacks",
        json={"orderId": order, "keyIds": keys[:2], "reason": "fraud"},
        headers=retailer_auth,
    )
    assert chargeback.status_code == 201, chargeback.get_json()

    caplog.set_level(logging.INFO)
    response = client.get(f"/api/v1/keys/{keys[0]}/provenance", headers=studio.auth("finance"))
    assert response.status_code == 200, response.get_json()
    trace = response.get_json()
    assert trace["incomplete"] == [] and trace["status"] == "activated"
    assert trace["batch"]["batchId"] and trace["batch"]["createdAt"]
    assert trace["allocation"]["retailerId"] == retailer["id"]
    assert trace["allocation"]["retailerName"] == "Grey Keys Ltd" and trace["allocation"]["deliveredAt"]
    assert trace["sale"]["orderId"] == order and trace["sale"]["price"] == {
        "amount": "12.50",
        "currency": "EUR",
    }
    assert trace["sale"]["channel"] == "retailer" and trace["sale"]["soldAt"]
    assert trace["chargeback"]["outcome"] == "disputed" and trace["chargeback"]["reason"] == "fraud"
    activation = trace["activation"]
    assert activation["activationId"] == str(activation_id) and activation["region"] == "DE"
    assert activation["fraud"]["score"] == 12 and activation["fraud"]["outcome"] == "allowed"
    assert (
        trace["dispute"]["source"] == "chargeback"
        and trace["dispute"]["reference"] == chargeback.get_json()["chargebackId"]
    )
    steps = [step["step"] for step in trace["steps"]]
    for expected in ("generated", "allocated", "delivered", "sold", "activated", "charged_back", "disputed"):
        assert expected in steps, steps
    assert [step["at"] for step in trace["steps"]] == sorted(step["at"] for step in trace["steps"])
    revoked = client.get(f"/api/v1/keys/{keys[1]}/provenance", headers=studio.auth()).get_json()
    assert revoked["status"] == "revoked" and revoked["chargeback"]["outcome"] == "revoked"
    assert revoked["activation"] is None and revoked["dispute"] is None
    # Support and admins read it; another studio, or a player, does not.
    support = {"Authorization": f"Bearer {make_token(roles=('support',))}"}
    assert client.get(f"/api/v1/keys/{keys[0]}/provenance", headers=support).status_code == 200
    stranger = {"Authorization": f"Bearer {make_token(sub=str(uuid.uuid4()), roles=('developer',))}"}
    assert client.get(f"/api/v1/keys/{keys[0]}/provenance", headers=stranger).status_code == 404
    player = {"Authorization": f"Bearer {make_token(roles=('user',))}"}
    assert client.get(f"/api/v1/keys/{keys[0]}/provenance", headers=player).status_code == 403
    assert client.get(f"/api/v1/keys/{uuid.uuid4()}/provenance", headers=support).status_code == 404
    assert not any(key in response.get_data(as_text=True) for key in generated.values())
    assert not any(key in record.getMessage() for record in caplog.records for key in generated.values())


def test_support_looks_a_key_up_by_its_plaintext(app, client, km, story, make_token, caplog, monkeypatch):
    _, _, _, keys, generated, _, _ = story
    plaintext = generated[keys[2]]
    support_user = f"support-{uuid.uuid4()}"
    support = {"Authorization": f"Bearer {make_token(sub=support_user, roles=('support',))}"}
    caplog.set_level(logging.INFO)
    found = client.post(
        "/api/v1/keys/provenance/lookup",
        json={"key": plaintext.lower(), "reason": "ticket 4711"},
        headers=support,
    )
    assert found.status_code == 200, found.get_json()
    assert found.get_json()["keyId"] == keys[2] and found.get_json()["sale"]["price"]["amount"] == "12.50"
    unknown = client.post(
        "/api/v1/keys/provenance/lookup", json={"key": "2345-6789-ABCD-EFGH"}, headers=support
    )
    assert unknown.status_code in (400, 404)
    developer = {"Authorization": f"Bearer {make_token(roles=('developer',))}"}
    assert (
        client.post("/api/v1/keys/provenance/lookup", json={"key": plaintext}, headers=developer).status_code
        == 403
    )
    with app.extensions["key_manager"].db.transaction() as session:
        audits = session.execute(
            select(key_lookups.c.key_id, key_lookups.c.reason).where(key_lookups.c.actor == support_user)
        ).all()
    assert sorted(audits, key=str) == sorted([(uuid.UUID(keys[2]), "ticket 4711"), (None, None)], key=str)
    everything = found.get_data(as_text=True) + "".join(
        r.getMessage() + str(r.__dict__) for r in caplog.records
    )
    assert plaintext not in everything and plaintext.lower() not in everything
    # The caller's limit: over it, 429 with Retry-After.
    current = app.extensions["key_manager"]
    limited_settings = current.settings.model_copy(update={"key_lookup_rate_limit": 2})
    monkeypatch.setitem(
        app.extensions, "key_manager", dataclasses.replace(current, settings=limited_settings)
    )
    limited = client.post("/api/v1/keys/provenance/lookup", json={"key": plaintext}, headers=support)
    assert limited.status_code == 429 and limited.headers["Retry-After"]


def test_provenance_without_its_neighbours_says_what_is_missing(app, client, km, story, studio, monkeypatch):
    _, _, _, keys, _, _, _ = story
    down = f"http://127.0.0.1:{free_port()}"
    configured = km.settings.model_copy(update={"distribution_url": down, "activation_gateway_url": down})
    monkeypatch.setitem(
        app.extensions,
        "key_manager",
        dataclasses.replace(km, distribution=DistributionClient.from_settings(configured)),
    )
    trace = client.get(f"/api/v1/keys/{keys[2]}/provenance", headers=studio.auth()).get_json()
    assert trace["incomplete"] == ["distribution"]
    assert trace["allocation"]["allocationId"] and trace["sale"]["orderId"] and trace["sale"]["price"] is None
