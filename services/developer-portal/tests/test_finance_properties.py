"""Finance under thousands of random events (sales, returns, store sales, refunds, chargebacks,
payouts and their answers), with duplicates and reversals ahead of their sales: every entry
balances, every balance is the sum of its postings, and no cent is created or lost."""

from __future__ import annotations

import random
import uuid
from collections import defaultdict
from decimal import Decimal

import pytest
from dp_testkit import (
    PAYPAL_SETTINGS,
    consume,
    expect,
    payout_answer,
    release_all,
    retailer_return,
    retailer_sale,
    store_revenue,
    store_reversal,
)
from sqlalchemy import func, select

from developer_portal.db import ledger
from developer_portal.db.tables import ledger_entries, ledger_postings

ROUNDS = 2000


# One event a transaction, and a poll of them at a time as the consumer takes them (runs of
# sales credited together, redeliveries and reversals ahead of their sales inside a poll).
@pytest.mark.parametrize("per_poll", [1, 50])
def test_random_money_flows_conserve_every_cent(portal, app, db, per_poll):
    rng = random.Random(20261206)
    admin, developer = portal.studio()
    games = [portal.game(admin) for _ in range(3)]
    expect(admin.put("/finance/settings", json=PAYPAL_SETTINGS), 200)
    retailers = [uuid.uuid4() for _ in range(3)]
    received = defaultdict(Decimal)  # currency -> what buyers paid, less refunds
    fees = defaultdict(Decimal)
    sales, revenues, payouts, events = [], [], [], []

    for _ in range(ROUNDS):
        roll = rng.random()
        currency = rng.choice(("USD", "EUR", "JPY"))
        if roll < 0.35:
            quantity = rng.randint(1, 5)
            price = str(rng.randint(100, 9999)) if currency == "JPY" else f"{rng.randint(99, 9999) / 100:.2f}"
            sale = retailer_sale(
                rng.choice(games),
                quantity=quantity,
                unit_price=price,
                currency=currency,
                retailer_id=rng.choice(retailers),
                commission_rate=rng.choice(("0.10", "0.15", "0.2333")),
            )
            received[currency] += Decimal(sale.data["gross"]["amount"])
            sales.append({"event": sale, "left": quantity, "price": Decimal(price)})
            events.append(sale)
        elif roll < 0.55:
            game = rng.choice(games)
            gross = (
                str(rng.randint(100, 99999)) if currency == "JPY" else f"{rng.randint(99, 99999) / 100:.2f}"
            )
            revenue = store_revenue(game, gross, currency=currency)
            received[currency] += Decimal(gross)
            revenues.append({"event": revenue, "left": Decimal(gross), "currency": currency})
            events.append(revenue)
        elif roll < 0.70 and sales:
            sale = rng.choice(sales)
            if sale["left"]:
                units = rng.randint(1, sale["left"])
                sale["left"] -= units
                returned = retailer_return(sale["event"], units)
                received[sale["event"].data["gross"]["currency"]] -= sale["price"] * units
                events.insert(
                    rng.randint(max(0, len(events) - 20), len(events)), returned
                )  # at times ahead of its sale
        elif roll < 0.85 and revenues:
            revenue = rng.choice(revenues)
            unit = Decimal(1) if revenue["currency"] == "JPY" else Decimal("0.01")
            if revenue["left"] > 0:
                part = min(revenue["left"], (revenue["left"] * Decimal(rng.random())).quantize(unit) or unit)
                revenue["left"] -= part
                chargeback = rng.random() < 0.3
                fee = (
                    str(Decimal(15) if revenue["currency"] == "JPY" else Decimal("15.00"))
                    if chargeback
                    else None
                )
                reversal = store_reversal(
                    revenue["event"], str(part), kind="chargeback" if chargeback else "refund", fee=fee
                )
                received[revenue["currency"]] -= part
                if fee:
                    fees[revenue["currency"]] += Decimal(fee)
                events.append(reversal)
        if rng.random() < 0.1 and events:
            events.append(rng.choice(events))  # a redelivery

    consume(app, *events, per_poll=per_poll)
    release_all(app)
    paid = defaultdict(Decimal)
    for currency in ("USD", "EUR"):
        for n in range(3):
            available = Decimal(_balances(admin)[currency]["available"])
            amount = (available / 3).quantize(Decimal("0.01"))
            if amount < 100:
                continue
            response = admin.post(
                "/finance/payouts",
                json={"amount": {"amount": str(amount), "currency": currency}},
                headers={"Idempotency-Key": f"{currency}-{n}"},
            )
            payouts.append(expect(response, 201))
    for payout in payouts:
        completed = rng.random() < 0.7
        answer = payout_answer(payout, developer["developerId"], completed=completed)
        consume(app, answer, answer)
        if completed:
            paid[payout["amount"]["currency"]] += Decimal(payout["amount"]["amount"])

    assert len(payouts) >= 3 and fees and paid  # the random walk reached every kind of movement
    studio = _balances(admin)
    with db.transaction() as session:
        assert ledger.unbalanced_entries(session) == []
        assert ledger.drifted_balances(session) == []
    studio_id = developer["developerId"]
    for currency, gross in received.items():
        # every cent buyers paid (less refunds) is in this studio's entries once
        assert -_posted(db, studio_id, currency, "%:sales") == gross, currency
        held = sum(Decimal(studio[currency][b]) for b in ("available", "pending", "inPayout", "paidOut"))
        commission = _posted(db, studio_id, currency, "retailer:%:commission")
        platform_share = _posted(db, studio_id, currency, "platform:revenue")
        # platform + retailers + studio (pending, available, in payout, paid out) + fees = gross received
        assert platform_share + commission + held + fees[currency] == gross, currency
        assert Decimal(studio[currency]["paidOut"]) == paid[currency]
        assert Decimal(studio[currency]["pending"]) == 0


def _balances(actor) -> dict[str, dict]:
    return {b["currency"]: b for b in expect(actor.get("/finance/balance"), 200)["balances"]}


def _posted(db, developer_id: str, currency: str, accounts: str) -> Decimal:
    """What this studio's entries posted to the accounts matching ``accounts`` (a LIKE pattern):
    the platform's and the store's accounts are shared by every studio."""
    with db.transaction() as session:
        return session.execute(
            select(func.coalesce(func.sum(ledger_postings.c.amount), 0))
            .join(ledger_entries, ledger_entries.c.entry_id == ledger_postings.c.entry_id)
            .where(
                ledger_entries.c.developer_id == uuid.UUID(developer_id),
                ledger_entries.c.currency == currency,
                ledger_postings.c.account.like(accounts),
            )
        ).scalar_one()
