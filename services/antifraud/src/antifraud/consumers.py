"""activations.events and keys.events feed the velocity store (counting is idempotent: members
are event or activation ids, so a redelivered event adds nothing).

- ``activation.failed`` / ``activation.blocked``: a failed attempt by the user / IP / subnet /
  device; a failure for a key that does not exist (KEY_NOT_FOUND, INVALID_KEY_FORMAT) also
  counts as an invalid key for key-space enumeration.
- ``key.activated``: the key counts for the user's keys of its batch. key-manager emits it for
  every activation, also those that do not pass through activation-gateway, so the gateway's
  ``activation.succeeded`` (the same activation again) is not consumed.
- ``key.sold``: the sale time of each key, for ``seconds_since_sale``.
- ``key.returned`` and ``key.revoked`` of a key a retailer sold: the key counts for the
  retailer's ``retailer_revoked_keys_24h`` (a wave of returns or chargebacks means keys bought
  with stolen payment; the retailer's other keys activated meanwhile are suspect). Others
  (revoked by a studio, no retailer) say nothing about an activation and are ignored.

Fields are read leniently (``ipAddress`` or ``ip``, ``reason`` or ``errorCode`` ...), since a
missing optional field must not dead-letter an event that still says something useful.
"""

from __future__ import annotations

import logging
import uuid
from datetime import UTC, datetime
from typing import Any

from sqlalchemy.orm import Session

from antifraud.domain.features import FAILED_KEY_OUTCOMES, INVALID_KEY_OUTCOMES
from antifraud.velocity import Observation, VelocityStore
from gamekeys_platform.events import Event

log = logging.getLogger("antifraud.consumer")


def _text(data: dict[str, Any], *names: str) -> str:
    for name in names:
        value = data.get(name)
        if isinstance(value, str) and value:
            return value[:256]
        if isinstance(value, dict):  # an error object {"code": ...}
            code = value.get("code")
            if isinstance(code, str):
                return code
    return ""


def _time(data: dict[str, Any], name: str, default: datetime) -> datetime:
    value = data.get(name)
    if isinstance(value, str):
        try:
            return datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            pass
    return default


HANDLED_EVENTS = frozenset(
    {
        "activation.failed",
        "activation.blocked",
        "key.activated",
        "key.sold",
        "key.returned",
        "key.revoked",
    }
)


def make_handler(store: VelocityStore):
    def handle(_session: Session, event: Event) -> None:
        data = event.data
        now = event.time.timestamp()
        if event.type in ("activation.failed", "activation.blocked"):
            reason = _text(data, "reason", "errorCode", "error", "code")
            activation = _text(data, "activationId", "transactionId") or str(event.id)
            key_id = _text(data, "keyId")
            store.record_event(
                Observation(
                    attempt_id=activation,
                    user_id=_text(data, "userId"),
                    ip=_text(data, "ipAddress", "ip"),
                    device=_text(data, "deviceFingerprint"),
                    key_id=key_id,
                    key_token=_text(data, "keyFingerprint") or key_id or str(event.id),
                    failed=event.type == "activation.blocked"
                    or reason in FAILED_KEY_OUTCOMES
                    or bool(reason),
                    invalid=reason in INVALID_KEY_OUTCOMES,
                ),
                now,
            )
        elif event.type == "key.activated":
            user_id, key_id, batch_id = _text(data, "userId"), _text(data, "keyId"), _text(data, "batchId")
            if user_id and key_id and batch_id:
                store.record_event(
                    Observation(
                        attempt_id=_text(data, "activationId") or str(event.id),
                        user_id=user_id,
                        key_id=key_id,
                        batch_id=batch_id,
                        counts_attempt=False,
                    ),
                    now,
                )
        elif event.type == "key.sold":
            key_ids = [k for k in data.get("keyIds") or [] if isinstance(k, str)]
            if not key_ids and _text(data, "keyId"):
                key_ids = [_text(data, "keyId")]
            key_ids = [k for k in key_ids if _is_uuid(k)]
            if key_ids:
                store.record_sale(key_ids, _time(data, "soldAt", event.time.astimezone(UTC)))
        elif event.type in ("key.returned", "key.revoked"):
            retailer = _text(data, "retailerId")
            key_ids = [k for k in data.get("keyIds") or [] if isinstance(k, str)] or [_text(data, "keyId")]
            key_ids = [k for k in key_ids if _is_uuid(k)]
            if retailer and key_ids:
                at = _time(data, "changedAt", event.time.astimezone(UTC))
                store.record_revocations(retailer, key_ids, at)

    return handle


def _is_uuid(value: str) -> bool:
    try:
        uuid.UUID(value)
        return True
    except ValueError:
        return False
