"""Allocation benchmark (issue: distribution): allocate 10,000 keys to a retailer, then have the
retailer fetch them in pages of 1,000, through the gateway of the running platform (`make bench`
starts it with `make run`). Prints times; asserts nothing. Targets: allocation <= 1 s, each
page <= 200 ms.
"""

from __future__ import annotations

import statistics
import sys
import time
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "deploy" / "local"))
from demo import Caller, create_verified_game, order_batch, retailer_session, retailer_with_keys, token

ALLOCATED = 10_000
PAGE = 1_000


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
    while True:
        params = {"limit": PAGE, **({"cursor": cursor} if cursor else {})}
        started = time.perf_counter()
        page = shop.call("GET", "/api/v1/distribution/retailer/keys", 200, params=params)
        page_seconds.append(time.perf_counter() - started)
        fetched += len(page["items"])
        cursor = page["nextCursor"]
        if not cursor:
            break

    print(f"allocation:    {ALLOCATED:,} keys in {allocation_seconds * 1000:.0f} ms (target <= 1000 ms)")
    print(
        f"retailer pages: {len(page_seconds)} pages, {fetched:,} keys decrypted; per page "
        f"p50 {statistics.median(page_seconds) * 1000:.0f} ms, max {max(page_seconds) * 1000:.0f} ms "
        "(target <= 200 ms)"
    )


if __name__ == "__main__":
    main()
