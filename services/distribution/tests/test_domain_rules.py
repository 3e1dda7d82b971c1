"""Domain rules without Flask or SQL: retailer status and terms, who may receive keys, money,
the sales report, low-stock thresholds, analytics ratios."""

from __future__ import annotations

import uuid
from decimal import Decimal

import pytest

from distribution.domain import retailers as rules
from distribution.domain.analytics import ratio, retailer_metrics
from distribution.domain.money import SaleLine, check_price, sales_report, totals
from distribution.domain.stock import reached_threshold
from gamekeys_platform.refusals import InvalidValue, Refusal

GAME = uuid.uuid4()


def test_status_changes():
    assert rules.status_change("active", "suspended") == "suspended"
    assert rules.status_change("suspended", "active") == "active"
    assert rules.status_change("active", "active") is None
    with pytest.raises(ValueError):
        rules.status_change("active", "closed")


@pytest.mark.parametrize("rate", ["0", "0.15", "0.1234", "0.9999"])
def test_commission_rate_accepted(rate):
    assert rules.check_commission_rate(Decimal(rate)) == Decimal(rate)


@pytest.mark.parametrize("rate", ["-0.01", "1", "1.5", "0.12345", "NaN", "Infinity"])
def test_commission_rate_refused(rate):
    with pytest.raises(InvalidValue):
        rules.check_commission_rate(Decimal(rate))


def authorize(**overrides):
    arguments = {
        "status": "active",
        "allowed_game_ids": [GAME],
        "allowed_regions": [],
        "game_id": GAME,
        "restrictions": [],
        **overrides,
    }
    rules.authorize_allocation(**arguments)


def test_allocation_authorization():
    authorize()
    for overrides, reason in (
        ({"status": "suspended"}, "RETAILER_INACTIVE"),
        ({"game_id": uuid.uuid4()}, "GAME_NOT_ALLOWED"),
        ({"allowed_regions": ["DE"]}, "REGION_NOT_ALLOWED"),
        (
            {"allowed_regions": ["DE"], "restrictions": [{"type": "allow", "countries": ["DE", "FR"]}]},
            "REGION_NOT_ALLOWED",
        ),
    ):
        with pytest.raises(Refusal) as refused:
            authorize(**overrides)
        assert refused.value.code == "RETAILER_NOT_AUTHORIZED"
        assert refused.value.details["reason"] == reason
    authorize(allowed_regions=["DE", "FR"], restrictions=[{"type": "allow", "countries": ["de"]}])


def test_credentials_are_random_and_long():
    secrets_ = {rules.new_client_secret() for _ in range(100)}
    assert len(secrets_) == 100 and all(len(s) >= 43 for s in secrets_)
    assert rules.new_client_id().startswith("rtl_")


def test_totals_round_commission_half_up_and_add_up():
    result = totals(Decimal("19.99"), 3, Decimal("0.15"), "USD")
    assert result.gross == Decimal("59.97")
    assert result.commission == Decimal("9.00")  # 8.9955 → 9.00
    assert result.net == Decimal("50.97")
    assert result.gross == result.commission + result.net
    small = totals(Decimal("0.05"), 1, Decimal("0.1"), "USD")
    assert (small.commission, small.net) == (Decimal("0.01"), Decimal("0.04"))
    # in the currency's minor units: whole yen, three decimals of dinar
    yen = totals(Decimal("1999"), 1, Decimal("0.15"), "JPY")
    assert (yen.commission, yen.net) == (Decimal("300"), Decimal("1699"))  # 299.85 → 300
    dinar = totals(Decimal("1.999"), 1, Decimal("0.15"), "KWD")
    assert (dinar.commission, dinar.net) == (Decimal("0.300"), Decimal("1.699"))


@pytest.mark.parametrize(
    ("amount", "currency"),
    [
        ("0", "USD"),
        ("-1", "USD"),
        ("0.001", "USD"),
        ("1000000", "USD"),
        ("NaN", "USD"),
        ("19.99", "JPY"),
        ("1.0001", "KWD"),
        ("10", "XAU"),
        ("10", "ZZZ"),
    ],
)
def test_bad_prices(amount, currency):
    with pytest.raises(InvalidValue):
        check_price(Decimal(amount), currency)


def test_prices_are_exact_in_their_currency():
    assert check_price(Decimal("1500"), "JPY") == Decimal("1500")
    assert check_price(Decimal("1.250"), "KWD") == Decimal("1.250")


def test_sales_report_per_currency_with_returns_and_chargebacks():
    report = sales_report(
        [
            SaleLine("USD", Decimal("10.00"), Decimal("0.15"), 3, 1),
            SaleLine("USD", Decimal("19.99"), Decimal("0.10"), 1, 0),
            SaleLine("EUR", Decimal("5.00"), Decimal("0.15"), 3, 0, 1),
        ]
    )
    assert report == [
        {
            "currency": "EUR",
            "unitsSold": 3,
            "unitsReturned": 0,
            "unitsChargedBack": 1,
            "units": 2,
            "chargedBack": "5.00",
            "gross": "10.00",
            "commission": "1.50",
            "net": "8.50",
        },
        {
            "currency": "USD",
            "unitsSold": 4,
            "unitsReturned": 1,
            "unitsChargedBack": 0,
            "units": 3,
            "chargedBack": "0.00",
            "gross": "39.99",
            "commission": "5.00",
            "net": "34.99",
        },
    ]
    assert sales_report([]) == []


def test_low_stock_thresholds():
    assert reached_threshold(100, 26, None) is None
    assert reached_threshold(100, 25, None) == 25
    assert reached_threshold(100, 20, 25) is None
    assert reached_threshold(100, 10, 25) == 10
    assert reached_threshold(100, 0, 10) == 0
    assert reached_threshold(100, 0, 0) is None
    assert reached_threshold(100, 0, None) == 0  # a jump signals the deepest only
    assert reached_threshold(3, 0, None) == 0
    assert reached_threshold(4, 1, None) == 25
    with pytest.raises(ValueError):
        reached_threshold(0, 0, None)


def test_analytics_ratios():
    assert ratio(1, 3) == "0.3333"
    assert ratio(2, 3) == "0.6667"
    assert ratio(5, 0) == "0.0000"
    assert retailer_metrics(allocated=10, sold=4, returned=1, activated=3, charged_back=1) == {
        "allocated": 10,
        "sold": 4,
        "returned": 1,
        "activated": 3,
        "chargedBack": 1,
        "sellThrough": "0.4000",
        "activationRate": "1.0000",
        "chargebackRate": "0.2500",
    }
