"""Chargebacks of a retailer's orders: the charged-back keys not yet redeemed are revoked at
once, the activated ones stay activated and are disputed (activation-gateway marks their
activations disputed from ``key.disputed``); and the disputes of a refunded store order's
redeemed keys, the same way."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from sqlalchemy import Row
from sqlalchemy.orm import Session

from gamekeys_platform.refusals import Refusal
from key_manager import events
from key_manager.context import KeyManager
from key_manager.db import disputes as disputes_repo
from key_manager.db import keys as keys_repo
from key_manager.domain.states import KeyStatus
from key_manager.usecases.sales import retailer_keys

# Keys a chargeback revokes: sold, or held for a fraud review of a sold key.
CHARGEABLE = frozenset({KeyStatus.SOLD, KeyStatus.PENDING_REVIEW})


@dataclass(frozen=True)
class ChargedBack:
    revoked: list[uuid.UUID]
    disputed: list[uuid.UUID]


def charge_back(
    km: KeyManager,
    session: Session,
    *,
    chargeback_id: uuid.UUID,
    retailer_id: uuid.UUID,
    order_id: str,
    key_ids: list[uuid.UUID],
    reason: str,
    actor: str,
    request_id: str | None,
) -> ChargedBack:
    """All or nothing. The keys are locked in id order first (as activation locks its key), so
    a redemption racing the chargeback either committed first (the key is disputed) or runs
    after and finds it revoked: exactly one of the two. Refused, changing nothing: keys that do
    not exist or are another retailer's (KEY_NOT_FOUND / RETAILER_NOT_AUTHORIZED), keys not of
    this order (KEY_NOT_FOUND), keys revoked or expired already (KEY_REVOKED / KEY_EXPIRED),
    keys disputed already (CONFLICT). One key.charged_back, and a key.disputed per activated key."""
    rows = retailer_keys(session, retailer_id, key_ids)
    other_order = [str(k) for k, row in rows.items() if row.order_id != order_id]
    if other_order:
        raise Refusal("KEY_NOT_FOUND", "some keys are not part of this order", {"keyIds": other_order[:50]})
    for row in rows.values():
        if row.status == KeyStatus.REVOKED:
            raise Refusal("KEY_REVOKED", "the key has been revoked already", {"keyId": str(row.id)})
        if row.status == KeyStatus.EXPIRED:
            raise Refusal("KEY_EXPIRED", "the key has expired", {"keyId": str(row.id)})
        if row.status not in CHARGEABLE and row.status != KeyStatus.ACTIVATED:
            raise Refusal(
                "CONFLICT",
                f"a {row.status} key was not sold",
                {"keyId": str(row.id), "currentStatus": row.status},
            )
    activated = sorted(k for k, row in rows.items() if row.status == KeyStatus.ACTIVATED)
    already = disputes_repo.disputes_of(session, activated)
    if already:
        raise Refusal(
            "CONFLICT",
            "some activated keys are disputed already",
            {"reason": "KEY_ALREADY_DISPUTED", "keyIds": sorted(str(k) for k in already)[:50]},
        )
    revoked = sorted(k for k, row in rows.items() if row.status in CHARGEABLE)
    if revoked:
        keys_repo.bulk_transition(
            session,
            revoked,
            rows,
            KeyStatus.REVOKED,
            actor=actor,
            operation="chargeback",
            reason=f"charged back (order {order_id}): {reason}",
            request_id=request_id,
            values={"hold_id": None, "held_from_status": None},
        )
    dispute(
        km,
        session,
        [rows[k] for k in activated],
        source="chargeback",
        reference=str(chargeback_id),
        retailer_id=retailer_id,
        order_id=order_id,
        reason=reason,
        actor=actor,
    )
    km.outbox.add(
        session,
        events.keys_charged_back(
            chargeback_id=chargeback_id,
            retailer_id=retailer_id,
            order_id=order_id,
            revoked=revoked,
            disputed=activated,
            reason=reason,
            actor=actor,
        ),
    )
    return ChargedBack(revoked, activated)


def dispute(
    km: KeyManager,
    session: Session,
    keys: list[Row],
    *,
    source: str,
    reference: str,
    retailer_id: uuid.UUID | None,
    order_id: str | None,
    reason: str,
    actor: str,
) -> list[Row]:
    """Dispute activated keys (their rows): a key_disputes row and a key.disputed each (a key
    disputed before is left as it was). The new disputes."""
    created = disputes_repo.add_disputes(
        session,
        keys,
        source=source,
        reference=reference,
        retailer_id=retailer_id,
        order_id=order_id,
        reason=reason,
        actor=actor,
    )
    by_id = {key.id: key for key in keys}
    for row in created:
        km.outbox.add(session, events.key_disputed(by_id[row.key_id], row))
    return created
