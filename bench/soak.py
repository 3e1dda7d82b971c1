"""Soak run (issue 20): the whole running platform driven at a steady rate for N minutes, then a
report of errors, the memory of every process at the start and the end, outbox backlog, consumer
lag and dead letters. Target: 0 errors, 0 new dead letters, memory flat within 10 %.

    make run                                   # the platform, as the lead runs it
    .venv/bin/python bench/soak.py --minutes 30 [--rate 4] [--workers 12]
    make soak MINUTES=30                       # the same

What it does, through the gateway and the platform's public APIs (the Admin and Payment Services'
parts through their internal endpoints and the local Payment Service stand-in, as the demo does):

- studios: two at the start and a new one every --studio-every seconds, each registered,
  verified, with a game, a CI key, payout settings, a batch of retail keys and a retailer holding
  an allocation of them (topped up from new batches as it sells);
- at --rate operations a second, drawn at random by weight: redemptions (of keys a retailer sold
  more than a minute ago, else of promotional keys), retail sales, a few returns, promotional key
  generation, batches, key and analytics reads, fraud cases (accounts sharing one device until
  antifraud asks for review, then support decides: approve completes the activation, reject
  refuses it), builds pushed with the `gamekeys` CLI (now and then the EICAR test file, which
  must fail the scan), store sales and payouts (completed, one in four failed) by the Payment
  Service stand-in;
- every answer is checked against what it must be; anything else counts as an error of its kind,
  with the first few messages kept;
- after the run: the outboxes and consumers are given up to --drain-seconds to catch up, payouts
  must have settled and batches completed, then the report.

Memory is each process's proportional set size (PSS, /proc/<pid>/smaps_rollup: shared pages
split between the processes sharing them), summed per component: the services' API and worker
processes started from this checkout, and the infrastructure. "Start" is taken after the
set-up and --warmup-seconds of load (caches fill then), "end" after the drain.
"""

from __future__ import annotations

import argparse
import os
import random
import subprocess
import sys
import tempfile
import threading
import time
import traceback
import uuid
from collections import Counter, defaultdict, deque
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "deploy" / "local"))
import payment_service  # noqa: E402 - found through the path above
from platform_client import (  # noqa: E402
    DEVELOPER_PORTAL,
    GATEWAY,
    Caller,
    UnexpectedResponse,
    order_batch,
    redeem,
    retailer_session,
    retailer_with_keys,
    token,
    wait_for,
)
from run import read_env_file  # noqa: E402
from sqlalchemy import create_engine  # noqa: E402

from activation_gateway.consumers import BLOCKS_CONSUMER, CASES_CONSUMER  # noqa: E402
from analytics.worker import INGEST_GROUP  # noqa: E402
from analytics.worker import PROJECTION_CONSUMER as ANALYTICS_PROJECTION  # noqa: E402
from antifraud.worker import VELOCITY_CONSUMER  # noqa: E402
from developer_portal.worker import BUILDS_CONSUMER, FINANCE_CONSUMER  # noqa: E402
from distribution.consumers import ACTIVATIONS_CONSUMER  # noqa: E402
from game_builds.worker import PROJECTION_CONSUMER as BUILDS_PROJECTION  # noqa: E402
from gamekeys_platform import opscli  # noqa: E402
from gamekeys_platform.events import TOPIC_BY_SOURCE  # noqa: E402
from key_manager.worker import PROJECTION_CONSUMER as KEYS_PROJECTION  # noqa: E402

ENV = read_env_file(ROOT / "deploy" / "local" / "env")
KAFKA = ENV["KAFKA_BOOTSTRAP_SERVERS"].split(",")
DATABASE_URL = ENV["DATABASE_URL"]
# The platform's consumer groups (tests' groups of their own are not the platform's lag).
PLATFORM_GROUPS = (
    CASES_CONSUMER,
    BLOCKS_CONSUMER,
    INGEST_GROUP,
    ANALYTICS_PROJECTION,
    VELOCITY_CONSUMER,
    BUILDS_CONSUMER,
    FINANCE_CONSUMER,
    ACTIVATIONS_CONSUMER,
    BUILDS_PROJECTION,
    KEYS_PROJECTION,
)
TOPICS = tuple(TOPIC_BY_SOURCE.values())

BATCH_SIZE = 1_000  # retail keys per batch
HELD_REDEMPTION_SECONDS = 180  # a redemption held because antifraud answered late completes within
ALLOCATION_SIZE = 200  # keys per allocation to a world's retailer
PROMOTIONAL_SIZE = 20  # keys per /generate
RESALE_QUIET_SECONDS = 65  # antifraud scores an activation within a minute of its sale as instant resale
MAX_RETURNS_PER_RETAILER = 5  # 20 returned keys a day is the retailer-chargeback-wave rule
PRICE = {"amount": "19.99", "currency": "EUR"}
EICAR = rb"X5O!P%@AP[4\PZX54(P^)7CC)7}$EICAR-STANDARD-ANTIVIRUS-TEST-FILE!$H+H*"
TOKEN_REFRESH_SECONDS = 600  # studio and staff tokens live an hour, retailer tokens 15 minutes


class SoakError(Exception):
    """An answer other than the one the platform must give."""


def player_address(subnet: str | None = None) -> str:
    """An address in 10.0.0.0/8 (no country, no VPN or hosting kind in the local IP data), so
    a redemption's outcome depends on the key alone; only ever written in X-Forwarded-For."""
    subnet = subnet or f"10.{random.randint(0, 255)}.{random.randint(0, 255)}"
    return f"{subnet}.{random.randint(1, 254)}"


class Refreshing:
    """A ``Caller`` whose token is minted again every TOKEN_REFRESH_SECONDS."""

    def __init__(self, mint: Callable[[], Caller]) -> None:
        self.mint, self._lock = mint, threading.Lock()
        self._caller, self._made = mint(), time.monotonic()

    def __call__(self) -> Caller:
        with self._lock:
            if time.monotonic() - self._made > TOKEN_REFRESH_SECONDS:
                self._caller, self._made = self.mint(), time.monotonic()
            return self._caller


ADMIN = Refreshing(lambda: Caller(token(str(uuid.uuid4()), roles=["admin"])))
SUPPORT = Refreshing(lambda: Caller(token(str(uuid.uuid4()), roles=["support"])))
ADMIN_SERVICE = Refreshing(
    lambda: Caller(
        token("admin-service", scopes=["developers:verify", "games:moderate"]), base=DEVELOPER_PORTAL
    )
)


@dataclass
class Sold:
    key: str
    key_id: str
    order_id: str
    at: float


@dataclass
class World:
    """One studio with its game, keys, retailer, builds and money."""

    number: int
    owner: str
    developer_id: str
    game_id: str
    studio: Refreshing
    retailer: dict
    ci_key: str
    lock: threading.Lock = field(default_factory=threading.Lock)
    finance_lock: threading.Lock = field(default_factory=threading.Lock)
    shop_made: float = 0.0
    shop_caller: Caller | None = None
    allocated: deque = field(default_factory=deque)  # (keyId, key) not sold yet
    sold: deque = field(default_factory=deque)  # Sold, oldest first
    promotional: deque = field(default_factory=deque)  # plaintext keys not redeemed yet
    key_ids: list = field(default_factory=list)  # for status reads
    batches: list = field(default_factory=list)
    returns: int = 0
    builds: int = 0
    topping_up: bool = False

    def shop(self) -> Caller:
        with self.lock:
            if self.shop_caller is None or time.monotonic() - self.shop_made > TOKEN_REFRESH_SECONDS:
                self.shop_caller, self.shop_made = retailer_session(self.retailer), time.monotonic()
            return self.shop_caller


def expect(response: requests.Response, *statuses: int) -> dict:
    if response.status_code not in statuses:
        raise SoakError(
            f"{response.request.method} {response.url} answered {response.status_code}: {response.text[:300]}"
        )
    return response.json() if response.content else {}


def call(caller: Caller, method: str, path: str, expected: int, **kwargs) -> dict:
    try:
        return caller.call(method, path, expected, **kwargs)
    except UnexpectedResponse as error:
        raise SoakError(str(error)) from None


# -- setting up a studio ---------------------------------------------------------------------------


def new_world(number: int) -> World:
    owner = str(uuid.uuid4())
    studio = Refreshing(lambda: Caller(token(owner, roles=["developer"], email="owner@soak.example")))
    company = f"Soak Studio {number} {uuid.uuid4().hex[:4]}"
    account = call(
        studio(),
        "POST",
        "/api/v1/developer/accounts",
        201,
        json={"companyName": company, "legalDetails": {"legalName": f"{company} GmbH", "country": "DE"}},
    )
    developer_id = account["developerId"]
    call(
        ADMIN_SERVICE(),
        "POST",
        f"/internal/v1/developers/{developer_id}/verification",
        200,
        json={"status": "verified"},
    )
    game = call(studio(), "POST", "/api/v1/developer/games", 201, json={"title": f"{company} Quest"})
    ci_key = call(
        studio(),
        "POST",
        "/api/v1/developer/apikeys",
        201,
        json={"name": "soak CI", "scopes": ["builds:write"], "gameIds": [game["gameId"]]},
    )["key"]
    call(
        studio(),
        "PUT",
        "/api/v1/developer/finance/settings",
        200,
        json={"method": "paypal", "details": {"email": f"money-{number}@soak.example"}},
    )
    # key-manager learns of the game from developer.events: order_batch retries until it has.
    batch = order_batch(studio(), game["gameId"], BATCH_SIZE)
    wait_batch(studio(), batch["batchId"])
    shop_name = f"Soak Shop {number} {uuid.uuid4().hex[:4]}"
    retailer, allocation = retailer_with_keys(ADMIN(), shop_name, game["gameId"], ALLOCATION_SIZE)
    world = World(number, owner, developer_id, game["gameId"], studio, retailer, ci_key)
    world.batches.append(batch["batchId"])
    take_allocation(world, allocation["allocationId"])
    return world


def wait_batch(studio: Caller, batch_id: str, timeout: float = 120) -> dict:
    batch = wait_for(
        lambda: call(studio, "GET", f"/api/v1/keys/batches/{batch_id}", 200),
        lambda body: body["status"] in ("completed", "failed"),
        f"batch {batch_id}",
        timeout,
    )
    if batch["status"] != "completed":
        raise SoakError(f"batch {batch_id} {batch['status']}: {batch.get('failureReason')}")
    return batch


def take_allocation(world: World, allocation_id: str) -> None:
    """The retailer fetches the allocation's keys once (every fetch is audited) and keeps them."""
    page = call(
        world.shop(),
        "GET",
        "/api/v1/distribution/retailer/keys",
        200,
        params={"allocationId": allocation_id, "limit": ALLOCATION_SIZE},
    )
    keys = [(item["keyId"], item["key"]) for item in page["items"] if item["status"] == "allocated"]
    if len(keys) != ALLOCATION_SIZE:
        raise SoakError(
            f"allocation {allocation_id}: {len(keys)} allocated keys fetched of {ALLOCATION_SIZE}"
        )
    with world.lock:
        world.allocated.extend(keys)
        world.key_ids.extend(key_id for key_id, _key in keys[:20])


# -- the operations --------------------------------------------------------------------------------


def op_redeem(world: World) -> str:
    """A player redeems a key a retailer sold over a minute ago, else a promotional key."""
    with world.lock:
        if world.sold and time.monotonic() - world.sold[0].at >= RESALE_QUIET_SECONDS:
            key, kind = world.sold.popleft().key, "retail"
        elif world.promotional:
            key, kind = world.promotional.popleft(), "promotional"
        else:
            key = kind = None
    if key is None:
        op_generate(world)
        return "redeem (no key yet: generated promotional keys)"
    player_id = str(uuid.uuid4())
    player = Caller(token(player_id, roles=["user"]))
    outcome, body = redeem(key, player_address(), "DE", caller=player)
    if outcome == "pending_review" and body.get("error") is None:
        # antifraud did not answer in time: the redemption is held and activation-gateway's worker
        # completes it once antifraud answers (the documented policy); it must end activated.
        wait_for(
            lambda: call(player, "GET", f"/api/v1/activations/users/{player_id}/history", 200)["items"],
            lambda items: bool(items) and items[0]["status"] != "pending_review",
            f"the held redemption of a {kind} key to complete",
            HELD_REDEMPTION_SECONDS,
        )
        outcome = call(player, "GET", f"/api/v1/activations/users/{player_id}/history", 200)["items"][0][
            "status"
        ]
        if outcome == "activated":
            return f"redeem {kind} (held: antifraud answered late; completed by the worker)"
    if outcome != "activated":
        raise SoakError(f"redeeming a {kind} key: {outcome} {str(body)[:300]}")
    return f"redeem {kind}"


def op_sell(world: World) -> str:
    """The retailer sells 1-5 keys in one order; now and then it takes one back."""
    count = random.randint(1, 5)
    with world.lock:
        keys = [world.allocated.popleft() for _ in range(min(count, len(world.allocated)))]
        low = len(world.allocated) < ALLOCATION_SIZE // 4 and not world.topping_up
        world.topping_up |= low
    try:
        return sell(world, keys) if keys else "sell (nothing allocated: topping up)"
    finally:
        if low:
            top_up(world)  # after the sale: a failure here is the sell's error, the sale stands


def sell(world: World, keys: list[tuple[str, str]]) -> str:
    order_id = f"soak-{uuid.uuid4().hex[:12]}"
    body = {
        "orderId": order_id,
        "keyIds": [key_id for key_id, _key in keys],
        "price": PRICE,
        "soldAt": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }
    call(world.shop(), "POST", "/api/v1/distribution/retailer/sales", 201, json=body)
    now = time.monotonic()
    sold = [Sold(key, key_id, order_id, now) for key_id, key in keys]
    with world.lock:
        give_back = world.returns < MAX_RETURNS_PER_RETAILER and random.random() < 0.05
        world.returns += give_back
    if give_back:
        returned = sold.pop()
        call(
            world.shop(),
            "POST",
            "/api/v1/distribution/retailer/returns",
            200,
            json={"orderId": order_id, "keyIds": [returned.key_id], "reason": "the buyer changed their mind"},
        )
    with world.lock:
        world.sold.extend(sold)
    return "sell and return" if give_back else "sell"


def top_up(world: World) -> None:
    """A new allocation for the retailer from the game's batches (a new batch first when they have
    too few keys left: 409 INSUFFICIENT_KEY_ALLOCATION)."""
    try:
        response = allocate(world)
        if response.status_code == 409 and "INSUFFICIENT_KEY_ALLOCATION" in response.text:
            op_batch(world)  # waits until the batch is generated
            response = allocate(world)
        take_allocation(world, expect(response, 201)["allocationId"])
    finally:
        with world.lock:
            world.topping_up = False


def allocate(world: World) -> requests.Response:
    return ADMIN().session.post(
        f"{GATEWAY}/api/v1/distribution/allocations",
        headers={"Idempotency-Key": str(uuid.uuid4())},
        json={
            "retailerId": world.retailer["id"],
            "gameId": world.game_id,
            "quantity": ALLOCATION_SIZE,
            "keyType": "retail",
            "pricing": PRICE,
        },
        timeout=30,
    )


def op_generate(world: World) -> str:
    body = {"gameId": world.game_id, "keyType": "promotional", "quantity": PROMOTIONAL_SIZE}
    keys = call(world.studio(), "POST", "/api/v1/keys/generate", 201, json=body)["keys"]
    if len(keys) != PROMOTIONAL_SIZE:
        raise SoakError(f"/generate returned {len(keys)} keys of {PROMOTIONAL_SIZE}")
    with world.lock:
        world.promotional.extend(key["key"] for key in keys)
        world.key_ids.extend(key["id"] for key in keys[:2])
    return "generate"


def op_batch(world: World) -> str:
    batch = order_batch(world.studio(), world.game_id, BATCH_SIZE)
    with world.lock:
        world.batches.append(batch["batchId"])
    wait_batch(world.studio(), batch["batchId"])
    return "batch"


def op_read_key(world: World) -> str:
    with world.lock:
        key_id = random.choice(world.key_ids) if world.key_ids else None
    if key_id is None:
        return "read key (none yet)"
    body = call(world.studio(), "GET", f"/api/v1/keys/{key_id}", 200)
    if body.get("id", key_id) != key_id:
        raise SoakError(f"GET /keys/{key_id} answered another key: {str(body)[:200]}")
    return "read key"


def op_read_analytics(world: World) -> str:
    """The studio's activation report. analytics learns of a new studio from developer.events and
    may say it is catching up (503 with Retry-After): that is waited out, for 30 s at most."""
    url = f"{GATEWAY}/api/v1/analytics/games/{world.game_id}"
    response = wait_for(
        lambda: world.studio().session.get(url, timeout=30),
        lambda answer: answer.status_code not in (503, 404),
        "analytics to know the studio",
        30,
    )
    body = expect(response, 200)
    if "totals" not in body:
        raise SoakError(f"analytics answered without totals: {str(body)[:200]}")
    return "read analytics"


def op_fraud_case(world: World) -> str:
    """Accounts redeem promotional keys on one device (one /24) until antifraud sends one to
    review (device-farm: the fourth account); support approves or rejects the case, and the held
    activation completes or is refused."""
    with world.lock:
        if len(world.promotional) < 5:
            need_keys = True
        else:
            need_keys = False
            keys = [world.promotional.popleft() for _ in range(5)]
    if need_keys:
        op_generate(world)
        return "fraud case (generated promotional keys first)"
    device, outcomes = f"soak-shared-{uuid.uuid4().hex[:8]}", []
    subnet = f"10.{random.randint(0, 255)}.{random.randint(0, 255)}"
    for key in keys:
        player_id = str(uuid.uuid4())
        player = Caller(token(player_id, roles=["user"]))
        outcome, body = redeem(key, player_address(subnet), "DE", caller=player, device=device)
        outcomes.append(outcome)
        if outcome == "pending_review":
            break
        if outcome != "activated":
            raise SoakError(
                f"fraud case: account {len(outcomes)} on a shared device: {outcome} {str(body)[:200]}"
            )
    else:
        raise SoakError(f"fraud case: five accounts on one device never went to review: {outcomes}")
    with world.lock:  # keys the case did not use go back
        world.promotional.extend(keys[len(outcomes) :])
    case = find_open_case(body["keyId"])
    decision = random.choice(("approve", "reject"))
    call(
        SUPPORT(),
        "POST",
        f"/api/v1/antifraud/cases/{case['caseId']}/decision",
        200,
        json={"decision": decision, "note": "soak run"},
    )
    wanted = "activated" if decision == "approve" else None
    history = f"/api/v1/activations/users/{player_id}/history"
    wait_for(
        lambda: call(player, "GET", history, 200)["items"],
        lambda items: (
            bool(items)
            and items[0]["status"] != "pending_review"
            and (wanted is None or items[0]["status"] == wanted)
        ),
        f"the held activation to be {wanted or 'refused'} after the {decision}",
        60,
    )
    return f"fraud case ({decision})"


def find_open_case(key_id: str) -> dict:
    """The open case of the key, looked for newest first (the case is opened as the redemption
    is held, so it is on the first page unless many others opened meanwhile)."""
    deadline = time.monotonic() + 30
    while True:
        cursor = None
        for _page in range(10):
            params = {"status": "open", "limit": 100, **({"cursor": cursor} if cursor else {})}
            page = call(SUPPORT(), "GET", "/api/v1/antifraud/cases", 200, params=params)
            for case in page["items"]:
                if case["keyId"] == key_id:
                    return case
            cursor = page.get("nextCursor")
            if not cursor:
                break
        if time.monotonic() > deadline:
            raise SoakError(f"no open fraud case for key {key_id}")
        time.sleep(0.5)


def op_build(world: World) -> str:
    """The studio's CI pushes a 1-3 MiB build with the CLI and a CI key; one push in five is the
    EICAR test file, which the scan must refuse (exit 1, malware)."""
    with world.lock:
        world.builds += 1
        number = world.builds
    malware = number % 5 == 0
    with tempfile.TemporaryDirectory(prefix="gk-soak-build-") as scratch:
        path = Path(scratch) / ("not-a-game.exe" if malware else f"game-{number}.zip")
        path.write_bytes(EICAR if malware else os.urandom(random.randint(1, 3) * 1024 * 1024))
        environment = {**os.environ, "GAMEKEYS_API_URL": GATEWAY, "GAMEKEYS_API_KEY": world.ci_key}
        command = [str(Path(sys.executable).parent / "gamekeys"), "push", str(path), "--game", world.game_id]
        command += ["--version", f"1.{number}.0", "--platform", "linux", "--state-dir", scratch]
        command += ["--timeout", "180"]
        pushed = subprocess.run(command, env=environment, capture_output=True, text=True, timeout=300)  # noqa: S603
    # The CLI prints the build's final state on stdout, progress and failures on stderr.
    result = (pushed.stdout.strip().splitlines() or [""])[-1]
    failure = (pushed.stderr.strip().splitlines() or [""])[-1]
    if malware:
        if pushed.returncode != 1 or "failed: malware" not in failure:
            raise SoakError(
                f"the EICAR build was not refused as malware: exit {pushed.returncode}, {failure}"
            )
        return "build (EICAR refused)"
    if pushed.returncode != 0 or not result.endswith(": ready"):
        raise SoakError(f"build push: exit {pushed.returncode}, {result or failure}")
    return "build"


def op_store_sale(world: World) -> str:
    """The store sells the game (the Payment Service stand-in publishes revenue.credited)."""
    payment_service.credit(world.developer_id, world.game_id, "59.99", "EUR")
    return "store sale"


def op_payout(world: World) -> str:
    """With 100 EUR or more available, the studio asks for all of it; the Payment Service pays
    it (three times in four) or fails it (the money returns to available)."""
    if not world.finance_lock.acquire(blocking=False):
        return "payout (another in flight)"
    try:
        balance = eur_balance(world)
        if balance is None or Decimal(balance["available"]) < 100:
            return "payout (not enough available yet)"
        amount = balance["available"]
        payout = call(
            world.studio(),
            "POST",
            "/api/v1/developer/finance/payouts",
            201,
            json={"amount": {"amount": amount, "currency": "EUR"}},
            headers={"Idempotency-Key": f"soak-payout-{uuid.uuid4()}"},
        )
        failed = random.random() < 0.25
        answer = payment_service.fail if failed else payment_service.complete
        answer(payout["payoutId"], world.developer_id, amount, "EUR")
        wait_for(
            lambda: eur_balance(world),
            lambda b: b is not None and Decimal(b["inPayout"]) == 0,
            f"payout {payout['payoutId']} to settle",
            60,
        )
        return "payout failed by the Payment Service" if failed else "payout"
    finally:
        world.finance_lock.release()


def eur_balance(world: World) -> dict | None:
    balances = call(world.studio(), "GET", "/api/v1/developer/finance/balance", 200)["balances"]
    return next((b for b in balances if b["currency"] == "EUR"), None)


# Weight of each operation in the steady mix.
OPERATIONS: dict[str, tuple[int, Callable[[World], str]]] = {
    "redeem": (50, op_redeem),
    "sell": (15, op_sell),
    "generate": (4, op_generate),
    "read key": (5, op_read_key),
    "read analytics": (5, op_read_analytics),
    "fraud case": (3, op_fraud_case),
    "store sale": (4, op_store_sale),
    "payout": (2, op_payout),
    "batch": (1, op_batch),
    "build": (1, op_build),
}


# -- what the platform looks like: memory, outbox, lag, dead letters -------------------------------

INFRASTRUCTURE = {
    "postgres": "postgresql",
    "redis-server": "redis",
    "tansu": "tansu (kafka)",
    "clickhouse-serv": "clickhouse",
    "clickhouse-server": "clickhouse",
    "nginx": "nginx (gateway)",
    "weed": "seaweedfs (s3)",
    "clamd": "clamd",
}


def component_of(pid: int) -> str | None:
    proc = Path(f"/proc/{pid}")
    try:
        comm = (proc / "comm").read_text().strip()
        cmdline = (proc / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        return None
    for prefix, name in INFRASTRUCTURE.items():
        if comm.startswith(prefix):
            return name
    try:
        cwd = (proc / "cwd").resolve()
    except OSError:
        return None
    services = ROOT / "services"
    if services not in cwd.parents and cwd != services:
        return None  # another checkout's, or not a service at all
    for folder in services.iterdir():
        package = folder.name.replace("-", "_")
        if f"{package}.app" in cmdline:
            return f"{folder.name} api"
        if f"{package}.worker" in cmdline:
            return f"{folder.name} worker"
    return None


def memory_by_component() -> dict[str, tuple[int, int]]:
    """component -> (processes, PSS bytes)."""
    found: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        name = component_of(int(entry.name))
        if name is None:
            continue
        try:
            rollup = (entry / "smaps_rollup").read_text()
        except OSError:
            continue
        pss = next((int(line.split()[1]) for line in rollup.splitlines() if line.startswith("Pss:")), 0)
        found[name][0] += 1
        found[name][1] += pss * 1024
    return {name: (count, size) for name, (count, size) in found.items()}


@dataclass
class Snapshot:
    label: str
    memory: dict[str, tuple[int, int]]
    outbox: dict[str, tuple[int, float]]  # schema -> (pending, oldest age s)
    lag: dict[str, int]  # platform consumer group -> records behind
    dead_letters: dict[str, int]  # topic -> records in its .dlq


def snapshot(label: str, engine) -> Snapshot:
    outbox = {
        row["schema"]: (row["pending"], row["oldestAgeSeconds"]) for row in opscli.outbox_status(engine)
    }
    return Snapshot(label, memory_by_component(), outbox, platform_lag(), dead_letter_counts())


def platform_lag() -> dict[str, int]:
    lag: dict[str, int] = dict.fromkeys(PLATFORM_GROUPS, 0)
    for row in opscli.consumer_lag(KAFKA):
        if row["group"] in lag:
            lag[row["group"]] += row["lag"]
    return lag


def dead_letter_counts() -> dict[str, int]:
    return {topic: len(opscli.read_dead_letters(KAFKA, topic)) for topic in TOPICS}


def drain(engine, seconds: float) -> None:
    """Until every outbox is empty and no platform consumer group is behind (or ``seconds``)."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        pending = sum(row["pending"] for row in opscli.outbox_status(engine))
        behind = sum(platform_lag().values())
        if pending == 0 and behind == 0:
            return
        time.sleep(2)


# -- the run ---------------------------------------------------------------------------------------


class Tally:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.done: Counter = Counter()
        self.errors: Counter = Counter()
        self.samples: dict[str, list[str]] = defaultdict(list)
        self.latency: dict[str, list[float]] = defaultdict(list)
        self.skipped = 0

    def run(self, kind: str, operation: Callable[[], str]) -> None:
        started = time.perf_counter()
        try:
            outcome = operation()
        except (
            SoakError,
            UnexpectedResponse,
            TimeoutError,
            requests.RequestException,
            subprocess.SubprocessError,
        ) as error:
            self.error(kind, str(error))
            return
        except Exception:  # a bug of the soak itself or an unexpected answer shape: an error all the same
            self.error(kind, traceback.format_exc(limit=3))
            return
        with self.lock:
            self.done[outcome] += 1
            self.latency[kind].append(time.perf_counter() - started)

    def error(self, kind: str, message: str) -> None:
        with self.lock:
            self.errors[kind] += 1
            if len(self.samples[kind]) < 5:
                self.samples[kind].append(f"{time.strftime('%H:%M:%S')} {message[:400]}")


def drive(worlds: list[World], tally: Tally, pool: ThreadPoolExecutor, *, seconds: float, rate: float,
          workers: int, studio_every: float) -> None:  # fmt: skip
    """``rate`` operations a second for ``seconds``, each on a world drawn at random; a new world
    every ``studio_every`` seconds (made on the pool, joining when ready)."""
    kinds = list(OPERATIONS)
    weights = [OPERATIONS[kind][0] for kind in kinds]
    in_flight: set[Future] = set()
    interval, started = 1.0 / rate, time.monotonic()
    next_at, next_world = started, started + studio_every
    last_report = started
    while (now := time.monotonic()) < started + seconds:
        if now < next_at:
            time.sleep(min(next_at - now, 0.5))
            continue
        next_at += interval
        in_flight = {future for future in in_flight if not future.done()}
        if len(in_flight) >= 2 * workers:
            tally.skipped += 1  # the platform is not keeping up: said in the report
            continue
        if now >= next_world:
            next_world += studio_every
            in_flight.add(pool.submit(tally.run, "new studio", lambda n=len(worlds): add_world(worlds, n)))
            continue
        kind = random.choices(kinds, weights)[0]
        world = random.choice(worlds)
        in_flight.add(pool.submit(tally.run, kind, lambda op=OPERATIONS[kind][1], w=world: op(w)))
        if now - last_report >= 60:
            last_report = now
            done, errors = sum(tally.done.values()), sum(tally.errors.values())
            clock, elapsed = time.strftime("%H:%M:%S"), (now - started) / 60
            print(f"  {clock}  {elapsed:5.1f} min  {done:,} operations, {errors} errors, "
                  f"{len(worlds)} studios, {len(in_flight)} in flight", flush=True)  # fmt: skip
    for future in in_flight:
        future.result()


def add_world(worlds: list[World], number: int) -> str:
    world = new_world(number)
    worlds.append(world)  # list.append is atomic; drive() reads the list from one thread
    return "new studio"


def verify(worlds: list[World], tally: Tally) -> None:
    """What must hold once the platform has caught up: every payout settled, every batch done."""
    for world in worlds:
        tally.run("verify batches", lambda w=world: batches_completed(w))
        tally.run("verify payouts", lambda w=world: payouts_settled(w))


def batches_completed(world: World) -> str:
    for batch_id in list(world.batches):
        wait_batch(world.studio(), batch_id, 60)
    return "verified: batches completed"


def payouts_settled(world: World) -> str:
    wait_for(
        lambda: eur_balance(world),
        lambda balance: balance is None or Decimal(balance["inPayout"]) == 0,
        f"studio {world.number}'s payouts to settle",
        60,
    )
    return "verified: payouts settled"


def mib(size: int) -> str:
    return f"{size / 2**20:,.1f}"


def report(
    tally: Tally, before: Snapshot, start: Snapshot, end: Snapshot, minutes: float, worlds: int
) -> bool:
    print(f"\n== soak report: {minutes:g} minutes, {worlds} studios")
    print(f"\noperations ({sum(tally.done.values()):,} done, {tally.skipped} not started: more than "
          "twice the workers in flight)")  # fmt: skip
    for outcome, count in sorted(tally.done.items(), key=lambda item: -item[1]):
        print(f"  {outcome:<48}{count:>8,}")
    print("\nlatency by operation, s (p50 / p99 / max)")
    for kind, samples in sorted(tally.latency.items()):
        ordered = sorted(samples)
        p50, p99 = ordered[len(ordered) // 2], ordered[min(len(ordered) - 1, int(0.99 * len(ordered)))]
        print(f"  {kind:<24}{p50:>8.2f}{p99:>8.2f}{ordered[-1]:>8.2f}")
    errors = sum(tally.errors.values())
    print(f"\nerrors: {errors}")
    for kind, count in tally.errors.most_common():
        print(f"  {kind}: {count}")
        for sample in tally.samples[kind]:
            print(f"    {sample}")

    print("\nmemory (PSS, MiB)                     before   start     end  end vs start  processes")
    growth_over = []
    for name in sorted(set(start.memory) | set(end.memory) | set(before.memory)):
        b, s, e = (snap.memory.get(name, (0, 0)) for snap in (before, start, end))
        change = (e[1] - s[1]) / s[1] * 100 if s[1] else float("nan")
        over = bool(s[1]) and abs(change) > 10
        # The platform's own processes must stay flat; the infrastructure's grow with the data
        # they hold (the broker's log, ClickHouse's parts and caches, Redis' counters): shown only.
        platform = name not in INFRASTRUCTURE.values()
        flag = ("  <-- over 10 %" if platform else "  (holds more data)") if over else ""
        if over and platform:
            growth_over.append(name)
        sizes = f"{mib(b[1]):>8}{mib(s[1]):>8}{mib(e[1]):>8}"
        print(f"  {name:<36}{sizes}{change:>+10.1f} %  {s[0]} -> {e[0]}{flag}")

    print("\noutbox (pending events, oldest age s)   start         end")
    for schema in sorted(set(start.outbox) | set(end.outbox)):
        s, e = start.outbox.get(schema, (0, 0.0)), end.outbox.get(schema, (0, 0.0))
        print(f"  {schema:<32}{s[0]:>6} {s[1]:>6.1f}{e[0]:>6} {e[1]:>6.1f}")
    print("\nconsumer lag (records behind)          start     end")
    for group in PLATFORM_GROUPS:
        print(f"  {group:<36}{start.lag.get(group, 0):>6}{end.lag.get(group, 0):>8}")
    new_letters = {topic: end.dead_letters[topic] - before.dead_letters.get(topic, 0) for topic in TOPICS}
    print("\ndead letters (records in <topic>.dlq)   before     end     new")
    for topic in TOPICS:
        counts = (before.dead_letters.get(topic, 0), end.dead_letters[topic], new_letters[topic])
        print(f"  {topic:<36}{counts[0]:>6}{counts[1]:>8}{counts[2]:>8}")

    behind = sum(end.lag.values()) + sum(pending for pending, _age in end.outbox.values())
    verdict = {
        "0 errors": errors == 0,
        "0 new dead letters": sum(new_letters.values()) == 0,
        "memory of the platform's processes flat within 10 % (start to end)": not growth_over,
        "outboxes and consumers caught up at the end": behind == 0,
        "every operation started on schedule": tally.skipped == 0,
    }
    print("\ntargets")
    for target, met in verdict.items():
        print(f"  {'met' if met else 'NOT MET':<8} {target}")
    return all(verdict.values())


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--minutes", type=float, default=30, help="how long to drive the platform (default 30)"
    )
    parser.add_argument("--rate", type=float, default=4.0, help="operations started per second (default 4)")
    parser.add_argument("--workers", type=int, default=12, help="operations in flight at most (default 12)")
    parser.add_argument("--studios", type=int, default=2, help="studios set up before the run (default 2)")
    parser.add_argument("--studio-every", type=float, default=300, help="a new studio every this many s")
    parser.add_argument("--warmup-seconds", type=float, default=60, help="load before the start snapshot")
    parser.add_argument("--drain-seconds", type=float, default=120, help="catching up allowed at the end")
    args = parser.parse_args()
    if args.rate <= 0 or args.workers < 1 or args.minutes <= 0 or args.studios < 1:
        parser.error("--minutes, --rate, --workers and --studios must be positive")

    try:
        requests.get(f"{GATEWAY}/gateway/healthz", timeout=3).raise_for_status()
    except requests.RequestException as error:
        raise SystemExit(
            f"soak: the platform is not up at {GATEWAY} ({error}); start it with `make run`"
        ) from None
    engine = create_engine(DATABASE_URL)
    tally = Tally()
    print(f"soak: {args.minutes:g} minutes at {args.rate:g} operations/s through {GATEWAY}", flush=True)
    before = snapshot("before", engine)
    print(
        f"  setting up {args.studios} studios (game, CI key, payout settings, a batch, a retailer)",
        flush=True,
    )
    try:
        worlds = [new_world(n) for n in range(args.studios)]
    except (SoakError, UnexpectedResponse, TimeoutError, requests.RequestException) as error:
        raise SystemExit(f"soak: setting up the studios failed: {error}") from None
    with ThreadPoolExecutor(max_workers=args.workers, thread_name_prefix="soak") as pool:
        common = {"rate": args.rate, "workers": args.workers, "studio_every": args.studio_every}
        print(f"  warming up for {args.warmup_seconds:g} s", flush=True)
        drive(worlds, tally, pool, seconds=args.warmup_seconds, **common)
        drain(engine, args.drain_seconds)
        start = snapshot("start", engine)  # the operations and errors of the warm-up count too
        print(f"  driving for {args.minutes:g} minutes", flush=True)
        drive(worlds, tally, pool, seconds=args.minutes * 60, **common)
    verify(worlds, tally)
    # After the verification, whose waits let the last payouts and batches cause events too.
    print(f"  letting outboxes and consumers catch up (at most {args.drain_seconds:g} s)", flush=True)
    drain(engine, args.drain_seconds)
    end = snapshot("end", engine)
    engine.dispose()
    return 0 if report(tally, before, start, end, args.minutes, len(worlds)) else 1


if __name__ == "__main__":
    sys.exit(main())
