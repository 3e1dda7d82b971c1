"""Distribution analytics per retailer: sell-through and activation rate as exact ratios."""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal

RATIO = Decimal("0.0001")


def ratio(part: int, whole: int) -> str:
    """part / whole to 4 places as a decimal string; 0 when there is nothing to divide."""
    if whole <= 0:
        return "0.0000"
    return str((Decimal(part) / Decimal(whole)).quantize(RATIO, rounding=ROUND_HALF_UP))


def retailer_metrics(
    *, allocated: int, sold: int, returned: int, activated: int, charged_back: int = 0
) -> dict:
    """sellThrough = sold / allocated; activationRate = activated / (sold - returned);
    chargebackRate = charged back / sold (what antifraud's retailer-chargeback-rate watches)."""
    kept = max(sold - returned, 0)
    return {
        "allocated": allocated,
        "sold": sold,
        "returned": returned,
        "activated": activated,
        "chargedBack": charged_back,
        "sellThrough": ratio(sold, allocated),
        "activationRate": ratio(activated, kept),
        "chargebackRate": ratio(charged_back, sold),
    }
