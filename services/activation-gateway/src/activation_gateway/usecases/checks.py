"""The steps of a redemption that ``redeem``, ``validate`` and ``check_region`` share, each
answering the first refusal as a value (or what the next step needs)."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from activation_gateway.clients import KeyManagerRefusal
from activation_gateway.context import Gateway
from activation_gateway.domain import blocks, keyformat
from activation_gateway.domain.lockout import Identities
from activation_gateway.domain.redemption import Attempt, Refusal, account_refusal
from activation_gateway.domain.regions import evaluate_region
from activation_gateway.usecases.lockout import record_failed_attempt
from gamekeys_platform.geoip import IpInfo


def key_format(gw: Gateway, identities: Identities, key_text: str) -> str | Refusal:
    """Step 1: the canonical key, or INVALID_KEY_FORMAT (a counted failure, counted now: no
    key-manager call, no reservation)."""
    try:
        return keyformat.normalize(key_text)
    except keyformat.InvalidKeyFormat as exc:
        record_failed_attempt(gw, identities)
        return Refusal("INVALID_KEY_FORMAT", str(exc))


def account_block(gw: Gateway, identities: Identities) -> Refusal | None:
    """Step 2: ACCOUNT_BLOCKED from the in-memory snapshot of antifraud's blocks in force, or None."""
    return blocks.refusal(gw.block_list.matching(blocks.wanted(identities)))


def look_up(gw: Gateway, *, key: str | None = None, key_id: str | None = None) -> dict[str, Any] | None:
    """Step 3: key-manager's record of the key, or None when there is no such key. Any other
    refusal of the look-up is key-manager's problem, not the player's: EXTERNAL_SERVICE_ERROR."""
    try:
        return gw.key_manager.lookup(key=key, key_id=key_id)
    except KeyManagerRefusal as exc:
        if exc.code != "KEY_NOT_FOUND":
            raise Refusal("EXTERNAL_SERVICE_ERROR", "key-manager refused the look-up") from exc
        return None


def region_refusal(key: dict[str, Any], user_region: str, ip_info: IpInfo) -> Refusal | None:
    """Step 4: REGION_RESTRICTED or VPN_DETECTED for the claimed region and the address, or None."""
    region = evaluate_region(
        key.get("regionalRestrictions"),
        user_region=user_region,
        ip_country=ip_info.country,
        ip_is_vpn=ip_info.vpn,
        ip_is_datacenter=ip_info.datacenter,
        ip_country_source=ip_info.country_source,
        network_source=ip_info.network_source,
    )
    return None if region.allowed else Refusal(region.code, region.message, region.details)


def account_check(gw: Gateway, attempt: Attempt) -> tuple[Refusal | None, Attempt]:
    """Step 5, the platform User Service when configured (its own short timeout; unavailable →
    go on, antifraud's block list and score still apply): ACCOUNT_BLOCKED or None, and the attempt
    with the account's creation time when the token had none."""
    if gw.user_service is None:
        return None, attempt
    account = gw.user_service.account(attempt.user_id)
    refusal = account_refusal(account)
    if refusal is None and account is not None and attempt.account_created_at is None and account.created_at:
        attempt = replace(attempt, account_created_at=account.created_at)
    return refusal, attempt
