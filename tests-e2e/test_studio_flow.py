"""What a studio does besides keys, through the gateway: its CI pushes a build with the
`gamekeys` CLI and a per-game CI key and it turns ready (an EICAR build is refused), the build
goes through preflight, review and publishing; and its money: a retailer's sale and a store sale
(from the local Payment Service stand-in) arrive pending in its balance, the hold passes, a payout
is requested and completed, each step's events on their topics."""

from __future__ import annotations

import os
import subprocess
import sys
import time
import uuid
from pathlib import Path

import payment_service
import platform_client as pc

GAMEKEYS = Path(sys.executable).parent / "gamekeys"
EICAR = rb"X5O!P%@AP[4\PZX54(P^)7CC)7}$EICAR-STANDARD-ANTIVIRUS-TEST-FILE!$H+H*"


def push(ci_key: str, game_id: str, path: Path, version: str, state_dir: Path):
    env = {**os.environ, "GAMEKEYS_API_URL": pc.GATEWAY, "GAMEKEYS_API_KEY": ci_key}
    command = [
        str(GAMEKEYS),
        "push",
        str(path),
        "--game",
        game_id,
        "--version",
        version,
        "--platform",
        "linux",
    ]
    return subprocess.run(  # the project's own CLI, arguments made here
        [*command, "--state-dir", str(state_dir), "--timeout", "120"], env=env, capture_output=True, text=True
    )


def test_a_build_pushed_by_the_cli_through_the_gateway_becomes_ready(events, tmp_path):
    studio, game = pc.create_verified_game(f"E2E Builds {uuid.uuid4().hex[:6]}")
    versions = f"/api/v1/developer/games/{game['gameId']}/versions"
    # game-builds learns of the game from developer.events
    pc.wait_for(
        lambda: studio.session.get(pc.GATEWAY + versions, timeout=10).status_code,
        lambda s: s == 200,
        "game-builds",
    )
    # a CI key for this game alone: the studio's CI holds no user token
    key = {"name": "e2e CI", "scopes": ["builds:write"], "gameIds": [game["gameId"]]}
    ci_key = studio.call("POST", "/api/v1/developer/apikeys", 201, json=key)["key"]
    build = tmp_path / "game.bin"
    build.write_bytes(os.urandom(3 * 1024 * 1024))
    pushed = push(ci_key, game["gameId"], build, "1.0.0", tmp_path)
    assert pushed.returncode == 0, pushed.stderr[-2000:]
    [version] = studio.call("GET", versions, 200)["items"]
    assert (version["status"], version["version"], version["file"]["size"]) == (
        "ready",
        "1.0.0",
        3 * 1024 * 1024,
    )
    events.wait("builds.events", "build.ready", subject=version["versionId"])

    # the ready build goes through review to the store
    _preflight, submission, published = pc.publish_game(studio, game["gameId"], version["versionId"])
    assert published["status"] == "published"
    events.wait("developer.events", "submission.decided", subject=submission["submissionId"])
    [event] = events.wait("developer.events", "game.published", subject=game["gameId"])
    assert event["data"]["versionId"] == version["versionId"]
    # the Catalog Service's view: the listing read from developer-portal, and the same in the event
    catalog = pc.Caller(pc.token("catalog-service", scopes=["catalog:read"]), base=pc.DEVELOPER_PORTAL)
    listing = catalog.call("GET", f"/internal/v1/games/{game['gameId']}", 200)
    assert listing["status"] == "published" and listing["title"] == game["title"]
    assert listing["builds"] == [{"platform": "linux", "versionId": version["versionId"], "version": "1.0.0"}]
    assert listing["pricing"]["currentPrice"] == {"amount": "19.99", "currency": "EUR"}
    assert event["data"]["listing"]["builds"] == listing["builds"]

    malware = tmp_path / "setup.exe"
    malware.write_bytes(EICAR)
    refused = push(ci_key, game["gameId"], malware, "6.6.6", tmp_path)
    assert refused.returncode == 1 and "malware" in refused.stderr


def test_sales_reach_the_studios_balance_and_it_is_paid_out(caller, events):
    studio, game = pc.create_verified_game(f"E2E Money {uuid.uuid4().hex[:6]}")
    batch = pc.order_batch(studio, game["gameId"], 10)
    pc.wait_for(
        lambda: studio.call("GET", f"/api/v1/keys/batches/{batch['batchId']}", 200),
        lambda b: b["status"] == "completed",
        "the batch",
    )
    retailer, _allocation = pc.retailer_with_keys(
        caller(roles=["admin"]), f"E2E Till {uuid.uuid4().hex[:6]}", game["gameId"], 10
    )
    shop = pc.retailer_session(retailer)
    fetched = shop.call("GET", "/api/v1/distribution/retailer/keys", 200, params={"limit": 10})["items"]
    sale = {
        "orderId": f"e2e-money-{uuid.uuid4().hex[:8]}",
        "keyIds": [item["keyId"] for item in fetched],
        "price": {"amount": "20.00", "currency": "USD"},
        "soldAt": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }
    shop.call("POST", "/api/v1/distribution/retailer/sales", 201, json=sale)
    payment_service.credit(game["developerId"], game["gameId"], "100.00", "USD")

    def usd():
        balances = studio.call("GET", "/api/v1/developer/finance/balance", 200)["balances"]
        return next((b for b in balances if b["currency"] == "USD"), {})

    # 200.00 gross less the retailer's 15 %, 70 % of it (119.00), and 70 % of the store's 100.00
    assert retailer["commissionRate"] == "0.1500"
    credited = pc.wait_for(
        usd,
        lambda b: b.get("pending") not in (None, "0.00") or b.get("available") not in (None, "0.00"),
        "the sales",
    )
    pc.wait_for(
        usd, lambda b: b.get("pending") == "0.00" and b.get("available") not in (None, "0.00"), "the hold"
    )
    available = usd()["available"]
    assert available == "189.00", (credited, available)
    studio.call(
        "PUT",
        "/api/v1/developer/finance/settings",
        200,
        json={"method": "paypal", "details": {"email": "e2e@studio.example"}},
    )
    payout = studio.call(
        "POST",
        "/api/v1/developer/finance/payouts",
        201,
        json={"amount": {"amount": available, "currency": "USD"}},
        headers={"Idempotency-Key": str(uuid.uuid4())},
    )
    events.wait("developer.events", "payout.requested", subject=payout["payoutId"])
    payment_service.complete(payout["payoutId"], game["developerId"], available, "USD")
    paid = pc.wait_for(usd, lambda b: b.get("inPayout") == "0.00", "the payout")
    assert paid["paidOut"] == available
    kinds = {
        e["data"]["kind"]
        for e in events.matching("developer.events", "ledger.entry_posted", developerId=game["developerId"])
    }
    assert {"sale", "revenue", "release", "payout", "payout_completed"} <= kinds
