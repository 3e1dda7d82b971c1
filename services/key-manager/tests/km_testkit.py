"""Helpers of key-manager's tests: ordering a batch through the API, running the worker's
generator until it has nothing left, a key manager whose vault is a test double, and the events
in its outbox. (A module with a name of its own: every service's tests share one interpreter.)"""

from __future__ import annotations

import dataclasses

from sqlalchemy import select

from gamekeys_platform import contracts
from gamekeys_platform.events import Event
from key_manager.context import KeyManager
from key_manager.domain.vault import KeyVault
from key_manager.generator import BatchGenerator


def create(client, studio, quantity, role="admin", **fields) -> str:
    """POST /batches as ``role`` of ``studio``; the new batch's id."""
    body = {"gameId": str(studio.game_id), "keyType": "retail", "quantity": quantity, **fields}
    response = client.post("/api/v1/keys/batches", json=body, headers=studio.auth(role))
    assert response.status_code == 202, response.get_json()
    return response.get_json()["batchId"]


def run_generator(km: KeyManager, **kwargs) -> list:
    """Run the batch generator until no batch is waiting; the ids of the batches it took."""
    generator = BatchGenerator(km, **kwargs)
    done = []
    while (batch_id := generator.run_once()) is not None:
        done.append(batch_id)
    return done


def with_vault(km: KeyManager, vault_class: type[KeyVault]) -> KeyManager:
    """``km`` with a vault of ``vault_class`` (a KeyVault subclass) on ``km``'s own keys."""
    vault = vault_class(
        pepper=km.settings.lookup_pepper,
        encryption_keys=km.settings.encryption_keys,
        active_key_id=km.settings.key_encryption_active_key_id,
    )
    return dataclasses.replace(km, vault=vault)


def outbox_events(km: KeyManager, event_type: str, subject: str | None = None) -> list[dict]:
    """The data of the outbox's events of ``event_type`` (about ``subject`` if given), oldest
    first, each checked against its contract."""
    table = km.db.tables.outbox
    query = select(table.c.payload).where(table.c.event_type == event_type).order_by(table.c.seq)
    if subject is not None:
        query = query.where(table.c.message_key == subject)
    with km.db.transaction() as session:
        events = [Event.from_dict(payload) for payload in session.execute(query).scalars()]
    for event in events:
        contracts.load(event)
    return [event.data for event in events]
