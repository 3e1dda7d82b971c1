"""Orphaned allocations: key-manager reserved the keys but distribution never recorded the
allocation (a crash between its answer and our commit, or a request that gave up). The worker
gives their keys back to the free pool, idempotently by allocation id."""

from __future__ import annotations

import logging

from distribution.db import repository as repo
from distribution.key_manager_client import KeyManager
from gamekeys_platform.db import Database

log = logging.getLogger("distribution.reconcile")
REASON = "orphaned: reserved by key-manager, never recorded by distribution"


def release_orphaned_allocations(
    db: Database, key_manager: KeyManager, *, older_than_seconds: float, limit: int = 500
) -> dict[str, int]:
    """Release up to ``limit`` attempts untouched for ``older_than_seconds``, one transaction
    each: the row stays locked while key-manager releases it, so a late retry of the same request
    waits and is then refused; a failure leaves the others done and this one for next time."""
    released = forgotten = keys = 0
    for _ in range(limit):
        with db.transaction() as session:
            orphans = repo.orphaned_attempts(session, older_than_seconds=older_than_seconds, limit=1)
            if not orphans:
                break
            orphan = orphans[0]
            result = key_manager.release_allocation(orphan.id, reason=REASON, revoke=False)
            if result is None:
                # key-manager never created it (it refused, or was unreachable): nothing to give
                # back, and a retry of the request may simply run again.
                repo.forget_allocation_attempt(session, orphan.id)
                forgotten += 1
                continue
            repo.mark_attempt_released(session, orphan.id, result["released"])
        released += 1
        keys += result["released"]
        log.warning(
            "orphaned allocation released", extra={"allocationId": str(orphan.id), "keys": result["released"]}
        )
    return {"released": released, "forgotten": forgotten, "keys": keys}
