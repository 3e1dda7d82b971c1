"""Finance's rules as plain Python: money exact in minor units, balanced entries, the revenue
share's tiers and rounding, order splits, reversals, payout rules and schedules."""

from __future__ import annotations

import random
import uuid
from datetime import UTC, date, datetime
from decimal import Decimal

import pytest

from developer_portal.domain import payouts
from developer_portal.domain.ledger import (
    PLATFORM_REVENUE,
    STORE_SALES,
    Bucket,
    EntryKind,
    JournalEntry,
    UnbalancedEntry,
    studio_account,
)
from developer_portal.domain.money import check_amount, minor_unit
from developer_portal.domain.revenue import (
    DEFAULT_TIERS,
    Credit,
    GameUnits,
    ShareCounter,
    Tier,
    check_tiers,
    credit_entry,
    exact_share,
    order_lines,
    reversal_entry,
)
from gamekeys_platform.refusals import InvalidValue, Refusal

D = Decimal
NOW = datetime(2026, 12, 6, tzinfo=UTC)
STUDIO = uuid.uuid4()


@pytest.mark.parametrize(
    ("amount", "currency", "expected"),
    [("10.00", "USD", "10.00"), ("10", "USD", "10.00"), ("500", "JPY", "500"), ("1.234", "BHD", "1.234")],
)
def test_amounts_exact_in_the_currency_are_taken(amount, currency, expected):
    assert str(check_amount(D(amount), currency)) == expected


@pytest.mark.parametrize(
    ("amount", "currency"),
    [
        ("10.001", "USD"),
        ("0.5", "JPY"),
        ("-1", "USD"),
        ("0", "USD"),
        ("NaN", "USD"),
        ("1", "XAU"),
        ("1", "ABC"),
    ],
)
def test_inexact_negative_zero_or_unknown_money_is_refused(amount, currency):
    with pytest.raises(InvalidValue):
        check_amount(D(amount), currency)


def test_minor_units_follow_iso_4217():
    assert (minor_unit("USD"), minor_unit("JPY"), minor_unit("KWD")) == (D("0.01"), D("1"), D("0.001"))


def test_an_entry_must_balance_and_be_exact():
    with pytest.raises(UnbalancedEntry):
        JournalEntry(STUDIO, EntryKind.ADJUSTMENT, "x", "USD", {"a": D("1.00"), "b": D("-0.99")}, NOW)
    with pytest.raises(UnbalancedEntry):
        JournalEntry(STUDIO, EntryKind.ADJUSTMENT, "x", "USD", {"a": D("0.005"), "b": D("-0.005")}, NOW)
    with pytest.raises(UnbalancedEntry):  # one account is no movement
        JournalEntry(STUDIO, EntryKind.ADJUSTMENT, "x", "USD", {"a": D("0"), "b": D("0")}, NOW)


def test_the_default_tiers_split_a_sale_that_crosses_a_boundary():
    # 9.9 M sold before; a 200,000 sale: 100,000 at 30 %, 100,000 at 25 %
    share = exact_share(DEFAULT_TIERS, D("9900000"), D("200000"), D("200000"))
    assert share == D("30000") + D("25000")
    # across two boundaries at once
    share = exact_share(DEFAULT_TIERS, D("0"), D("60000000"), D("60000000"))
    assert share == D("3000000") + D("10000000") + D("2000000")
    # a retailer's sale: the rates apply to what reaches the platform (net of commission)
    assert exact_share(DEFAULT_TIERS, D("0"), D("100"), D("85")) == D("25.5")


def _credit(gross: str, *, commission: str = "0", game: uuid.UUID | None = None, quantity: int | None = None):
    return Credit(
        key=f"revenue:{uuid.uuid4()}",
        developer_id=STUDIO,
        game_id=game or uuid.uuid4(),
        currency="USD",
        source_account=STORE_SALES if commission == "0" else "retailer:r:sales",
        gross=D(gross),
        commission=D(commission),
        commission_account=None if commission == "0" else "retailer:r:commission",
        quantity=quantity,
    )


def test_rounding_never_drifts_against_the_studio_over_many_sales():
    """Each sale alone would round 0.30 * 0.99 = 0.297 to 0.30, taking 0.003 too much every
    time; the cumulative rounding keeps the platform's total at the rounded exact total."""
    game, counter, posted = uuid.uuid4(), ShareCounter(), D(0)
    for _ in range(1000):
        entry, _line, counter = credit_entry(
            _credit("0.99", game=game),
            DEFAULT_TIERS,
            counter,
            source_id="s",
            kind=EntryKind.REVENUE,
            occurred_at=NOW,
            memo={},
        )
        posted += entry.postings[PLATFORM_REVENUE]
    assert counter.exact == D("297.000")
    assert posted == D("297.00")  # not 300.00


def test_random_sales_keep_the_platform_within_half_a_cent_of_its_exact_share():
    rng = random.Random(7)
    game, counter, posted, exact = uuid.uuid4(), ShareCounter(), D(0), D(0)
    for _ in range(2000):
        gross = D(rng.randint(1, 99999)) / 100
        entry, _line, counter = credit_entry(
            _credit(str(gross), game=game),
            DEFAULT_TIERS,
            counter,
            source_id="s",
            kind=EntryKind.REVENUE,
            occurred_at=NOW,
            memo={},
        )
        posted += entry.postings[PLATFORM_REVENUE]
        exact += gross * D("0.30")
        assert sum(entry.postings.values()) == 0
    assert abs(posted - exact) <= D("0.005")


def test_a_sale_returned_in_parts_reverses_exactly_what_it_posted():
    credit = _credit("30.00", commission="4.50", quantity=3)
    entry, line, counter = credit_entry(
        credit, DEFAULT_TIERS, ShareCounter(), source_id="s", kind=EntryKind.SALE, occurred_at=NOW, memo={}
    )
    assert entry.postings == {
        "retailer:r:sales": D("-30.00"),
        "retailer:r:commission": D("4.50"),
        PLATFORM_REVENUE: D("7.65"),  # 30 % of 25.50
        studio_account(STUDIO, Bucket.PENDING): D("17.85"),
    }
    totals: dict[str, Decimal] = dict(entry.postings)
    for _ in range(3):  # one key at a time
        reversal, line, counter = reversal_entry(
            line,
            line.gross / line.quantity,
            counter,
            source_id="r",
            kind=EntryKind.RETURN,
            occurred_at=NOW,
            memo={},
            quantity=1,
        )
        for account, amount in reversal.postings.items():
            totals[account] += amount
    assert set(totals.values()) == {D(0)}
    assert (line.gross, line.platform, line.studio, line.quantity) == (0, 0, 0, 0)
    assert counter.lifetime_gross == 0 and counter.posted == 0


def test_after_the_hold_a_reversal_takes_from_available():
    _entry, line, counter = credit_entry(
        _credit("10.00"),
        DEFAULT_TIERS,
        ShareCounter(),
        source_id="s",
        kind=EntryKind.REVENUE,
        occurred_at=NOW,
        memo={},
    )
    released = line.__class__(**{**line.__dict__, "released": True})
    reversal, _left, _counter = reversal_entry(
        released, D("10.00"), counter, source_id="r", kind=EntryKind.REVERSAL, occurred_at=NOW, memo={}
    )
    assert reversal.postings[studio_account(STUDIO, Bucket.AVAILABLE)] == D("-7.00")


def test_an_order_of_several_games_shares_its_commission_to_the_cent():
    games = [GameUnits(uuid.uuid4(), 1), GameUnits(uuid.uuid4(), 1), GameUnits(uuid.uuid4(), 1)]
    lines = order_lines(D("3.33"), D("9.99"), D("1.00"), games, "USD")
    assert [gross for _g, gross, _c in lines] == [D("3.33")] * 3
    assert sum(c for _g, _gross, c in lines) == D("1.00")
    with pytest.raises(InvalidValue):
        order_lines(D("3.33"), D("10.00"), D("1.00"), games, "USD")


@pytest.mark.parametrize(
    "tiers",
    [
        [],
        [Tier(None, D("1.5"))],
        [Tier(D("10"), D("0.3"))],  # the last tier must be open
        [Tier(D("10"), D("0.3")), Tier(D("5"), D("0.2")), Tier(None, D("0.1"))],
        [Tier(None, D("0.3")), Tier(None, D("0.2"))],
        [Tier(None, D("0.12345"))],
    ],
)
def test_bad_revenue_share_schedules_are_refused(tiers):
    with pytest.raises(InvalidValue):
        check_tiers(tiers)


def test_payout_rules_say_which_rule_refused():
    ok = {"available": D("500"), "threshold": D("100"), "settings_complete": True, "verified": True}
    payouts.check_request(D("500"), "USD", **ok)
    cases = [
        ({"verified": False}, D("200"), "DEVELOPER_NOT_VERIFIED"),
        ({"settings_complete": False}, D("200"), "PAYOUT_SETTINGS_INCOMPLETE"),
        ({}, D("99.99"), "BELOW_THRESHOLD"),
        ({}, D("500.01"), "INSUFFICIENT_BALANCE"),
        ({"available": D("-20")}, D("100"), "INSUFFICIENT_BALANCE"),
    ]
    for overrides, amount, reason in cases:
        with pytest.raises(Refusal) as refused:
            payouts.check_request(amount, "USD", **{**ok, **overrides})
        assert refused.value.details["reason"] == reason


def test_the_next_scheduled_payout_date():
    monthly = payouts.Schedule.MONTHLY
    assert payouts.next_payout_date(monthly, date(2026, 12, 6), 15) == date(2026, 12, 15)
    assert payouts.next_payout_date(monthly, date(2026, 12, 15), 15) == date(2026, 12, 15)
    assert payouts.next_payout_date(monthly, date(2026, 12, 16), 15) == date(2027, 1, 15)
    assert payouts.next_payout_date(monthly, date(2027, 2, 1), 31) == date(2027, 2, 28)
    assert payouts.next_payout_date(payouts.Schedule.MANUAL, date(2026, 12, 6), 15) is None


def test_payout_details_are_checked_and_masked():
    details = payouts.check_details(
        payouts.Method.BANK_TRANSFER,
        {"accountHolder": "Northwind", "iban": "DE89370400440532013000", "bic": "COBADEFFXXX"},
    )
    assert payouts.mask(details) == {
        "accountHolder": "Northwind",
        "iban": "*" * 18 + "3000",
        "bic": "*" * 7 + "FXXX",
    }
    assert payouts.mask({"email": "money@studio.example"}) == {"email": "m***@studio.example"}
    with pytest.raises(InvalidValue):
        payouts.check_details(payouts.Method.PAYPAL, {"email": "a@b.c", "iban": "x"})
    with pytest.raises(InvalidValue):
        payouts.check_details(payouts.Method.BANK_TRANSFER, {"accountHolder": "x"})


def test_the_payout_state_machine():
    S = payouts.PayoutStatus
    assert payouts.can_move("requested", S.PROCESSING) and payouts.can_move("requested", S.COMPLETED)
    assert payouts.can_move("processing", S.FAILED)
    assert not payouts.can_move("processing", S.PROCESSING)  # taken on once
    assert not any(payouts.can_move(final, target) for final in ("completed", "failed") for target in S)
