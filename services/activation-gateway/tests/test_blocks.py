"""Block-listed players are refused at step 2 (ACCOUNT_BLOCKED, before the key look-up) from
the gateway's projection of antifraud's blocks: fraud.block_added / fraud.block_lifted through
antifraud's outbox, Kafka and our consumer; expiry honoured; restrictions list them."""

from __future__ import annotations

import time
import uuid
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select

from activation_gateway.consumers import BLOCKS_CONSUMER, block_list_handler
from activation_gateway.db import repository as repo
from activation_gateway.db.tables import blocks as blocks_table
from activation_gateway.domain import blocks
from activation_gateway.domain.lockout import Identities
from gamekeys_platform.events import Event
from gamekeys_platform.outbox import OutboxRelay, kafka_producer
from gamekeys_platform.testing import consumer_in_own_group

API = "/api/v1/activations"


def test_domain_normalises_identities_and_names_the_block():
    user = uuid.uuid4()
    assert blocks.normalize("user", str(user).upper()) == str(user)
    assert blocks.normalize("ip", " 2001:DB8:0::1 ") == "2001:db8::1"
    assert blocks.normalize("device", "Dev-1") == "Dev-1"
    assert blocks.wanted(Identities(str(user), "10.0.0.1", None)) == [("user", str(user)), ("ip", "10.0.0.1")]
    assert blocks.refusal([]) is None
    later = datetime(2030, 1, 2, tzinfo=UTC)
    refusal = blocks.refusal(
        [
            blocks.Block(uuid.uuid4(), "ip", datetime(2030, 1, 1, tzinfo=UTC)),
            blocks.Block(uuid.uuid4(), "device", later),
        ]
    )
    assert refusal.code == "ACCOUNT_BLOCKED"
    assert refusal.details == {"blockedBy": ["device", "ip"], "expiresAt": "2030-01-02T00:00:00.000Z"}
    forever = blocks.refusal(
        [blocks.Block(uuid.uuid4(), "user", None), blocks.Block(uuid.uuid4(), "ip", later)]
    )
    assert forever.details["expiresAt"] is None


@pytest.fixture()
def project(gw):
    """``project(type, data)``: one antifraud.events event through our block list handler."""

    def apply(event_type: str, data: dict) -> None:
        with gw.db.transaction() as session:
            block_list_handler()(session, Event(event_type, "antifraud", data["blockId"], data))
        gw.block_list.refresh()

    return apply


def added(kind: str, value: str, *, expires_at: datetime | None = None) -> dict:
    return {
        "blockId": str(uuid.uuid4()),
        "entityType": kind,
        "value": value,
        "reason": "test",
        "assessmentId": None,
        "expiresAt": expires_at.isoformat().replace("+00:00", "Z") if expires_at else None,
        "createdBy": "support-1",
    }


def test_block_added_and_lifted_through_kafka(
    game, user, redeem, rows, af, af_admin, gw, settings, kafka_servers, client, staff_auth, count_assessments
):
    user_id, auth = user()
    until = datetime.now(UTC) + timedelta(days=7)
    response = af_admin(
        "POST",
        "/blocks",
        {"entityType": "user", "value": user_id, "reason": "chargebacks", "expiresAt": until.isoformat()},
    )
    assert response.status_code == 201, response.get_json()
    block_id = response.get_json()["blockId"]

    relay = OutboxRelay(
        af.db, kafka_producer(kafka_servers, client_id="ag-test-af-relay"), service_name="antifraud"
    )
    consumer = consumer_in_own_group(
        gw.db,
        kafka_servers,
        name=BLOCKS_CONSUMER,
        topics=[settings.antifraud_events_topic],
        handler=block_list_handler(),
    )

    def projected() -> int:
        with gw.db.transaction() as session:
            query = (
                select(func.count()).select_from(blocks_table).where(blocks_table.c.id == uuid.UUID(block_id))
            )
            return session.execute(query).scalar_one()

    def consume_until(expected: int) -> None:
        while relay.relay_once():
            pass
        deadline = time.monotonic() + 40
        while time.monotonic() < deadline and projected() != expected:
            consumer.poll_once(timeout_ms=500)
        assert projected() == expected
        gw.block_list.refresh()

    try:
        consume_until(1)
        key = game.key()
        refused = redeem(key["key"], auth)
        body = refused.get_json()
        assert refused.status_code == 403, body
        assert body["status"] == "blocked" and body["success"] is False and body["keyId"] is None
        assert body["error"]["code"] == "ACCOUNT_BLOCKED"
        assert body["error"]["details"]["blockedBy"] == ["user"]
        assert body["error"]["details"]["expiresAt"].startswith(until.strftime("%Y-%m-%dT%H:%M"))
        # Refused before the key look-up: no row, antifraud not asked, not a counted failure.
        assert rows(user_id=user_id) == [] and count_assessments(user_id) == 0
        dry = client.post(
            f"{API}/validate",
            json={"key": key["key"], "userRegion": "DE", "deviceInfo": {"fingerprint": "d"}},
            headers=auth,
        )
        assert dry.get_json()["valid"] is False and dry.get_json()["error"]["code"] == "ACCOUNT_BLOCKED"

        for who in (auth, staff_auth("support")):
            seen = client.get(f"{API}/users/{user_id}/restrictions", headers=who).get_json()
            assert seen["canRedeem"] is False
            [block] = seen["blocks"]
            assert block["blockId"] == block_id and block["entityType"] == "user"
            assert block["expiresAt"].endswith("Z")
            assert block["reason"] == ("chargebacks" if who is not auth else None)
        assert all(
            not lockout["locked"] and lockout["remaining"] == lockout["limit"] for lockout in seen["lockouts"]
        )

        lifted = af_admin("POST", f"/blocks/{block_id}/lift", {"reason": "appeal granted"})
        assert lifted.status_code == 200, lifted.get_json()
        consume_until(0)
        assert redeem(key["key"], auth).status_code == 200
    finally:
        relay.producer.close(timeout=5)
        consumer.consumer.close()
        consumer.dead_letter_producer.close()


def test_ip_and_device_blocks_and_expiry(game, user, redeem, project, client, random_ip, gw):
    _, auth = user()
    key = game.key()
    ip = random_ip("10")
    project("fraud.block_added", added("ip", ip, expires_at=datetime.now(UTC) + timedelta(hours=1)))
    by_ip = redeem(key["key"], auth, ip=ip)
    assert by_ip.status_code == 403 and by_ip.get_json()["error"]["details"]["blockedBy"] == ["ip"]
    assert redeem(key["key"], auth, ip=random_ip("10")).status_code == 200  # another address passes

    _, auth = user()
    device = f"dev-{uuid.uuid4().hex}"
    block = added("device", device)
    project("fraud.block_added", block)
    project("fraud.block_added", block)  # the same block twice (no inbox in this test): one row
    other_key = game.key()
    by_device = redeem(other_key["key"], auth, device=device)
    assert by_device.status_code == 403 and by_device.get_json()["error"]["details"] == {
        "blockedBy": ["device"],
        "expiresAt": None,
    }
    lifted = {"reason": None, "liftedBy": "support-1", "liftedAt": "2030-01-01T00:00:00.000Z"}
    project(
        "fraud.block_lifted", {"blockId": block["blockId"], "entityType": "device", "value": device, **lifted}
    )
    assert redeem(other_key["key"], auth, device=device).status_code == 200

    # An expired block refuses nothing, even before the worker purges it.
    _, auth = user()
    expiring = added("device", f"dev-{uuid.uuid4().hex}", expires_at=datetime.now(UTC) + timedelta(seconds=1))
    project("fraud.block_added", expiring)
    third = game.key()
    assert redeem(third["key"], auth, device=expiring["value"]).status_code == 403
    time.sleep(1.2)
    assert redeem(third["key"], auth, device=expiring["value"]).status_code == 200
    with gw.db.transaction() as session:  # the worker's purge
        assert repo.purge_expired_blocks(session) >= 1
        assert repo.blocks_in_force(session, [("device", expiring["value"])]) == []


def test_unknown_entity_type_is_refused_by_the_handler(project):
    with pytest.raises(ValueError):
        project("fraud.block_added", added("planet", "x"))
