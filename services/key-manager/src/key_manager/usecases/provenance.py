"""A key's provenance: key-manager's own records plus distribution's (the channel) and
activation-gateway's (the activation and its fraud outcome), each asked through its adapter. A
neighbour that cannot answer leaves its part out and is named in ``incomplete``: support still
gets what key-manager knows."""

from __future__ import annotations

import logging

from sqlalchemy import Row
from sqlalchemy.orm import Session

from key_manager.clients import SourceUnavailable
from key_manager.context import KeyManager
from key_manager.db import audit as audit_repo
from key_manager.db import batches as batches_repo
from key_manager.db import disputes as disputes_repo
from key_manager.db import store as store_repo
from key_manager.domain.provenance import assemble

log = logging.getLogger("key_manager.provenance")


def provenance(km: KeyManager, session: Session, key: Row) -> dict:
    """``key``: the key's row (access already checked)."""
    batch = batches_repo.get_batch(session, key.batch_id)
    history = audit_repo.key_history(session, key.id, limit=200)
    dispute = disputes_repo.disputes_of(session, [key.id]).get(key.id)
    store_order = (
        store_repo.get_order(session, key.order_id) if key.order_id and key.retailer_id is None else None
    )
    incomplete: list[str] = []
    channel = activation = None
    if key.retailer_id is not None or key.allocation_id is not None:
        if km.distribution is None:
            incomplete.append("distribution")
        else:
            try:
                channel = km.distribution.key_channel(key.id, key.allocation_id)
            except SourceUnavailable as exc:
                log.warning("provenance without distribution: %s", exc, extra={"keyId": str(key.id)})
                incomplete.append("distribution")
    if key.activation_id is not None:
        if km.activations is None:
            incomplete.append("activation-gateway")
        else:
            try:
                activation = km.activations.activation(key.activation_id)
            except SourceUnavailable as exc:
                log.warning("provenance without activation-gateway: %s", exc, extra={"keyId": str(key.id)})
                incomplete.append("activation-gateway")
    return assemble(
        key=key._mapping,
        batch=batch._mapping,
        history=[row._mapping for row in history],
        dispute=dispute._mapping if dispute is not None else None,
        store_order=store_order._mapping if store_order is not None else None,
        channel=channel,
        activation=activation,
        incomplete=incomplete,
    )
