"""Retailer rules: status changes, terms, who may receive which keys, credentials."""

from __future__ import annotations

import secrets
import uuid
from collections.abc import Iterable, Sequence
from decimal import Decimal
from enum import StrEnum

from gamekeys_platform.refusals import InvalidValue, Refusal

MAX_COMMISSION_RATE = Decimal("0.9999")
COMMISSION_PLACES = 4
CLIENT_ID_PREFIX = "rtl_"


class RetailerStatus(StrEnum):
    ACTIVE = "active"
    SUSPENDED = "suspended"


_ALLOWED_CHANGES = {
    (RetailerStatus.ACTIVE, RetailerStatus.SUSPENDED),
    (RetailerStatus.SUSPENDED, RetailerStatus.ACTIVE),
}


def status_change(current: str, target: str) -> RetailerStatus | None:
    """The new status, None if nothing changes; Refusal CONFLICT for a change the rules forbid."""
    current_status, target_status = RetailerStatus(current), RetailerStatus(target)
    if current_status == target_status:
        return None
    if (current_status, target_status) not in _ALLOWED_CHANGES:
        raise Refusal("CONFLICT", f"a {current} retailer cannot become {target}", {"status": current})
    return target_status


def check_commission_rate(rate: Decimal) -> Decimal:
    """A fraction of the sale price the retailer keeps: 0 ≤ rate < 1, at most 4 decimal places."""
    if not rate.is_finite() or rate < 0 or rate > MAX_COMMISSION_RATE:
        raise InvalidValue("must be at least 0 and below 1")
    if rate != rate.quantize(Decimal(1).scaleb(-COMMISSION_PLACES)):
        raise InvalidValue(f"has more than {COMMISSION_PLACES} decimal places")
    return rate.quantize(Decimal(1).scaleb(-COMMISSION_PLACES))


def normalize_regions(regions: Iterable[str]) -> list[str]:
    return sorted({region.upper() for region in regions})


def authorize_allocation(
    *,
    status: str,
    allowed_game_ids: Sequence[uuid.UUID],
    allowed_regions: Sequence[str],
    game_id: uuid.UUID,
    restrictions: Sequence[dict],
) -> None:
    """Refusal RETAILER_NOT_AUTHORIZED unless the retailer is active, allowed to sell the game
    and, when its regions are limited, the allocation's allowed countries lie within them."""
    if status != RetailerStatus.ACTIVE:
        raise Refusal("RETAILER_NOT_AUTHORIZED", f"the retailer is {status}", {"reason": "RETAILER_INACTIVE"})
    if game_id not in set(allowed_game_ids):
        raise Refusal(
            "RETAILER_NOT_AUTHORIZED",
            "the retailer is not allowed to distribute this game",
            {"reason": "GAME_NOT_ALLOWED", "gameId": str(game_id)},
        )
    if not allowed_regions:
        return
    permitted = set(allowed_regions)
    allow_lists = [r for r in restrictions if r["type"] == "allow"]
    if not allow_lists:
        raise Refusal(
            "RETAILER_NOT_AUTHORIZED",
            "the retailer sells only in some regions: the allocation needs an allow restriction within them",
            {"reason": "REGION_NOT_ALLOWED", "allowedRegions": sorted(permitted)},
        )
    outside = sorted({c.upper() for r in allow_lists for c in r["countries"]} - permitted)
    if outside:
        raise Refusal(
            "RETAILER_NOT_AUTHORIZED",
            "the allocation allows countries the retailer may not sell in",
            {"reason": "REGION_NOT_ALLOWED", "countries": outside},
        )


def new_client_id() -> str:
    return CLIENT_ID_PREFIX + secrets.token_hex(12)


def new_client_secret() -> str:
    """256 bits from the CSPRNG, URL-safe (no characters that need escaping in HTTP Basic)."""
    return secrets.token_urlsafe(32)
