"""``POST /check-region`` (the seed's checkRegionalRestrictions) for the caller's address. Its
answer tells whether a key exists, so it is one more redemption attempt for the lockout: refused
while locked out, and the answers a guesser gets (malformed, not found, revoked, expired,
activated) count as failures."""

from __future__ import annotations

from activation_gateway.context import Gateway
from activation_gateway.domain.lockout import Identities, LockedOut, counts_as_failed_attempt
from activation_gateway.domain.redemption import Refusal, key_state_refusal
from activation_gateway.domain.regions import RegionVerdict, evaluate_region
from activation_gateway.usecases import checks
from activation_gateway.usecases.lockout import reserve_attempt


def check_region(
    gw: Gateway, identities: Identities, *, key_text: str | None, key_id: str | None, user_region: str
) -> RegionVerdict | Refusal:
    """The region verdict, or the refusal that stops the check (INVALID_KEY_FORMAT,
    RATE_LIMITED, KEY_NOT_FOUND), answered by the route as its error."""
    ref = {"key_id": key_id}
    if key_text is not None:
        canonical = checks.key_format(gw, identities, key_text)
        if isinstance(canonical, Refusal):
            return canonical
        ref = {"key": canonical}
    try:
        reservation = reserve_attempt(gw, identities)
    except LockedOut as locked:
        return locked
    failed = False
    try:
        key = checks.look_up(gw, **ref)
        if key is None:
            failed = True
            return Refusal("KEY_NOT_FOUND", "key not found")
        state = key_state_refusal(key)
        failed = state is not None and counts_as_failed_attempt(state.code)
        info = gw.geoip.lookup(identities.ip)
        return evaluate_region(
            key.get("regionalRestrictions"),
            user_region=user_region,
            ip_country=info.country,
            ip_is_vpn=info.vpn,
            ip_is_datacenter=info.datacenter,
            ip_country_source=info.country_source,
            network_source=info.network_source,
        )
    finally:
        if not failed:
            reservation.release(gw)
