"""Analytics freshness (issue 18): how long after a player is told "activated" the studio's
activation report counts it, through the whole running platform (gateway → activation-gateway →
key-manager and antifraud → outboxes → broker → analytics' ingestion → ClickHouse → the report).

One game's keys are redeemed one at a time; after each answer the studio's report for that game
(`GET /api/v1/analytics/games/{id}`) is read every 50 ms until it counts the new activation.
Meanwhile background players redeem another game's keys (the platform's load: BACKGROUND
clients, 4 by default, as `bench/redeem.py`'s lowest level). Prints p50/p90/p99/max of the delay;
target p99 <= 5 s. Needs `make run`; asserts nothing.
"""

from __future__ import annotations

import argparse
import secrets
import sys
import threading
import time
import uuid
from pathlib import Path

from measure import percentile

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "deploy" / "local"))
from platform_client import Caller, create_verified_game, generate_keys, redeem

POLL_SECONDS = 0.05
GIVE_UP_SECONDS = 60.0
TARGET_P99_SECONDS = 5.0


def player_address() -> str:
    """A private address: no country, not a VPN, so the region and network checks pass."""
    return "10." + ".".join(str(secrets.randbelow(254) + 1) for _ in range(3))


def promotional_keys(studio: Caller, game_id: str, quantity: int) -> list[str]:
    keys: list[str] = []
    while len(keys) < quantity:
        batch = generate_keys(studio, game_id, min(1_000, quantity - len(keys)))
        keys.extend(item["key"] for item in batch["keys"])
    return keys


def background_load(keys: list[str], clients: int, stop: threading.Event) -> list[int]:
    """``clients`` threads redeeming ``keys`` until they run out or ``stop`` is set."""
    lock, done = threading.Lock(), [0]

    def run() -> None:
        while not stop.is_set():
            with lock:
                if not keys:
                    return
                key = keys.pop()
            redeem(key, player_address(), "DE")
            with lock:
                done[0] += 1

    for _ in range(clients):
        threading.Thread(target=run, daemon=True).start()
    return done


def counted(studio: Caller, game_id: str) -> int:
    return studio.call("GET", f"/api/v1/analytics/games/{game_id}", 200)["totals"]["activations"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--samples", type=int, default=50)
    parser.add_argument("--background", type=int, default=4, help="clients redeeming another game's keys")
    args = parser.parse_args()

    studio, game = create_verified_game(f"Freshness Bench {uuid.uuid4().hex[:6]}")
    load_studio, other = create_verified_game(f"Freshness Load {uuid.uuid4().hex[:6]}")
    measured = promotional_keys(studio, game["gameId"], args.samples)
    load_keys = promotional_keys(load_studio, other["gameId"], 3_000 if args.background else 0)
    # The report answers 200 once analytics knows the game (from developer.events).
    studio_ready = time.monotonic() + GIVE_UP_SECONDS
    while time.monotonic() < studio_ready:
        response = studio.session.get(f"{studio.base}/api/v1/analytics/games/{game['gameId']}", timeout=30)
        if response.status_code == 200:
            break
        time.sleep(0.5)
    baseline = counted(studio, game["gameId"])

    stop = threading.Event()
    done = background_load(load_keys, args.background, stop)
    started = time.monotonic()
    delays, lost = [], 0
    try:
        for n, key in enumerate(measured, start=1):
            outcome, body = redeem(key, player_address(), "DE")  # a new player each time
            answered = time.monotonic()
            if outcome != "activated":
                raise SystemExit(f"redemption {n} answered {outcome}: {body}")
            while counted(studio, game["gameId"]) < baseline + n:
                if time.monotonic() - answered > GIVE_UP_SECONDS:
                    lost += 1
                    break
                time.sleep(POLL_SECONDS)
            else:
                delays.append(time.monotonic() - answered)
    finally:
        stop.set()
    seconds = time.monotonic() - started

    print(f"activations counted by the studio's report after the player's answer ({len(delays)} samples, "
          f"one at a time, polled every {POLL_SECONDS * 1000:.0f} ms):")  # fmt: skip
    print(
        f"  p50 {percentile(delays, 0.5):.2f} s, p90 {percentile(delays, 0.9):.2f} s, "
        f"p99 {percentile(delays, 0.99):.2f} s, max {max(delays):.2f} s "
        f"(target p99 <= {TARGET_P99_SECONDS:.0f} s); not seen within {GIVE_UP_SECONDS:.0f} s: {lost}"
    )
    print(
        f"  background: {args.background} clients redeemed {done[0]} other keys ({done[0] / seconds:.1f}/s)"
    )


if __name__ == "__main__":
    main()
