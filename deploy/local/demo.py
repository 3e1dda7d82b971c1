"""Drive the running platform through its main job, through the gateway, and say what happened.

Run by `make run` after every service is ready. Each step uses only public APIs (and, where
the platform's own Admin Service would act, the internal endpoint with a service token), so
what it prints is what a studio would see. Steps arrive as the services do.
"""

from __future__ import annotations

import os
import secrets
import subprocess
import sys
import tempfile
import time
import uuid
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import payment_service
from platform_client import (
    GATEWAY,
    KEY_MANAGER,
    Caller,
    UnexpectedResponse,
    create_verified_game,
    order_batch,
    payment_service_caller,
    publish_game,
    redeem,
    retailer_session,
    retailer_with_keys,
    store_order,
    token,
    wait_for,
)

from key_manager.domain import codec

BATCH_SIZE = 100_000


def step(text: str) -> None:
    print(f"\n• {text}", flush=True)


def main() -> None:
    studio, game = create_verified_game("Demo Studio", narrate=step)

    step(f"It orders a batch of {BATCH_SIZE:,} keys (key-manager learns of the game from developer.events)")
    batch = order_batch(studio, game["gameId"], BATCH_SIZE)
    started = time.monotonic()
    while batch["status"] not in ("completed", "failed"):
        print(f"\r  batch {batch['batchId']}: {batch['status']} {batch['progress']:.0%}", end="", flush=True)
        time.sleep(0.3)
        batch = studio.call("GET", f"/api/v1/keys/batches/{batch['batchId']}", 200)
    print(
        f"\r  batch {batch['batchId']}: {batch['status']}, {batch['generatedKeys']:,} keys "
        f"in {time.monotonic() - started:.1f} s"
    )
    if batch["status"] != "completed":
        raise SystemExit(f"demo: the batch failed: {batch.get('failureReason')}")

    step("It generates 5 promotional keys on the spot (shown once, stored encrypted)")
    promotional = {"gameId": game["gameId"], "keyType": "promotional", "quantity": 5}
    generated = studio.call("POST", "/api/v1/keys/generate", 201, json=promotional)
    for key in generated["keys"]:
        info = studio.call("GET", f"/api/v1/keys/{key['id']}", 200)
        print(f"  {key['key']}  stored as {info.get('maskedKey') or info.get('key')}  ({info['status']})")

    step(
        "The studio's CI pushes a build with `gamekeys push` and a CI key; it is verified, scanned and ready"
    )
    version_id = push_builds(studio, game)

    step(
        "It completes the store page, passes preflight and submits; the Admin Service approves; it publishes"
    )
    preflight, submission, published = publish_game(studio, game["gameId"], version_id)
    print(f"  preflight: {sum(c['ok'] for c in preflight['checks'])}/{len(preflight['checks'])} checks pass")
    print(
        f"  submission {submission['submissionId']} approved by the Admin Service; "
        f"the game is {published['status']}"
    )

    step("A retailer is added and 1,000 keys are allocated to it")
    platform_admin = Caller(token(str(uuid.uuid4()), roles=["admin"]))
    retailer, allocation = retailer_with_keys(platform_admin, "Demo Games Shop", game["gameId"], 1_000)
    print(f"  {retailer['name']}: allocation {allocation['allocationId']} of {allocation['quantity']:,} keys")

    step("The retailer signs in (OAuth 2.0 client credentials), fetches its keys and sells 500")
    shop = retailer_session(retailer)
    fetched = shop.call("GET", "/api/v1/distribution/retailer/keys", 200, params={"limit": 1_000})["items"]
    sold_ids = [item["keyId"] for item in fetched[:500]]
    sold_at = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    for start in range(0, len(sold_ids), 250):
        shop.call(
            "POST",
            "/api/v1/distribution/retailer/sales",
            201,
            json={
                "orderId": f"demo-order-{start}",
                "keyIds": sold_ids[start : start + 250],
                "price": {"amount": "19.99", "currency": "EUR"},
                "soldAt": sold_at,
            },
        )
    print(f"  fetched {len(fetched):,} keys, sold {len(sold_ids)} in 2 orders")
    sold_keys = [item["key"] for item in fetched[:500]]

    step("100 players redeem the keys they bought")
    with ThreadPoolExecutor(max_workers=8) as pool:
        outcomes = list(pool.map(lambda n: redeem(sold_keys[n], f"192.0.2.{n + 1}", "DE")[0], range(100)))
    print(f"  {dict(Counter(outcomes))}")

    step("The studio's activation report (analytics: every event in ClickHouse, counted once)")
    report = wait_for(
        lambda: studio.call("GET", f"/api/v1/analytics/games/{game['gameId']}", 200),
        lambda body: body["totals"]["attempts"] >= 100,
        "the activations to reach analytics",
    )
    countries = ", ".join(f"{c['country']} {c['activations']}" for c in report["countries"][:3])
    totals = report["totals"]
    print(
        f"  last 30 days: {totals['activations']} activations of {totals['attempts']} attempts; {countries}"
    )

    step("Its regions, a forecast of daily activations, and a chart of it (analytics)")
    show_regions_and_forecast(studio, game)

    step("An attacker guessing keys is stopped")
    attacker, seen = Caller(token(str(uuid.uuid4()), roles=["user"])), []
    # A new address and rig each run: lockouts last an hour, and a second `make run` within it
    # should show the lockout happening again, not one still in force.
    address, rig = f"203.0.113.{secrets.randbelow(254) + 1}", f"attacker-rig-{uuid.uuid4().hex[:6]}"
    for _ in range(15):
        guess = codec.format_key(codec.generate_keys(1)[0])
        seen.append(redeem(guess, address, "RU", caller=attacker, device=rig)[0])
    print(f"  15 guesses answered: {' '.join(seen)}")

    step("A key locked to Germany is refused from the United States")
    locked = studio.call(
        "POST",
        "/api/v1/keys/generate",
        201,
        json={
            "gameId": game["gameId"],
            "keyType": "promotional",
            "quantity": 1,
            "regionalRestrictions": [{"type": "allow", "countries": ["DE"]}],
        },
    )["keys"][0]["key"]
    outcome, body = redeem(locked, "198.51.100.20", "US")
    print(f"  {outcome}: {body['error']['message']}")

    step("A suspicious redemption goes to review, support approves it, the activation completes")
    # Promotional keys (not resold, so only the shared device counts against them): one device,
    # several accounts. The first ones pass; then antifraud asks for a human look.
    promotional_keys = [key["key"] for key in generated["keys"]]
    shared_device = f"shared-device-{uuid.uuid4().hex[:6]}"
    for n in range(5):
        player = Caller(token(str(uuid.uuid4()), roles=["user"]))
        outcome, body = redeem(
            promotional_keys[n], f"192.0.2.{150 + n}", "DE", caller=player, device=shared_device
        )
        if outcome == "pending_review":
            break
    else:
        raise SystemExit("demo: the shared device was never sent to review")
    print(f"  account {n + 1} on the shared device: {outcome} (transaction {body['transactionId']})")
    support = Caller(token(str(uuid.uuid4()), roles=["support"]))
    open_cases = support.call("GET", "/api/v1/antifraud/cases", 200, params={"status": "open", "limit": 100})
    case = next(case for case in open_cases["items"] if case["keyId"] == body["keyId"])
    support.call(
        "POST",
        f"/api/v1/antifraud/cases/{case['caseId']}/decision",
        200,
        json={"decision": "approve", "note": "known household"},
    )
    history = f"/api/v1/activations/users/{case['userId']}/history"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        records = player.call("GET", history, 200)["items"]
        if records and records[0]["status"] == "activated":
            break
        time.sleep(0.5)
    print(f"  case {case['caseId']} approved by support; activation now {records[0]['status']}")

    step("The store sells a gift copy: the Payment Service issues the paid order's key, the buyer redeems it")
    store_order_id = sell_a_gift_copy(studio, game)

    step("The studio's money: retail and store sales are pending, the hold passes, it is paid out")
    show_the_money(studio, game, store_order_id)

    leaks_and_chargebacks(studio, platform_admin, retailer, shop, sold_ids)

    step("Someone else's token sees none of it")
    stranger = Caller(token(str(uuid.uuid4()), roles=["developer"]))
    stranger.call("GET", f"/api/v1/keys/batches/{batch['batchId']}", 404)
    print("  another studio's developer: 404 for the batch")

    print("\nDemo complete.")


def leaks_and_chargebacks(
    studio: Caller, platform_admin: Caller, retailer: dict, shop: Caller, sold_ids: list[str]
) -> None:
    """A retailer charges back an order after a key of it was redeemed; the studio traces that
    key; the retailer turns out to leak, and a platform admin revokes its unsold stock in one call
    (the report printed)."""
    step("The retailer charges back two keys of its first order: one redeemed, one not")
    redeemed, unredeemed = sold_ids[0], sold_ids[150]  # players redeemed the first 100 keys sold
    chargeback = shop.call(
        "POST",
        "/api/v1/distribution/retailer/chargebacks",
        201,
        json={"orderId": "demo-order-0", "keyIds": [redeemed, unredeemed], "reason": "fraud"},
        headers={"Idempotency-Key": f"demo-chargeback-{uuid.uuid4()}"},
    )
    print(
        f"  chargeback {chargeback['chargebackId']} of {chargeback['amount']['amount']} "
        f"{chargeback['amount']['currency']}: revoked {len(chargeback['revokedKeyIds'])} unredeemed key, "
        f"disputed {len(chargeback['disputedKeyIds'])} activation"
    )

    step("The studio traces the redeemed key (provenance: channel, order, price, activation, dispute)")
    trace = wait_for(
        lambda: studio.call("GET", f"/api/v1/keys/{redeemed}/provenance", 200),
        # activation-gateway marks the activation disputed from key.disputed, a moment later.
        lambda t: t["activation"] is None or t["activation"]["status"] != "activated",
        "the dispute to reach the activation",
        timeout=60,
    )
    sale, activation = trace["sale"] or {}, trace["activation"] or {}
    print(
        f"  {trace['allocation']['retailerName']}, order {sale.get('orderId')} at "
        f"{(sale.get('price') or {}).get('amount')} {(sale.get('price') or {}).get('currency')}; "
        f"activation {activation.get('status')} in {activation.get('region')}, fraud score "
        f"{(activation.get('fraud') or {}).get('score')}"
    )
    for entry in trace["steps"]:
        print(f"    {entry['at']}  {entry['step']}")

    step("The retailer's keys show up on a grey-market site: an admin revokes its unsold stock in one call")
    report = platform_admin.call(
        "POST",
        f"/api/v1/distribution/retailers/{retailer['id']}/revoke-unsold",
        201,
        json={"requestId": f"demo-leak-{uuid.uuid4()}", "reason": "keys found on a grey-market site"},
    )
    print(
        f"  revoked {report['revokedKeys']:,} unsold keys; left with their buyers: "
        f"{report['leftSold']:,} sold, {report['leftActivated']:,} activated"
    )
    for line in report["allocations"]:
        print(
            f"    allocation {line['allocationId']} (game {line['gameId']}): revoked {line['revoked']:,}, "
            f"sold {line['leftSold']:,}, activated {line['leftActivated']:,}"
        )


# The antivirus test file every scanner knows (harmless): what malware looks like to clamd.
EICAR = rb"X5O!P%@AP[4\PZX54(P^)7CC)7}$EICAR-STANDARD-ANTIVIRUS-TEST-FILE!$H+H*"


def show_regions_and_forecast(studio: Caller, game: dict) -> None:
    base = f"/api/v1/analytics/games/{game['gameId']}"
    regions = studio.call("GET", f"{base}/regions", 200)
    for item in regions["items"][:5]:
        print(
            f"  {item['country'] or '(none)'}: {item['activations']} activations of {item['attempts']} "
            f"attempts, {float(item['share']):.0%}"
        )
    today = time.strftime("%Y-%m-%d", time.gmtime())
    forecast = studio.call("GET", f"{base}/forecast", 200, params={"to": today, "horizon": 14})
    week = ", ".join(
        f"{p['expected']:.0f} [{p['lower']:.0f}-{p['upper']:.0f}]" for p in forecast["series"][:7]
    )
    print(f"  forecast ({forecast['method']}: {forecast['methodReason']})")
    print(f"  next 7 days, expected [80 % interval]: {week}")
    chart = studio.session.get(
        GATEWAY + f"{base}/forecast",
        params={"to": today, "horizon": 14},
        headers={"Accept": "image/png"},
        timeout=60,
    )
    if chart.status_code != 200 or chart.headers.get("Content-Type") != "image/png":
        raise UnexpectedResponse(f"the forecast chart answered {chart.status_code}: {chart.text[:300]}")
    path = Path(__file__).resolve().parents[2] / ".local" / "demo-forecast.png"
    path.parent.mkdir(exist_ok=True)
    path.write_bytes(chart.content)
    print(f"  chart: {path}")


def push_builds(studio: Caller, game: dict) -> str:
    """The studio's admin makes a CI key for this game alone; with it, the CLI a studio's CI
    installs pushes a 32 MiB build (progress on the terminal), then the EICAR test file as a build,
    which the scan refuses; returns the ready build's id."""
    ci_key = studio.call(
        "POST",
        "/api/v1/developer/apikeys",
        201,
        json={"name": "demo CI", "scopes": ["builds:write"], "gameIds": [game["gameId"]]},
    )
    print(f"  CI key {ci_key['prefix']}…{ci_key['last4']} for this game, builds:write (shown once)")
    with tempfile.TemporaryDirectory() as scratch:
        build, eicar = Path(scratch) / "game-1.0.0.zip", Path(scratch) / "not-a-game.exe"
        build.write_bytes(os.urandom(32 * 1024 * 1024))
        eicar.write_bytes(EICAR)
        env = {
            **os.environ,
            "GAMEKEYS_API_URL": GATEWAY,
            "GAMEKEYS_API_KEY": ci_key["key"],
        }
        push = [str(Path(sys.executable).parent / "gamekeys"), "push", "--game", game["gameId"]]
        push += ["--platform", "windows", "--state-dir", scratch]
        # the project's own CLI, with arguments made here
        subprocess.run(  # noqa: S603
            [*push, str(build), "--version", "1.0.0", "--changelog", "First release"], env=env, check=True
        )
        refused = subprocess.run(  # noqa: S603
            [*push, str(eicar), "--version", "0.0.1-eicar"], env=env, capture_output=True, text=True
        )
    if refused.returncode != 1:
        raise SystemExit(f"demo: the EICAR build was not refused: {refused.stdout}{refused.stderr}")
    print(f"  the EICAR test file pushed as a build: {refused.stderr.strip().splitlines()[-1]}")
    versions = studio.call("GET", f"/api/v1/developer/games/{game['gameId']}/versions", 200)["items"]
    return next(v["versionId"] for v in versions if v["status"] == "ready")


def sell_a_gift_copy(studio: Caller, game: dict) -> str:
    """The studio generates gift keys for the store and caps what it may sell; the Catalog reads
    the stock; the Payment Service, once the buyer paid, has key-manager issue the order's key (a
    retry after a lost answer gives the same key); the buyer redeems it. Returns the order id."""
    gift = {"gameId": game["gameId"], "keyType": "gift", "quantity": 3}
    studio.call("POST", "/api/v1/keys/generate", 201, json=gift)
    studio.call("PUT", f"/api/v1/keys/store-quotas/{game['gameId']}/gift", 200, json={"quota": 2})
    catalog = Caller(token("catalog-service", scopes=["catalog:read"]), base=KEY_MANAGER)
    stock = catalog.call("GET", "/internal/v1/keys/stock", 200, params={"gameId": game["gameId"]})
    gift_stock = next(item for item in stock["items"] if item["keyType"] == "gift")
    print(f"  3 gift keys for the store, a quota of 2: the Catalog shows {gift_stock['available']} to sell")
    buyer = str(uuid.uuid4())
    order = store_order(game["gameId"], buyer)
    payment = payment_service_caller()
    issued = payment.call("POST", "/internal/v1/keys/issue", 201, json=order)
    retried = payment.call("POST", "/internal/v1/keys/issue", 200, json=order)
    key = issued["keys"][0]
    same = "the same key" if retried["keys"] == issued["keys"] else "ANOTHER KEY"
    print(f"  order {order['orderId']}: {key['key']} for the buyer (asked again: {same})")
    outcome, _body = redeem(key["key"], "192.0.2.201", "DE", caller=Caller(token(buyer, roles=["user"])))
    print(f"  the buyer redeems it: {outcome}")
    return order["orderId"]


def show_the_money(studio: Caller, game: dict, store_order_id: str) -> None:
    """Finance: distribution's sales and the store's sale (the local Payment Service stand-in
    sends its revenue.credited) land in the studio's ledger as pending; once the hold passes
    (seconds locally, 30 days by default) the studio asks for a payout and the stand-in completes
    it."""
    payment_service.credit(game["developerId"], game["gameId"], "59.99", "EUR", order_id=store_order_id)
    credited = wait_for(
        lambda: studio.call(
            "GET", "/api/v1/developer/finance/transactions", 200, params={"type": ["sale", "revenue"]}
        ),
        lambda page: len(page["items"]) >= 3,
        "the sales to reach the ledger",
    )
    for entry in reversed(credited["items"]):
        print(f"  {entry['type']:8} {entry['amount']['amount']:>9} {entry['amount']['currency']} pending")
    eur = wait_for(
        lambda: _balance(studio, "EUR"),
        lambda balance: balance["pending"] == "0.00",
        "the hold to pass",
    )
    print(f"  hold passed: {eur['available']} EUR available")
    studio.call(
        "PUT",
        "/api/v1/developer/finance/settings",
        200,
        json={"method": "paypal", "details": {"email": "money@demo.example"}},
    )
    payout = studio.call(
        "POST",
        "/api/v1/developer/finance/payouts",
        201,
        json={"amount": {"amount": eur["available"], "currency": "EUR"}},
        headers={"Idempotency-Key": f"demo-payout-{uuid.uuid4()}"},
    )
    print(f"  payout {payout['payoutId']} of {eur['available']} EUR requested")
    payment_service.complete(payout["payoutId"], game["developerId"], eur["available"], "EUR")
    eur = wait_for(
        lambda: _balance(studio, "EUR"), lambda b: b["inPayout"] == "0.00", "the payout to complete"
    )
    print(f"  the Payment Service paid it: {eur['paidOut']} EUR paid out, {eur['available']} available")


def _balance(studio: Caller, currency: str) -> dict:
    balances = studio.call("GET", "/api/v1/developer/finance/balance", 200)["balances"]
    return next((b for b in balances if b["currency"] == currency), {"pending": "?", "inPayout": "?"})


if __name__ == "__main__":
    try:
        main()
    except (UnexpectedResponse, TimeoutError) as error:
        sys.exit(f"demo: {error}")
