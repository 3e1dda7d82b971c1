"""Cancelling a batch: pending or generating only; the worker keeps no keys; one event."""

from __future__ import annotations

import uuid

from km_testkit import create, run_generator, with_vault
from sqlalchemy import func, select

from key_manager.db.tables import batches, keys
from key_manager.domain.vault import KeyVault


def cancel(client, batch_id, headers, **body):
    return client.post(f"/api/v1/keys/batches/{batch_id}/cancel", json=body, headers=headers)


def key_count(km, batch_id) -> int:
    with km.db.transaction() as session:
        return session.execute(
            select(func.count()).where(keys.c.batch_id == uuid.UUID(batch_id))
        ).scalar_one()


def cancelled_events(km, batch_id) -> list[dict]:
    """The ``data`` of the batch's batch.cancelled events in the outbox."""
    outbox = km.db.tables.outbox
    with km.db.transaction() as session:
        return [
            row.payload["data"]
            for row in session.execute(
                select(outbox.c.payload).where(
                    outbox.c.message_key == batch_id, outbox.c.event_type == "batch.cancelled"
                )
            )
        ]


def test_a_pending_batch_is_cancelled_and_never_generated(client, studio, km):
    batch_id = create(client, studio, 2_000)
    response = cancel(client, batch_id, studio.auth("developer"), reason="ordered the wrong type")
    assert response.status_code == 200
    body = response.get_json()
    assert body["status"] == "cancelled" and body["cancelReason"] == "ordered the wrong type"
    assert body["cancelledAt"].endswith("Z") and body["generatedKeys"] == 0
    assert uuid.UUID(batch_id) not in run_generator(km)
    assert key_count(km, batch_id) == 0
    # A retry answers the cancelled batch again, with no second event.
    again = cancel(client, batch_id, studio.auth())
    assert again.status_code == 200 and again.get_json()["status"] == "cancelled"
    [data] = cancelled_events(km, batch_id)
    assert data["previousStatus"] == "pending" and data["quantity"] == 2_000
    assert data["reason"] == "ordered the wrong type" and data["cancelledBy"] == studio.users["developer"]
    listed = client.get(
        "/api/v1/keys/batches", query_string={"status": "cancelled"}, headers=studio.auth()
    ).get_json()
    assert [item["batchId"] for item in listed["items"]] == [batch_id]


def test_a_batch_cancelled_while_generating_stops_and_leaves_no_keys(client, studio, km):
    batch_id = create(client, studio, 5_000)

    class CancellingVault(KeyVault):
        """Cancels the batch through the API while the second chunk is being written."""

        chunks = 0

        def encrypt_many(self, row_ids, canonicals):
            CancellingVault.chunks += 1
            if CancellingVault.chunks == 2:
                response = cancel(client, batch_id, studio.auth(), reason="stop")
                assert response.status_code == 200 and response.get_json()["status"] == "cancelled"
            return super().encrypt_many(row_ids, canonicals)

    assert run_generator(with_vault(km, CancellingVault), chunk_size=1_000) == [uuid.UUID(batch_id)]
    assert CancellingVault.chunks == 2  # it stopped at the next progress step
    batch = client.get(f"/api/v1/keys/batches/{batch_id}", headers=studio.auth()).get_json()
    assert batch["status"] == "cancelled" and batch["generatedKeys"] == 0
    assert key_count(km, batch_id) == 0
    [data] = cancelled_events(km, batch_id)
    assert data["previousStatus"] == "generating" and data["batchId"] == batch_id
    # Nothing else for the worker to do with it.
    assert run_generator(km) == []


def test_finished_batches_cannot_be_cancelled(client, studio, km, admin_auth):
    batch_id = create(client, studio, 10)
    run_generator(km)
    refused = cancel(client, batch_id, studio.auth())
    assert refused.status_code == 409
    error = refused.get_json()["error"]
    assert error["code"] == "CONFLICT" and error["details"] == {"status": "completed"}
    assert "revoke" in error["message"]
    with km.db.transaction() as session:
        session.execute(batches.update().where(batches.c.id == uuid.UUID(batch_id)).values(status="failed"))
    assert cancel(client, batch_id, admin_auth).get_json()["error"]["details"] == {"status": "failed"}
    assert key_count(km, batch_id) == 10 and cancelled_events(km, batch_id) == []


def test_who_may_cancel_and_bad_input(client, studio, make_studio, km, admin_auth):
    batch_id = create(client, studio, 10)
    assert cancel(client, batch_id, studio.auth("finance")).status_code == 403
    assert cancel(client, batch_id, make_studio().auth()).status_code == 404
    assert cancel(client, uuid.uuid4(), studio.auth()).status_code == 404
    bad = cancel(client, batch_id, studio.auth(), reason="x", extra=1)
    assert bad.status_code == 422 and bad.get_json()["error"]["code"] == "VALIDATION_ERROR"
    assert cancel(client, batch_id, studio.auth(), reason="").status_code == 422
    assert cancelled_events(km, batch_id) == []
    assert cancel(client, batch_id, admin_auth).get_json()["status"] == "cancelled"
