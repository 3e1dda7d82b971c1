"""Allocation benchmark (issue: distribution): allocate 10,000 keys to a retailer, then have the
retailer fetch them in pages of 1,000, through the gateway of the running platform (`make bench`
starts it with `make run`). Prints times and the CPU the two API processes spent per page (from
/proc: wall times on a shared machine are noisy, CPU per request much less so); asserts nothing.
Targets: allocation <= 1 s, each page <= 200 ms.
"""

from __future__ import annotations

import statistics
import sys
import time
import uuid
from pathlib import Path

from measure import TICK, cpu_seconds

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "deploy" / "local"))
from platform_client import (
    Caller,
    create_verified_game,
    order_batch,
    retailer_session,
    retailer_with_keys,
    token,
)

ALLOCATED = 10_000
PAGE = 1_000
# gunicorn masters and workers of the two APIs a page goes through.
APIS = {"distribution": b"distribution.app:", "key-manager": b"key_manager.app:"}


def api_cpu_seconds() -> dict[str, float]:
    """CPU seconds (user + system) so far of every process of each API, from /proc."""
    spent = dict.fromkeys(APIS, 0.0)
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            cmdline = (entry / "cmdline").read_bytes()
        except OSError:
            continue
        for name, marker in APIS.items():
            if marker in cmdline:
                spent[name] += cpu_seconds([int(entry.name)])
    return spent


def main() -> None:
    studio, game = create_verified_game("Bench Studio")
    batch = order_batch(studio, game["gameId"], ALLOCATED)
    while batch["status"] not in ("completed", "failed"):
        time.sleep(0.2)
        batch = studio.call("GET", f"/api/v1/keys/batches/{batch['batchId']}", 200)

    admin = Caller(token(str(uuid.uuid4()), roles=["admin"]))
    started = time.perf_counter()
    retailer, _allocation = retailer_with_keys(admin, "Bench Shop", game["gameId"], ALLOCATED)
    allocation_seconds = time.perf_counter() - started  # includes adding the retailer (one insert)

    shop = retailer_session(retailer)
    page_seconds, fetched, cursor = [], 0, None
    cpu_before = api_cpu_seconds()
    while True:
        params = {"limit": PAGE, **({"cursor": cursor} if cursor else {})}
        started = time.perf_counter()
        page = shop.call("GET", "/api/v1/distribution/retailer/keys", 200, params=params)
        page_seconds.append(time.perf_counter() - started)
        fetched += len(page["items"])
        cursor = page["nextCursor"]
        if not cursor:
            break
    cpu_after = api_cpu_seconds()

    print(f"allocation:    {ALLOCATED:,} keys in {allocation_seconds * 1000:.0f} ms (target <= 1000 ms)")
    print(
        f"retailer pages: {len(page_seconds)} pages, {fetched:,} keys decrypted; per page "
        f"p50 {statistics.median(page_seconds) * 1000:.0f} ms, max {max(page_seconds) * 1000:.0f} ms "
        "(target <= 200 ms)"
    )
    print(
        "CPU per page:  "
        + ", ".join(
            f"{name} API {(cpu_after[name] - cpu_before[name]) / len(page_seconds) * 1000:.0f} ms"
            for name in APIS
        )
        + f" (clock ticks of 1/{TICK} s; the machine's load makes wall times noisy)"
    )


if __name__ == "__main__":
    main()
