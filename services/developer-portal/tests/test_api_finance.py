"""Finance through the API and the consumer's handler, on the real database: sales, returns,
store revenue, refunds and chargebacks in the ledger; holds; payouts and their answers; who may
see and do what; bad input changes nothing."""

from __future__ import annotations

import csv
import io
import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import date, timedelta
from decimal import Decimal

import pytest
import requests
from dp_testkit import (
    PAYPAL_SETTINGS,
    PREFIX,
    assert_error,
    consume,
    expect,
    paid_studio,
    payout_answer,
    release_all,
    retailer_chargeback,
    retailer_return,
    retailer_sale,
    store_revenue,
    store_reversal,
)
from sqlalchemy import func, select

from developer_portal.db import ledger, repository
from developer_portal.db.tables import ledger_entries, ledger_postings, payout_settings
from developer_portal.usecases import finance
from gamekeys_platform.testing import serving


def balance(actor, currency="USD", **query) -> dict:
    body = expect(actor.get("/finance/balance", query_string=query), 200)
    return next((b for b in body["balances"] if b["currency"] == currency), None)


def entries_of(db, developer_id: str) -> int:
    with db.transaction() as session:
        return session.execute(
            select(func.count()).where(ledger_entries.c.developer_id == uuid.UUID(developer_id))
        ).scalar_one()


def test_a_retailer_sale_is_pending_then_available_and_a_return_takes_its_part_back(portal, app, db):
    admin, _developer = portal.studio()
    game = portal.game(admin)
    sale = retailer_sale(game, quantity=3, unit_price="10.00", commission_rate="0.15")
    consume(app, sale, sale)  # redelivered: posted once
    # 30.00 gross, 4.50 to the retailer, 30 % of 25.50 = 7.65 to the platform, 17.85 to the studio
    assert balance(admin) == {
        "currency": "USD",
        "available": "0.00",
        "pending": "17.85",
        "inPayout": "0.00",
        "paidOut": "0.00",
        "negative": False,
    }
    page = expect(admin.get("/finance/transactions"), 200)
    [entry] = page["items"]
    assert entry["type"] == "sale" and entry["amount"] == {"amount": "17.85", "currency": "USD"}
    assert entry["gameId"] == game["gameId"] and entry["details"]["quantity"] == 3
    assert entry["details"]["availableOn"] > entry["occurredAt"]  # pending until the hold passes

    consume(app, retailer_return(sale, 1))
    assert balance(admin)["pending"] == "11.90"
    assert release_all(app) >= 1
    assert balance(admin)["available"] == "11.90" and balance(admin)["pending"] == "0.00"
    types = [e["type"] for e in expect(admin.get("/finance/transactions"), 200)["items"]]
    assert types == ["release", "return", "sale"]
    assert release_all(app) == 0  # a hold is released once


def test_a_retailers_chargeback_takes_the_charged_back_keys_part_back(portal, app, db):
    admin, _developer = portal.studio()
    game = portal.game(admin)
    sale = retailer_sale(game, quantity=3, unit_price="10.00", commission_rate="0.15")
    consume(app, sale)
    assert balance(admin)["pending"] == "17.85"
    chargeback = retailer_chargeback(sale, 2)
    consume(app, chargeback, chargeback)  # redelivered: taken back once
    assert balance(admin)["pending"] == "5.95"
    [reversal, _sale] = expect(admin.get("/finance/transactions"), 200)["items"]
    assert reversal["type"] == "reversal" and reversal["details"]["reason"] == "chargeback"


def test_store_refunds_and_chargebacks_after_the_hold_can_make_available_negative(portal, app, db):
    admin, _developer = portal.studio()
    game = portal.game(admin)
    revenue = store_revenue(game, "100.00")
    consume(app, revenue)
    release_all(app)
    assert balance(admin)["available"] == "70.00"
    consume(app, store_reversal(revenue, "40.00", kind="refund"))
    assert balance(admin)["available"] == "42.00"
    consume(app, store_reversal(revenue, "60.00", kind="chargeback", fee="15.00"))
    body = balance(admin)
    assert body["available"] == "-15.00" and body["negative"] is True
    preview = expect(admin.get("/finance/payouts/preview"), 200)
    [usd] = preview["currencies"]
    assert usd["negativeCarry"] == "15.00" and usd["nextPayout"] is None
    assert "carried forward" in preview["negativeBalancePolicy"]


def test_a_reversal_before_its_sale_waits_for_it(portal, app, db):
    admin, _developer = portal.studio()
    game = portal.game(admin)
    revenue = store_revenue(game, "10.00")
    sale = retailer_sale(game, quantity=2)
    consume(app, store_reversal(revenue, "10.00"), retailer_return(sale, 2))  # out of order
    assert balance(admin) is None
    consume(app, revenue, sale)
    assert balance(admin)["pending"] == "0.00"
    types = sorted(e["type"] for e in expect(admin.get("/finance/transactions"), 200)["items"])
    assert types == ["return", "revenue", "reversal", "sale"]


def test_a_payout_moves_money_and_the_payment_services_answer_settles_it(portal, app, db):
    admin, developer, _game = paid_studio(portal, app, amount="500.00")
    payout = expect(
        admin.post(
            "/finance/payouts",
            json={"amount": {"amount": "200.00", "currency": "USD"}},
            headers={"Idempotency-Key": "p1"},
        ),
        201,
    )
    assert payout["status"] == "requested" and payout["method"] == "paypal"
    assert (balance(admin)["available"], balance(admin)["inPayout"]) == ("300.00", "200.00")
    answer = payout_answer(payout, developer["developerId"])
    consume(app, answer, answer)
    assert (balance(admin)["inPayout"], balance(admin)["paidOut"]) == ("0.00", "200.00")
    assert expect(admin.get(f"/finance/payouts/{payout['payoutId']}"), 200)["status"] == "completed"

    failing = expect(
        admin.post(
            "/finance/payouts",
            json={"amount": {"amount": "300.00", "currency": "USD"}},
            headers={"Idempotency-Key": "p2"},
        ),
        201,
    )
    consume(app, payout_answer(failing, developer["developerId"], completed=False))
    assert balance(admin)["available"] == "300.00"
    failed = expect(admin.get(f"/finance/payouts/{failing['payoutId']}"), 200)
    assert failed["status"] == "failed" and failed["failureReason"] == "account closed"
    statuses = [p["status"] for p in expect(admin.get("/finance/payouts"), 200)["items"]]
    assert statuses == ["failed", "completed"]


def test_the_same_idempotency_key_never_pays_twice(portal, app, db):
    admin, _developer, _game = paid_studio(portal, app, amount="300.00")
    body = {"amount": {"amount": "150.00", "currency": "USD"}}
    first = admin.post("/finance/payouts", json=body, headers={"Idempotency-Key": "same"})
    again = admin.post("/finance/payouts", json=body, headers={"Idempotency-Key": "same"})
    assert first.status_code == again.status_code == 201
    assert first.get_json() == again.get_json()
    assert balance(admin)["available"] == "150.00"


def test_concurrent_payouts_of_the_whole_balance_pay_once(portal, app, db):
    admin, _developer, _game = paid_studio(portal, app, amount="400.00")
    body = {"amount": {"amount": "400.00", "currency": "USD"}}
    with serving(app) as base:

        def ask(n):
            headers = {"Authorization": f"Bearer {admin.token}", "Idempotency-Key": f"race-{n}"}
            return requests.post(f"{base}{PREFIX}/finance/payouts", json=body, headers=headers, timeout=30)

        with ThreadPoolExecutor(8) as pool:
            answers = list(pool.map(ask, range(8)))
    assert sorted(a.status_code for a in answers) == [201] + [409] * 7
    assert {a.json()["error"]["details"]["reason"] for a in answers if a.status_code == 409} == {
        "INSUFFICIENT_BALANCE"
    }
    assert (balance(admin)["available"], balance(admin)["inPayout"]) == ("0.00", "400.00")


@pytest.mark.parametrize(
    ("amount", "why"),
    [
        ({"amount": 100.5, "currency": "USD"}, "amount"),  # a float
        ({"amount": "-100.00", "currency": "USD"}, "amount"),
        ({"amount": "0", "currency": "USD"}, "amount"),
        ({"amount": "100.001", "currency": "USD"}, "amount"),
        ({"amount": "100.00", "currency": "ZZZ"}, "currency"),
        ({"amount": "100.00"}, "currency"),
    ],
)
def test_bad_payout_amounts_are_422_and_post_nothing(portal, app, db, nothing_written, amount, why):
    admin, developer, _game = paid_studio(portal, app, amount="200.00")
    before = entries_of(db, developer["developerId"])
    with nothing_written(developer["developerId"]):
        response = admin.post(
            "/finance/payouts", json={"amount": amount}, headers={"Idempotency-Key": str(uuid.uuid4())}
        )
        error = assert_error(response, 422, "VALIDATION_ERROR")
    assert why in str(error["details"]["fields"])
    assert entries_of(db, developer["developerId"]) == before


def test_payouts_the_rules_refuse_post_nothing(portal, app, db, nothing_written):
    admin, developer, _game = paid_studio(portal, app, amount="200.00")
    key = {"Idempotency-Key": str(uuid.uuid4())}
    with nothing_written(developer["developerId"]):
        assert_error(
            admin.post("/finance/payouts", json={"amount": {"amount": "200.00", "currency": "USD"}}),
            400,
            "VALIDATION_ERROR",
            "IDEMPOTENCY_KEY_REQUIRED",
        )
        over = admin.post(
            "/finance/payouts", json={"amount": {"amount": "200.01", "currency": "USD"}}, headers=key
        )
        assert assert_error(over, 409, "CONFLICT", "INSUFFICIENT_BALANCE")["details"]["available"] == "200.00"
        low = admin.post(
            "/finance/payouts",
            json={"amount": {"amount": "99.99", "currency": "USD"}},
            headers={"Idempotency-Key": "low"},
        )
        assert_error(low, 422, "VALIDATION_ERROR", "BELOW_THRESHOLD")
        other = admin.post(
            "/finance/payouts",
            json={"amount": {"amount": "150.00", "currency": "EUR"}},
            headers={"Idempotency-Key": "eur"},
        )
        assert_error(other, 409, "CONFLICT", "INSUFFICIENT_BALANCE")

    no_settings, _studio = portal.studio()
    consume(app, store_revenue(portal.game(no_settings), "1000.00"))
    release_all(app)
    response = no_settings.post(
        "/finance/payouts", json={"amount": {"amount": "150.00", "currency": "USD"}}, headers=key
    )
    assert_error(response, 409, "CONFLICT", "PAYOUT_SETTINGS_INCOMPLETE")
    assert balance(no_settings)["inPayout"] == "0.00"


def test_only_admins_and_finance_see_money_and_strangers_see_nothing(portal, app, db):
    admin, developer, _game = paid_studio(portal, app, amount="150.00")
    finance_member = portal.member(admin, "finance")
    assert balance(finance_member)["available"] == "150.00"
    for role in ("developer", "marketing"):
        member = portal.member(admin, role)
        assert_error(member.get("/finance/balance"), 403, "FORBIDDEN")
        assert_error(
            member.post(
                "/finance/payouts",
                json={"amount": {"amount": "150.00", "currency": "USD"}},
                headers={"Idempotency-Key": "m"},
            ),
            403,
            "FORBIDDEN",
        )
    stranger, _other = portal.studio()
    assert_error(
        stranger.get("/finance/balance", query_string={"developerId": developer["developerId"]}),
        404,
        "NOT_FOUND",
    )
    platform_admin = portal.user(roles=("admin",))
    assert balance(platform_admin, developerId=developer["developerId"])["available"] == "150.00"
    assert expect(
        platform_admin.get("/finance/transactions", query_string={"developerId": developer["developerId"]}),
        200,
    )["items"]


def test_settings_are_stored_encrypted_and_never_shown_whole(portal, app, db):
    admin, developer = portal.studio()
    iban = "DE89370400440532013000"
    body = {
        "method": "bank_transfer",
        "details": {"accountHolder": "Northwind", "iban": iban, "bic": "COBADEFFXXX"},
        "threshold": "250.00",
        "schedule": "monthly",
    }
    stored = expect(admin.put("/finance/settings", json=body), 200)
    assert stored["details"]["iban"].endswith("3000") and iban not in str(stored)
    assert expect(admin.get("/finance/settings"), 200) == stored
    audit = expect(admin.get("/accounts/me/audit-log"), 200)["items"]
    assert iban not in str(audit)

    with db.transaction() as session:
        row = session.execute(
            select(payout_settings).where(
                payout_settings.c.developer_id == uuid.UUID(developer["developerId"])
            )
        ).one()
    assert iban not in row.details_encrypted
    plain = app.extensions["developer_portal"].settings.payout_details_cipher.decrypt(
        row.details_encrypted.encode()
    )
    assert iban in plain.decode()
    assert_error(admin.put("/finance/settings", json={**body, "threshold": "50.00"}), 422, "VALIDATION_ERROR")
    assert_error(admin.put("/finance/settings", json={**body, "threshold": 250}), 422, "VALIDATION_ERROR")
    assert_error(admin.put("/finance/settings", json={**body, "method": "cash"}), 422, "VALIDATION_ERROR")


def test_transactions_filter_page_and_export_as_csv(portal, app, db):
    admin, _developer = portal.studio()
    game, other = portal.game(admin), portal.game(admin)
    consume(app, *(store_revenue(game, "10.00") for _ in range(3)), store_revenue(other, "20.00"))
    first = expect(admin.get("/finance/transactions", query_string={"limit": 2}), 200)
    second = expect(
        admin.get("/finance/transactions", query_string={"limit": 2, "cursor": first["nextCursor"]}), 200
    )
    assert len(first["items"]) == len(second["items"]) == 2 and second["nextCursor"] is None
    assert {e["entryId"] for e in first["items"]}.isdisjoint(e["entryId"] for e in second["items"])
    only = expect(admin.get("/finance/transactions", query_string={"gameId": other["gameId"]}), 200)["items"]
    assert [e["amount"]["amount"] for e in only] == ["14.00"]
    assert expect(admin.get("/finance/transactions", query_string={"type": "payout"}), 200)["items"] == []
    assert_error(admin.get("/finance/transactions", query_string={"type": "gift"}), 422, "VALIDATION_ERROR")
    exported = admin.get("/finance/transactions", headers={"Accept": "text/csv"})
    assert exported.status_code == 200 and exported.mimetype == "text/csv"
    rows = list(csv.DictReader(io.StringIO(exported.get_data(as_text=True))))
    assert len(rows) == 4 and sum(Decimal(r["amount"]) for r in rows) == Decimal("35.00")


def test_platform_admins_set_the_revenue_share_and_adjust_with_a_reason(portal, app, db):
    admin, developer = portal.studio()
    game = portal.game(admin)
    platform_admin = portal.user(roles=("admin",))
    path = f"/finance/studios/{developer['developerId']}"
    assert expect(platform_admin.get(f"{path}/revenue-share"), 200)["default"] is True
    tiers = {"tiers": [{"upTo": "1000", "rate": "0.20"}, {"upTo": None, "rate": "0.10"}]}
    assert expect(platform_admin.put(f"{path}/revenue-share", json=tiers), 200)["default"] is False
    assert_error(admin.put(f"{path}/revenue-share", json=tiers), 403, "FORBIDDEN")
    assert_error(
        platform_admin.put(f"{path}/revenue-share", json={"tiers": [{"upTo": "10", "rate": "0.2"}]}),
        422,
        "VALIDATION_ERROR",
    )
    consume(app, store_revenue(game, "1500.00"))  # 1000 at 20 %, 500 at 10 %: 250 to the platform
    assert balance(admin)["pending"] == "1250.00"

    adjust = {
        "amount": {"amount": "25.00", "currency": "USD"},
        "direction": "debit",
        "reason": "duplicate store credit",
    }
    entry = expect(
        platform_admin.post(f"{path}/adjustments", json=adjust, headers={"Idempotency-Key": "adj-1"}), 201
    )
    assert entry["type"] == "adjustment" and entry["amount"]["amount"] == "-25.00"
    assert entry["details"]["reason"] == "duplicate store credit"
    assert balance(admin)["available"] == "-25.00"
    assert_error(
        platform_admin.post(
            f"{path}/adjustments", json={**adjust, "reason": " "}, headers={"Idempotency-Key": "adj-2"}
        ),
        422,
        "VALIDATION_ERROR",
    )
    assert_error(platform_admin.post(f"{path}/adjustments", json=adjust), 400, "VALIDATION_ERROR")
    actions = [
        a["action"]
        for a in expect(platform_admin.get(f"/accounts/{developer['developerId']}/audit-log"), 200)["items"]
    ]
    assert "ledger.adjusted" in actions and "revenue_share.updated" in actions


def test_sales_credited_a_poll_at_a_time_post_what_one_at_a_time_posts(portal, app, db):
    """Two studios on the same low tiers get the same sales of one game each, one studio's one
    event a transaction, the other's all in one poll (with a redelivery and a return ahead of
    its sale): the same share for every sale across the tier boundary, to the cent."""
    platform_admin = portal.user(roles=("admin",))
    tiers = {"tiers": [{"upTo": "100", "rate": "0.30"}, {"upTo": None, "rate": "0.15"}]}
    studios = []
    for _ in range(2):
        admin, developer = portal.studio()
        path = f"/finance/studios/{developer['developerId']}/revenue-share"
        expect(platform_admin.put(path, json=tiers), 200)
        studios.append((admin, developer, portal.game(admin)))
    prices = ["9.99", "33.33", "0.99", "41.17", "19.99", "7.77", "12.34"]  # crosses 100 on the fifth

    def sales_of(game):
        sales = [retailer_sale(game, unit_price=price, quantity=1 + n % 2) for n, price in enumerate(prices)]
        return sales, retailer_return(sales[2], 1)

    (one_admin, one, one_game), (poll_admin, poll, poll_game) = studios
    sales, returned = sales_of(one_game)
    consume(app, *sales, returned)
    sales, returned = sales_of(poll_game)
    consume(app, returned, *sales[:4], sales[1], *sales[4:], per_poll=len(sales) + 2)

    assert balance(one_admin) == balance(poll_admin)
    assert entries_of(db, one["developerId"]) == entries_of(db, poll["developerId"]) == len(prices) + 1
    with db.transaction() as session:
        posted = {
            developer["developerId"]: session.execute(
                select(ledger_postings.c.amount)
                .join(ledger_entries, ledger_entries.c.entry_id == ledger_postings.c.entry_id)
                .where(
                    ledger_entries.c.developer_id == uuid.UUID(developer["developerId"]),
                    ledger_postings.c.account == "platform:revenue",
                )
                .order_by(ledger_postings.c.amount)
            )
            .scalars()
            .all()
            for developer in (one, poll)
        }
        assert len(posted[one["developerId"]]) == len(prices) + 1  # every sale and the return
        assert posted[one["developerId"]] == posted[poll["developerId"]]
        assert ledger.drifted_balances(session) == []


def test_the_ledger_check_finds_every_balance_equal_to_its_postings(db):
    with db.transaction() as session:
        assert ledger.unbalanced_entries(session) == []
        assert ledger.drifted_balances(session) == []


def test_the_ledger_refuses_updates_and_deletes(db):
    with pytest.raises(Exception, match="append-only"), db.transaction() as session:
        session.execute(ledger_entries.update().values(kind="sale"))
    with pytest.raises(Exception, match="append-only"), db.transaction() as session:
        session.execute(ledger_entries.delete())


def test_scheduled_payouts_pay_the_available_balance_once_on_the_payout_day(portal, app, db):
    admin, _developer, _game = paid_studio(portal, app, amount="300.00")
    settings = {**PAYPAL_SETTINGS, "schedule": "monthly", "threshold": "200.00"}
    expect(admin.put("/finance/settings", json=settings), 200)
    state = app.extensions["developer_portal"]
    payout_day = date(2026, 12, state.settings.payout_day)
    developer_id = uuid.UUID(expect(admin.get("/accounts/me"), 200)["developerId"])
    with db.transaction() as session:
        studio = repository.get_developer(session, developer_id)
        preview = finance.preview(state, session, studio, today=payout_day - timedelta(days=1))
    assert preview["nextPayoutDate"] == payout_day.isoformat()
    assert preview["currencies"][0]["nextPayout"] == "300.00"

    assert finance.make_scheduled_payouts(state, today=payout_day - timedelta(days=1)) == 0
    assert finance.make_scheduled_payouts(state, today=payout_day) >= 1
    finance.make_scheduled_payouts(state, today=payout_day)  # a restarted worker: nothing more
    [payout] = expect(admin.get("/finance/payouts"), 200)["items"]
    assert payout["scheduled"] is True and payout["amount"] == {"amount": "300.00", "currency": "USD"}
    assert (balance(admin)["available"], balance(admin)["inPayout"]) == ("0.00", "300.00")


def test_the_payment_service_marks_a_payout_processing_then_answers(portal, app, db, make_token):
    admin, developer, _game = paid_studio(portal, app, amount="200.00")
    payout = expect(
        admin.post(
            "/finance/payouts",
            json={"amount": {"amount": "200.00", "currency": "USD"}},
            headers={"Idempotency-Key": "processing"},
        ),
        201,
    )
    payment_service = app.test_client()
    auth = {
        "Authorization": f"Bearer {make_token(sub='payment-service', roles=(), scopes=('payouts:process',))}"
    }
    path = f"/internal/v1/payouts/{payout['payoutId']}/processing"
    assert expect(payment_service.post(path, headers=auth), 200)["status"] == "processing"
    assert expect(payment_service.post(path, headers=auth), 200)["status"] == "processing"  # a retry
    consume(app, payout_answer(payout, developer["developerId"]))
    assert expect(admin.get(f"/finance/payouts/{payout['payoutId']}"), 200)["status"] == "completed"
    assert_error(payment_service.post(path, headers=auth), 409, "CONFLICT")
    missing = f"/internal/v1/payouts/{uuid.uuid4()}/processing"
    assert_error(payment_service.post(missing, headers=auth), 404, "NOT_FOUND")
    assert_error(admin.post(path), 403, "FORBIDDEN")
