"""Key-encryption-key rotation: re-encrypt stored keys under the new active key in bounded,
resumable batches, then the old key can be removed and every key still decrypts."""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest
from pydantic import SecretStr
from sqlalchemy import select, update

from gamekeys_platform.migrations import upgrade_to_head
from gamekeys_platform.testing import fresh_database
from key_manager import reencrypt
from key_manager.app import create_app
from key_manager.db.tables import keys
from key_manager.generator import BatchGenerator

SERVICE_DIR = Path(__file__).resolve().parents[1]


def by_key_id(km) -> dict[str, int]:
    return reencrypt.keys_by_encryption_key(km)


@pytest.fixture()
def own_database(settings, platform_env):
    """Settings, key manager and environment on a database of this test's own: re-encryption
    walks the whole keys table, and the run's shared database also holds keys that other
    services' tests wrote under encryption keys of their own."""
    with fresh_database() as url:
        upgrade_to_head(SERVICE_DIR / "alembic.ini", url)
        own = settings.model_copy(update={"database_url": url})
        app = create_app(own)
        try:
            yield own, app.extensions["key_manager"], {**platform_env, "database_url": url}
        finally:
            app.extensions["key_manager"].db.dispose()


def test_rotation_then_reencryption_lets_the_old_key_go(own_database, studio_in, monkeypatch, capsys):
    settings, km, platform_env = own_database
    studio = studio_in(km)
    # Before the rotation: k1 is the active key.
    old_app = create_app(settings.model_copy(update={"key_encryption_active_key_id": "k1"}))
    old_km = old_app.extensions["key_manager"]
    try:
        old = old_app.test_client()
        body = {"gameId": str(studio.game_id), "keyType": "retail"}
        generated = old.post("/api/v1/keys/generate", json={**body, "quantity": 1_000}, headers=studio.auth())
        assert generated.status_code == 201
        shown = {item["id"]: item["key"] for item in generated.get_json()["keys"]}
        sync_batch = generated.get_json()["batchId"]
        queued = old.post("/api/v1/keys/batches", json={**body, "quantity": 2_500}, headers=studio.auth())
        assert queued.status_code == 202
        generator = BatchGenerator(old_km)
        while generator.run_once() is not None:
            pass
    finally:
        old_km.db.dispose()
    assert by_key_id(km).get("k1", 0) >= 3_500

    # The service's environment, for the command line.
    k2_only = next(
        part for part in settings.key_encryption_keys.get_secret_value().split(",") if part.startswith("k2:")
    )
    for name, value in platform_env.items():
        monkeypatch.setenv(name.upper(), str(value))
    monkeypatch.setenv("KEY_ENCRYPTION_ACTIVE_KEY_ID", "k2")
    monkeypatch.setenv("KEY_LOOKUP_PEPPER", settings.key_lookup_pepper.get_secret_value())
    monkeypatch.setenv("LOG_LEVEL", "WARNING")
    # Dropping k1 before re-encrypting is caught, and changes nothing.
    monkeypatch.setenv("KEY_ENCRYPTION_KEYS", k2_only)
    assert reencrypt.main([]) == 2
    assert "'k1' is not configured: add it back" in capsys.readouterr().err

    # The rotation (k2 active, k1 still listed: the session's settings) and a bounded first run.
    before = by_key_id(km)["k1"]
    seen = []
    assert reencrypt.reencrypt(
        km, batch_size=400, limit=1_500, on_batch=lambda done, _id: seen.append(done)
    ) == (1_500, [])
    assert seen == [400, 800, 1_200, 1_500]
    assert by_key_id(km)["k1"] == before - 1_500

    # Stopped there; the command line resumes and finishes.
    monkeypatch.setenv("KEY_ENCRYPTION_KEYS", settings.key_encryption_keys.get_secret_value())
    assert reencrypt.main(["--batch-size", "700"]) == 0
    output = capsys.readouterr().out
    assert "no key uses k1 any more" in output and "k2:" in output
    assert "k1" not in by_key_id(km)
    assert reencrypt.main(["--status"]) == 0

    # k1 removed from the configuration: every key still decrypts, and shows what it showed.
    new_app = create_app(settings.model_copy(update={"key_encryption_keys": SecretStr(k2_only)}))
    new_km = new_app.extensions["key_manager"]
    try:
        assert new_km.settings.encryption_keys.keys() == {"k2"}
        page = new_app.test_client().get(
            f"/api/v1/keys/batches/{sync_batch}/keys", query_string={"limit": 1_000}, headers=studio.auth()
        )
        assert page.status_code == 200
        assert {item["id"]: item["key"] for item in page.get_json()["items"]} == shown
        with new_km.db.transaction() as session:
            rows = session.execute(select(keys.c.id, keys.c.encryption_key_id, keys.c.ciphertext)).all()
        for row in rows:
            new_km.vault.decrypt(row.encryption_key_id, row.id.bytes, row.ciphertext)
        assert len(rows) >= 3_500
    finally:
        new_km.db.dispose()


def test_a_damaged_key_is_left_and_reported_and_the_others_move_on(own_database, studio_in):
    """One ciphertext that does not authenticate used to stop every run at its batch, so no key
    after it was ever moved: now it stays where it is, reported by id, and the rest move."""
    settings, km, _ = own_database
    studio = studio_in(km)
    old_app = create_app(settings.model_copy(update={"key_encryption_active_key_id": "k1"}))
    try:
        body = {"gameId": str(studio.game_id), "keyType": "retail", "quantity": 6}
        generated = old_app.test_client().post("/api/v1/keys/generate", json=body, headers=studio.auth())
        assert generated.status_code == 201
    finally:
        old_app.extensions["key_manager"].db.dispose()
    ids = sorted(uuid.UUID(item["id"]) for item in generated.get_json()["keys"])
    broken = ids[1]
    with km.db.transaction() as session:
        blob = session.execute(select(keys.c.ciphertext).where(keys.c.id == broken)).scalar_one()
        session.execute(
            update(keys).where(keys.c.id == broken).values(ciphertext=blob[:-1] + bytes([blob[-1] ^ 1]))
        )
    assert reencrypt.reencrypt(km, batch_size=4) == (5, [broken])
    assert by_key_id(km) == {"k1": 1, "k2": 5}


def test_bad_arguments_are_refused(capsys):
    for argv in (["--batch-size", "0"], ["--batch-size", "20000"], ["--pause", "-1"], ["--limit", "x"]):
        try:
            reencrypt.parse_args(argv)
        except SystemExit as exit_:
            assert exit_.code == 2
        else:
            raise AssertionError(f"{argv} was accepted")
