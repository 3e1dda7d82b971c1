"""activations.events and keys.events feed the velocity store (counting is idempotent: members
are event or activation ids, so a redelivered event adds nothing).

- ``activation.failed`` / ``activation.blocked``: a failed attempt by the user / IP / subnet /
  device (not a refusal that says nothing about the player: PUBLISHER_SUSPENDED); a failure
  for a key that does not exist (KEY_NOT_FOUND, INVALID_KEY_FORMAT) also counts as an invalid
  key for key-space enumeration.
- ``key.activated``: the key counts for the user's keys of its batch. key-manager emits it for
  every activation, also those that do not pass through activation-gateway, so the gateway's
  ``activation.succeeded`` (the same activation again) is not consumed.
- ``key.sold``: the sale time of each key, for ``seconds_since_sale``; for a retailer's order
  also the order of each key (``order_distinct_countries_10m``) and the retailer's sold keys.
- ``activation.disputed``: the activation counts against its account, /24 network and device
  for 90 days (``*_disputed_activations_90d``).
- ``key.charged_back``: the keys count for the retailer's chargeback rate (30 days); the revoked
  ones also for ``retailer_revoked_keys_24h``.
- ``key.returned`` and ``key.revoked`` of a key a retailer sold: the key counts for the
  retailer's ``retailer_revoked_keys_24h`` (a wave of returns or chargebacks means keys bought
  with stolen payment; the retailer's other keys activated meanwhile are suspect). Others
  (revoked by a studio, no retailer) say nothing about an activation and are ignored.

Each event arrives loaded through its contract (``gamekeys_platform.contracts``); one that
breaks it is dead-lettered by the consumer before it gets here.
"""

from __future__ import annotations

from sqlalchemy.orm import Session

from antifraud.domain.features import INVALID_KEY_OUTCOMES, NOT_THE_PLAYERS_FAILURES
from antifraud.velocity import Observation, VelocityStore
from gamekeys_platform.contracts import EventHandlers, activations, keys
from gamekeys_platform.events import Event


def make_handler(store: VelocityStore) -> EventHandlers:
    def refused(session: Session, data: activations.Activation, event: Event) -> None:
        key_id = str(data.key_id) if data.key_id else ""
        store.record_event(
            Observation(
                attempt_id=str(data.activation_id),
                user_id=data.user_id,
                ip=data.ip_address,
                device=data.device_fingerprint or "",
                key_id=key_id,
                key_token=data.key_fingerprint or key_id or str(event.id),
                failed=isinstance(data, activations.ActivationBlocked)
                or (bool(data.reason) and data.reason not in NOT_THE_PLAYERS_FAILURES),
                invalid=data.reason in INVALID_KEY_OUTCOMES,
            ),
            event.time.timestamp(),
        )

    def activated(session: Session, data: keys.KeyActivated, event: Event) -> None:
        store.record_event(
            Observation(
                attempt_id=data.activation_id,
                user_id=data.user_id,
                key_id=str(data.key_id),
                batch_id=str(data.batch_id),
                counts_attempt=False,
            ),
            event.time.timestamp(),
        )

    def sold(session: Session, data: keys.KeySold, event: Event) -> None:
        store.record_sale(
            [str(k) for k in data.key_ids],
            data.sold_at or event.time,
            retailer_id=str(data.retailer_id) if data.retailer_id else None,
            order_id=data.order_id,
        )

    def disputed(session: Session, data: activations.ActivationDisputed, event: Event) -> None:
        store.record_dispute(
            Observation(
                attempt_id=str(data.activation_id),
                user_id=data.user_id,
                ip=data.ip_address,
                device=data.device_fingerprint or "",
            ),
            data.disputed_at or event.time,
        )

    def charged_back(session: Session, data: keys.KeysChargedBack, event: Event) -> None:
        retailer = str(data.retailer_id)
        store.record_chargebacks(
            retailer, [str(k) for k in (*data.revoked_key_ids, *data.disputed_key_ids)], event.time
        )
        if data.revoked_key_ids:
            store.record_revocations(retailer, [str(k) for k in data.revoked_key_ids], event.time)

    def returned(session: Session, data: keys.KeyReturned, event: Event) -> None:
        store.record_revocations(str(data.retailer_id), [str(k) for k in data.key_ids], event.time)

    def revoked(session: Session, data: keys.KeyRevoked, event: Event) -> None:
        if data.retailer_id is not None:  # a studio's own revocation says nothing about a retailer
            store.record_revocations(str(data.retailer_id), [str(data.key_id)], data.changed_at or event.time)

    return EventHandlers(
        {
            activations.ActivationFailed: refused,
            activations.ActivationBlocked: refused,
            activations.ActivationDisputed: disputed,
            keys.KeysChargedBack: charged_back,
            keys.KeyActivated: activated,
            keys.KeySold: sold,
            keys.KeyReturned: returned,
            keys.KeyRevoked: revoked,
        }
    )
