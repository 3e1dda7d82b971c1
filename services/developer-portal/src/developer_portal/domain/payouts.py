"""Payouts: when a studio may be paid, how much, and when the next scheduled payout is.

A payout takes an amount out of the available balance of one currency into "in payout" until
the Payment Service says it completed (then "paid out") or failed (back to available). It needs
a verified studio, complete payout settings, an amount of at least the threshold and at most
what is available. A negative available balance (a chargeback after the money was paid out) is
carried forward against future revenue: no payout until sales cover it.
"""

from __future__ import annotations

import calendar
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from enum import StrEnum
from typing import Any

from gamekeys_platform.currencies import format_amount
from gamekeys_platform.refusals import InvalidValue, Refusal


class PayoutStatus(StrEnum):
    REQUESTED = "requested"  # in payout; payout.requested is on its way to the Payment Service
    PROCESSING = "processing"  # the Payment Service has taken it on (its internal call)
    COMPLETED = "completed"
    FAILED = "failed"


# The payout state machine: the Payment Service may answer before or after saying it took the
# payout on; completed and failed are final.
PAYOUT_TRANSITIONS: dict[PayoutStatus, frozenset[PayoutStatus]] = {
    PayoutStatus.REQUESTED: frozenset({PayoutStatus.PROCESSING, PayoutStatus.COMPLETED, PayoutStatus.FAILED}),
    PayoutStatus.PROCESSING: frozenset({PayoutStatus.COMPLETED, PayoutStatus.FAILED}),
    PayoutStatus.COMPLETED: frozenset(),
    PayoutStatus.FAILED: frozenset(),
}


def can_move(current: str, target: PayoutStatus) -> bool:
    return target in PAYOUT_TRANSITIONS[PayoutStatus(current)]


class Schedule(StrEnum):
    MANUAL = "manual"  # only when the studio asks
    MONTHLY = "monthly"  # the whole available balance of each currency, on the payout day


class Method(StrEnum):
    BANK_TRANSFER = "bank_transfer"
    PAYPAL = "paypal"


# The fields a method needs; all are stored encrypted and shown masked.
METHOD_FIELDS: dict[Method, tuple[str, ...]] = {
    Method.BANK_TRANSFER: ("accountHolder", "iban", "bic"),
    Method.PAYPAL: ("email",),
}

NEGATIVE_BALANCE_POLICY = (
    "A negative available balance (refunds or chargebacks after a payout) is carried forward: "
    "future revenue covers it first, and no payout is made until it is covered."
)


def check_details(method: Method, details: Mapping[str, Any]) -> dict[str, str]:
    """The method's details: exactly its fields, each a non-empty string of at most 200."""
    wanted = METHOD_FIELDS[method]
    unknown = sorted(set(details) - set(wanted))
    if unknown:
        raise InvalidValue(f"{method.value} takes {', '.join(wanted)}; not {', '.join(unknown)}")
    missing = [name for name in wanted if not str(details.get(name) or "").strip()]
    if missing:
        raise InvalidValue(f"{method.value} needs {', '.join(missing)}")
    if any(not isinstance(details[name], str) or len(details[name]) > 200 for name in wanted):
        raise InvalidValue("each detail is a string of at most 200 characters")
    return {name: details[name].strip() for name in wanted}


def mask(details: Mapping[str, str]) -> dict[str, str]:
    """What the API shows of the details: enough to recognise them, never enough to use them."""
    masked = {}
    for name, value in details.items():
        if name == "accountHolder":
            masked[name] = value
        elif name == "email":
            local, _, domain = value.partition("@")
            masked[name] = f"{local[:1]}***@{domain}"
        else:
            masked[name] = "*" * max(len(value) - 4, 0) + value[-4:]
    return masked


@dataclass(frozen=True)
class PayoutRules:
    """What the platform allows, from its settings."""

    minimum: Decimal  # no payout below this, in any currency
    payout_day: int  # the day of the month scheduled payouts go out


def check_request(
    amount: Decimal,
    currency: str,
    *,
    available: Decimal,
    threshold: Decimal,
    settings_complete: bool,
    verified: bool,
) -> None:
    """Refuse a payout the rules do not allow, saying which rule."""
    if not verified:
        raise Refusal("FORBIDDEN", "the studio is not verified yet", {"reason": "DEVELOPER_NOT_VERIFIED"})
    if not settings_complete:
        raise Refusal(
            "CONFLICT",
            "set a payout method first (PUT /finance/settings)",
            {"reason": "PAYOUT_SETTINGS_INCOMPLETE"},
        )
    if amount < threshold:
        raise Refusal(
            "VALIDATION_ERROR",
            f"the minimum payout is {format_amount(threshold, currency)} {currency}",
            {
                "reason": "BELOW_THRESHOLD",
                "threshold": format_amount(threshold, currency),
                "currency": currency,
            },
        )
    if amount > available:
        raise Refusal(
            "CONFLICT",
            "the amount is more than the available balance",
            {
                "reason": "INSUFFICIENT_BALANCE",
                "available": format_amount(available, currency),
                "currency": currency,
            },
        )


def next_payout_date(schedule: Schedule, today: date, payout_day: int) -> date | None:
    """The next day a scheduled payout goes out (today if it is the day), None when manual."""
    if schedule is Schedule.MANUAL:
        return None
    year, month = today.year, today.month
    day = min(payout_day, calendar.monthrange(year, month)[1])
    if today.day > day:
        year, month = (year + 1, 1) if month == 12 else (year, month + 1)
        day = min(payout_day, calendar.monthrange(year, month)[1])
    return date(year, month, day)


def scheduled_amount(available: Decimal, threshold: Decimal) -> Decimal | None:
    """What a scheduled payout takes: the whole available balance, if it reaches the threshold."""
    return available if available >= threshold and available > 0 else None
