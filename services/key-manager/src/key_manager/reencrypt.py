"""Re-encrypt stored keys under the active encryption key: ``python -m key_manager.reencrypt``.

After a rotation (a new id added to KEY_ENCRYPTION_KEYS and made KEY_ENCRYPTION_ACTIVE_KEY_ID,
every API and worker process restarted with it), keys written before stay readable under their
old id. This moves them to the active id in bounded batches: each batch is its own short
transaction that locks its keys in id order, decrypts them with their old key and encrypts
them again with the active one (fresh nonce, same row id as associated data). It runs beside
live traffic and can be stopped at any moment and run again: it picks up whatever is still
under an old id. Once it reports no key under an old id, those ids can be removed from
KEY_ENCRYPTION_KEYS. Nothing about a key's state changes, so no event is emitted.
"""

from __future__ import annotations

import argparse
import logging
import sys
import time
import uuid
from collections.abc import Callable, Sequence

from gamekeys_platform.logs import configure_logging
from gamekeys_platform.settings import ConfigError
from key_manager.context import KeyManager
from key_manager.db import keys as keys_repo
from key_manager.domain.vault import DecryptionFailed, UnknownEncryptionKey
from key_manager.settings import get_settings

log = logging.getLogger("key_manager.reencrypt")

MAX_BATCH_SIZE = 10_000
REPORT_EVERY_SECONDS = 5.0


def reencrypt(
    km: KeyManager,
    *,
    batch_size: int = 1_000,
    limit: int | None = None,
    pause_seconds: float = 0.0,
    on_batch: Callable[[int, uuid.UUID], None] | None = None,
) -> int:
    """Move up to ``limit`` keys (all when None) to the active encryption key, ``batch_size`` a
    transaction; returns how many were re-encrypted and the ids of keys left where they were
    because their ciphertext does not authenticate (one damaged key must not stop the rotation
    of all the others). ``on_batch(done so far, last key id)`` follows every committed batch.
    A key id that is not configured stops the run (UnknownEncryptionKey): all its keys need it."""
    if not 1 <= batch_size <= MAX_BATCH_SIZE:
        raise ValueError(f"batch size must be between 1 and {MAX_BATCH_SIZE}")
    active = km.vault.active_key_id
    done, damaged = 0, []
    after: uuid.UUID | None = None  # keyset position: each batch continues the previous id range
    while limit is None or done + len(damaged) < limit:
        size = batch_size if limit is None else min(batch_size, limit - done - len(damaged))
        with km.db.transaction() as session:
            rows = keys_repo.keys_under_old_encryption(session, active, after=after, limit=size)
            if not rows:
                break
            readable = []
            for row in rows:
                try:
                    readable.append(
                        (row.id, km.vault.decrypt(row.encryption_key_id, row.id.bytes, row.ciphertext))
                    )
                except DecryptionFailed:
                    log.error("stored key cannot be decrypted, left as it is", extra={"keyId": str(row.id)})
                    damaged.append(row.id)
            ciphertexts = km.vault.encrypt_many(
                [key_id.bytes for key_id, _ in readable], [c for _, c in readable]
            )
            keys_repo.set_ciphertexts(session, [key_id for key_id, _ in readable], ciphertexts, active)
        done += len(readable)
        after = rows[-1].id
        if on_batch is not None:
            on_batch(done, after)
        if pause_seconds:
            time.sleep(pause_seconds)
    return done, damaged


def keys_by_encryption_key(km: KeyManager) -> dict[str, int]:
    with km.db.transaction() as session:
        return keys_repo.keys_by_encryption_key(session)


def _positive_int(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError("must be at least 1")
    return value


def _seconds(text: str) -> float:
    value = float(text)
    if not 0 <= value <= 60:
        raise argparse.ArgumentTypeError("must be between 0 and 60")
    return value


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m key_manager.reencrypt",
        description="Re-encrypt stored game keys under KEY_ENCRYPTION_ACTIVE_KEY_ID after a rotation, "
        "in bounded batches; safe to stop and run again. Configuration from the service's environment.",
    )
    parser.add_argument(
        "--batch-size",
        type=_positive_int,
        default=1_000,
        help=f"keys per transaction (default 1000, at most {MAX_BATCH_SIZE})",
    )
    parser.add_argument("--limit", type=_positive_int, help="stop after this many keys (default: all)")
    parser.add_argument(
        "--pause", type=_seconds, default=0.0, help="seconds to sleep between batches, to spare the database"
    )
    parser.add_argument(
        "--status", action="store_true", help="only print how many keys each encryption key id protects"
    )
    args = parser.parse_args(argv)
    if args.batch_size > MAX_BATCH_SIZE:
        parser.error(f"--batch-size must be at most {MAX_BATCH_SIZE}")
    return args


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    try:
        settings = get_settings()
    except ConfigError as exc:
        print(exc, file=sys.stderr)
        return 2
    configure_logging(settings.service_name, settings.log_level)
    km = KeyManager.from_settings(settings)
    active = km.vault.active_key_id
    damaged: list[uuid.UUID] = []
    try:
        if not args.status:
            started = last_report = time.monotonic()

            def report(done: int, last_id: uuid.UUID) -> None:
                nonlocal last_report
                if time.monotonic() - last_report >= REPORT_EVERY_SECONDS:
                    last_report = time.monotonic()
                    print(f"{done:,} keys re-encrypted so far (up to key id {last_id})", flush=True)

            done, damaged = reencrypt(
                km, batch_size=args.batch_size, limit=args.limit, pause_seconds=args.pause, on_batch=report
            )
            print(f"{done:,} keys re-encrypted under {active} in {time.monotonic() - started:.1f} s")
        counts = keys_by_encryption_key(km)
    except UnknownEncryptionKey as exc:
        print(f"{exc}: add it back to KEY_ENCRYPTION_KEYS, then run again", file=sys.stderr)
        return 2
    finally:
        km.db.dispose()
    for key_id, count in sorted(counts.items()):
        print(f"  {key_id}: {count:,} keys{' (active)' if key_id == active else ''}")
    if damaged:
        print(
            f"{len(damaged):,} stored keys do not decrypt with the key their row names (damaged, or a "
            "wrong key under a known id) and were left as they were; revoke them or restore the right "
            "key: "
            + ", ".join(str(key_id) for key_id in damaged[:20])
            + (" ..." if len(damaged) > 20 else ""),
            file=sys.stderr,
        )
        return 2
    old = sorted(key_id for key_id in counts if key_id != active)
    if old:
        print(f"keys remain under {', '.join(old)}: run again before removing those ids")
        return 1
    unused = sorted(set(settings.encryption_keys) - {active})
    if unused:
        print(f"no key uses {', '.join(unused)} any more: they can be removed from KEY_ENCRYPTION_KEYS")
    return 0


if __name__ == "__main__":
    sys.exit(main())
