"""Asynchronous batches: the worker's generator, progress, failures, export, revocation."""

from __future__ import annotations

import csv
import io
import random
import time
import uuid

import pytest
from km_testkit import create, run_generator, with_vault
from sqlalchemy import func, select

from key_manager.db.tables import batches, key_exports, key_transitions, keys
from key_manager.domain import codec
from key_manager.domain.batches import key_id_range
from key_manager.domain.vault import KeyVault
from key_manager.generator import BatchGenerator


def test_a_100000_key_batch_completes_with_100000_distinct_keys(client, studio, km):
    batch_id = create(client, studio, 100_000)
    started = time.perf_counter()
    assert uuid.UUID(batch_id) in run_generator(km)
    elapsed = time.perf_counter() - started
    batch = client.get(f"/api/v1/keys/batches/{batch_id}", headers=studio.auth("finance")).get_json()
    assert batch["status"] == "completed" and batch["progress"] == 1.0
    assert batch["generatedKeys"] == 100_000 and batch["keyCounts"] == {"generated": 100_000}
    low, high = key_id_range(uuid.UUID(batch_id))
    with km.db.transaction() as session:
        distinct = session.execute(
            select(
                func.count(func.distinct(keys.c.lookup_hash)), func.count(func.distinct(keys.c.ciphertext))
            ).where(keys.c.id.between(low, high), keys.c.batch_id == uuid.UUID(batch_id))
        ).one()
    assert tuple(distinct) == (100_000, 100_000)
    print(f"\n100,000-key batch generated in {elapsed:.2f} s")

    # Revoking it is one operation; activated keys would stay activated.
    started = time.perf_counter()
    revoked = client.post(
        f"/api/v1/keys/batches/{batch_id}/revoke", json={"reason": "leaked"}, headers=studio.auth("developer")
    )
    print(f"100,000-key batch revoked in {time.perf_counter() - started:.2f} s")
    assert revoked.status_code == 200 and revoked.get_json()["revokedKeys"] == 100_000
    with km.db.transaction() as session:
        history = session.execute(
            select(func.count()).where(
                key_transitions.c.to_status == "revoked", key_transitions.c.reason == "leaked"
            )
        ).scalar_one()
        events = session.execute(
            select(func.count()).where(
                km.db.tables.outbox.c.message_key == batch_id,
                km.db.tables.outbox.c.event_type.in_(("batch.generated", "batch.revoked")),
            )
        ).scalar_one()
    assert history == 100_000
    assert events == 2  # one event per bulk operation, not one per key
    again = client.post(
        f"/api/v1/keys/batches/{batch_id}/revoke", json={"reason": "x"}, headers=studio.auth()
    )
    assert again.status_code == 409


def test_export_json_pages_and_csv_are_audited(client, studio, km):
    batch_id = create(client, studio, 250, role="marketing", keyType="promotional")
    run_generator(km, chunk_size=100)
    seen, cursor = [], None
    while True:
        query = {"limit": 100, **({"cursor": cursor} if cursor else {})}
        page = client.get(
            f"/api/v1/keys/batches/{batch_id}/keys", query_string=query, headers=studio.auth("marketing")
        )
        assert page.status_code == 200 and page.headers["Cache-Control"] == "no-store"
        seen += page.get_json()["items"]
        cursor = page.get_json()["nextCursor"]
        if cursor is None:
            break
    assert len(seen) == 250 and len({k["key"] for k in seen}) == 250
    assert all(codec.normalize(k["key"]) for k in seen)
    exported = client.get(
        f"/api/v1/keys/batches/{batch_id}/keys", headers={**studio.auth("developer"), "Accept": "text/csv"}
    )
    assert exported.status_code == 200 and exported.mimetype == "text/csv"
    rows = list(csv.DictReader(io.StringIO(exported.get_data(as_text=True))))
    assert sorted(r["key"] for r in rows) == sorted(k["key"] for k in seen)
    with km.db.transaction() as session:
        audits = session.execute(
            select(key_exports.c.actor, key_exports.c.format).where(
                key_exports.c.batch_id == uuid.UUID(batch_id)
            )
        ).all()
    assert len(audits) == 4
    assert {(a.actor, a.format) for a in audits} == {
        (studio.users["marketing"], "json"),
        (studio.users["developer"], "csv"),
    }
    # Finance reads but does not export; a bad cursor is a validation error.
    assert (
        client.get(f"/api/v1/keys/batches/{batch_id}/keys", headers=studio.auth("finance")).status_code == 403
    )
    bad = client.get(f"/api/v1/keys/batches/{batch_id}/keys?cursor=%%%", headers=studio.auth())
    assert bad.status_code == 422


def test_listing_and_cross_studio_access(client, studio, make_studio, km, admin_auth, make_token):
    mine = [create(client, studio, 1) for _ in range(3)]
    run_generator(km)
    other = make_studio()
    listed = client.get(
        "/api/v1/keys/batches", query_string={"limit": 2}, headers=studio.auth("finance")
    ).get_json()
    second = client.get(
        "/api/v1/keys/batches",
        query_string={"limit": 2, "cursor": listed["nextCursor"]},
        headers=studio.auth(),
    ).get_json()
    assert sorted(b["batchId"] for b in listed["items"] + second["items"]) == sorted(mine)
    assert second["nextCursor"] is None
    assert client.get("/api/v1/keys/batches", headers=other.auth()).get_json()["items"] == []
    for path in (f"/api/v1/keys/batches/{mine[0]}", f"/api/v1/keys/batches/{mine[0]}/keys"):
        assert client.get(path, headers=other.auth()).status_code == 404
    assert (
        client.post(
            f"/api/v1/keys/batches/{mine[0]}/revoke", json={"reason": "x"}, headers=other.auth()
        ).status_code
        == 404
    )
    assert client.get(f"/api/v1/keys/batches/{mine[0]}", headers=admin_auth).status_code == 200
    support = {"Authorization": f"Bearer {make_token(roles=('support',))}"}
    assert client.get(f"/api/v1/keys/batches/{mine[0]}", headers=support).status_code == 200
    assert client.get(f"/api/v1/keys/batches/{mine[0]}/keys", headers=support).status_code == 403


def test_a_failed_generation_marks_the_batch_failed_and_leaves_no_keys(client, studio, km):
    batch_id = create(client, studio, 5_000)

    class FlakyVault(KeyVault):
        calls = 0

        def encrypt_many(self, row_ids, canonicals):
            FlakyVault.calls += 1
            if FlakyVault.calls > 2:  # fails after some keys were already written
                raise OSError("entropy source gone")
            return super().encrypt_many(row_ids, canonicals)

    run_generator(with_vault(km, FlakyVault), chunk_size=1_000)
    batch = client.get(f"/api/v1/keys/batches/{batch_id}", headers=studio.auth()).get_json()
    assert batch["status"] == "failed" and batch["failureReason"] == "generation failed (OSError)"
    assert batch["generatedKeys"] == 0
    with km.db.transaction() as session:
        left = session.execute(
            select(func.count()).where(keys.c.batch_id == uuid.UUID(batch_id))
        ).scalar_one()
        failed_events = session.execute(
            select(func.count()).where(
                km.db.tables.outbox.c.message_key == batch_id,
                km.db.tables.outbox.c.event_type == "batch.failed",
            )
        ).scalar_one()
    assert left == 0 and failed_events == 1


def test_collisions_are_regenerated_never_surfaced(client, studio, km):
    first = create(client, studio, 300)
    run_generator(km, random_bytes=random.Random(1234).randbytes)
    # The same random stream again: every key of the first chunk collides with the first batch.
    second = create(client, studio, 300)
    run_generator(km, random_bytes=random.Random(1234).randbytes)
    for batch_id in (first, second):
        batch = client.get(f"/api/v1/keys/batches/{batch_id}", headers=studio.auth()).get_json()
        assert batch["status"] == "completed" and batch["keyCounts"] == {"generated": 300}
    with km.db.transaction() as session:
        total, distinct = session.execute(
            select(func.count(), func.count(func.distinct(keys.c.lookup_hash))).where(
                keys.c.batch_id.in_([uuid.UUID(first), uuid.UUID(second)])
            )
        ).one()
    assert total == distinct == 600


def test_progress_is_visible_while_generating(client, studio, km, monkeypatch):
    import key_manager.generator as generator_module

    batch_id = create(client, studio, 3_000)
    seen = []
    real_set_progress = generator_module.batches_repo.set_progress

    def watch(session, batch, generated):
        still_generating = real_set_progress(session, batch, generated)
        session.commit()
        # What a client polling GET /batches/{id} sees while the keys are being written.
        seen.append(client.get(f"/api/v1/keys/batches/{batch_id}", headers=studio.auth()).get_json())
        return still_generating

    monkeypatch.setattr(generator_module.batches_repo, "set_progress", watch)
    BatchGenerator(km, chunk_size=1_000).run_once()
    assert [(b["status"], b["generatedKeys"], b["progress"]) for b in seen] == [
        ("generating", 1_000, 0.3333),
        ("generating", 2_000, 0.6667),
        ("generating", 3_000, 1.0),
    ]
    with km.db.transaction() as session:
        status = session.execute(
            select(batches.c.status).where(batches.c.id == uuid.UUID(batch_id))
        ).scalar_one()
    assert status == "completed"


@pytest.mark.parametrize("status", ["pending", "failed"])
def test_keys_of_an_unfinished_batch_are_not_exportable(client, studio, km, status):
    batch_id = create(client, studio, 10)
    with km.db.transaction() as session:
        session.execute(batches.update().where(batches.c.id == uuid.UUID(batch_id)).values(status=status))
    response = client.get(f"/api/v1/keys/batches/{batch_id}/keys", headers=studio.auth())
    assert response.status_code == 409


def test_the_worker_loop_wakes_on_notify_and_stops(client, studio, km):
    import threading

    generator = BatchGenerator(km)
    thread = threading.Thread(target=generator.run_forever, daemon=True)
    thread.start()
    try:
        time.sleep(0.5)  # listening
        batch_id = create(client, studio, 500)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            batch = client.get(f"/api/v1/keys/batches/{batch_id}", headers=studio.auth()).get_json()
            if batch["status"] == "completed":
                break
            time.sleep(0.05)
        assert batch["status"] == "completed" and batch["keyCounts"] == {"generated": 500}
    finally:
        generator.stop()
        thread.join(timeout=10)
    assert not thread.is_alive()
