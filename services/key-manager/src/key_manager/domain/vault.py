"""Keyed lookup hashes and encryption of keys at rest (ARCHITECTURE.md §6).

- Lookup: HMAC-SHA256 of the canonical key with a server-side pepper. A database dump alone
  does not let anyone test a guess, and finding a key by what a player typed is one index probe.
- Re-display: AES-256-GCM with a random 96-bit nonce, the key's own row id as associated data
  (a ciphertext moved to another row does not decrypt), stored as ``nonce || ciphertext+tag``
  next to the id of the encryption key used. New keys use the active encryption key; older ids
  stay configured until their keys are re-encrypted, so rotation never makes a key unreadable.

The plaintext only ever lives in this process's memory while a request or batch needs it.
"""

from __future__ import annotations

import hashlib
import hmac
import os
from collections.abc import Sequence

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

NONCE_BYTES = 12
TAG_BYTES = 16
HASH_BYTES = 32


class UnreadableKey(Exception):
    """A stored key that cannot be decrypted; ``reason`` says why, in a word for APIs and logs."""

    reason = "unreadable"


class UnknownEncryptionKey(UnreadableKey, LookupError):
    """A stored ciphertext names an encryption key id the configuration no longer has."""

    reason = "encryption_key_not_configured"


class DecryptionFailed(UnreadableKey, ValueError):
    """The ciphertext does not authenticate (wrong key, tampered, or moved to another row)."""

    reason = "ciphertext_does_not_authenticate"


class KeyVault:
    def __init__(self, *, pepper: bytes, encryption_keys: dict[str, bytes], active_key_id: str) -> None:
        if len(pepper) < 32:
            raise ValueError("the lookup pepper needs at least 32 bytes")
        if active_key_id not in encryption_keys:
            raise ValueError("the active encryption key id is not among the encryption keys")
        for key_id, key in encryption_keys.items():
            if len(key) != 32:
                raise ValueError(f"encryption key {key_id} is not 32 bytes (AES-256)")
        self.active_key_id = active_key_id
        self._ciphers = {key_id: AESGCM(key) for key_id, key in encryption_keys.items()}
        # HMAC's inner and outer hash states, keyed once; each key then costs two copies.
        block = pepper if len(pepper) <= 64 else hashlib.sha256(pepper).digest()
        block = block.ljust(64, b"\0")
        self._inner = hashlib.sha256(bytes(b ^ 0x36 for b in block))
        self._outer = hashlib.sha256(bytes(b ^ 0x5C for b in block))

    def __repr__(self) -> str:  # never the key material
        return f"KeyVault(active_key_id={self.active_key_id!r}, key_ids={sorted(self._ciphers)!r})"

    def lookup_hash(self, canonical: bytes) -> bytes:
        inner = self._inner.copy()
        inner.update(canonical)
        outer = self._outer.copy()
        outer.update(inner.digest())
        return outer.digest()

    def lookup_hashes(self, canonicals: Sequence[bytes]) -> list[bytes]:
        inner_copy, outer_copy = self._inner.copy, self._outer.copy
        result = []
        append = result.append
        for canonical in canonicals:
            inner = inner_copy()
            inner.update(canonical)
            outer = outer_copy()
            outer.update(inner.digest())
            append(outer.digest())
        return result

    def encrypt(self, row_id: bytes, canonical: bytes) -> bytes:
        nonce = os.urandom(NONCE_BYTES)
        return nonce + self._ciphers[self.active_key_id].encrypt(nonce, canonical, row_id)

    def encrypt_many(self, row_ids: Sequence[bytes], canonicals: Sequence[bytes]) -> list[bytes]:
        """Ciphertexts for many keys with the active key; one urandom call for all nonces."""
        encrypt = self._ciphers[self.active_key_id].encrypt
        nonces = os.urandom(NONCE_BYTES * len(canonicals))
        return [
            nonces[n : n + NONCE_BYTES] + encrypt(nonces[n : n + NONCE_BYTES], canonical, row_id)
            for n, row_id, canonical in zip(
                range(0, len(nonces), NONCE_BYTES), row_ids, canonicals, strict=True
            )
        ]

    def decrypt(self, key_id: str, row_id: bytes, blob: bytes) -> bytes:
        cipher = self._ciphers.get(key_id)
        if cipher is None:
            raise UnknownEncryptionKey(f"encryption key id {key_id!r} is not configured")
        try:
            return cipher.decrypt(blob[:NONCE_BYTES], blob[NONCE_BYTES:], row_id)
        except InvalidTag:
            raise DecryptionFailed("a stored key does not decrypt") from None

    def verify_hash(self, canonical: bytes, expected: bytes) -> bool:
        return hmac.compare_digest(self.lookup_hash(canonical), expected)
