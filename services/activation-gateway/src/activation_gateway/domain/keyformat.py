"""Step 1 of a redemption: is the text a well-formed key? (ARCHITECTURE.md §6)

key-manager owns the key format; this is the published check of its README, repeated here so
that typos and random guesses are refused without a network hop (the malformed-key path must
stay fast, ≥ 3,000 refusals a second). Nothing from key_manager is imported at run time; a test
checks this module against key-manager's codec on generated keys, substitutions and swaps.

16 characters from ``ALPHABET`` (31, no 0/O, 1/I/L); with ``v`` each character's index,
``Σ WEIGHTS[p]·v[p] ≡ 0 (mod 31)``. Input is normalised: case, spaces, dashes, underscores.
"""

from __future__ import annotations

import hashlib
import re

ALPHABET = "23456789ABCDEFGHJKMNPQRSTUVWXYZ"
BASE = len(ALPHABET)
KEY_LENGTH = 16
MAX_INPUT_LENGTH = 64
# Position weights of key-manager's check (groups of five weighted 1, 3, 9 times powers of 256).
WEIGHTS = (*((1, 3, 9)[p // 5] * pow(256, 4 - p % 5, BASE) % BASE for p in range(15)), 27)
_INDEX = {character: index for index, character in enumerate(ALPHABET)}
_SEPARATORS = re.compile(r"[\s\-_]+")


class InvalidKeyFormat(ValueError):
    """Not a well-formed key; the message never repeats the input."""


def normalize(text: str) -> str:
    """The canonical 16 characters (no dashes) of what a player typed, or InvalidKeyFormat."""
    if not isinstance(text, str) or len(text) > MAX_INPUT_LENGTH:
        raise InvalidKeyFormat("a key has 16 characters, as XXXX-XXXX-XXXX-XXXX")
    compact = _SEPARATORS.sub("", text).upper()
    if len(compact) != KEY_LENGTH:
        raise InvalidKeyFormat("a key has 16 characters, as XXXX-XXXX-XXXX-XXXX")
    try:
        values = [_INDEX[character] for character in compact]
    except KeyError:
        raise InvalidKeyFormat("a key uses only the characters " + ALPHABET) from None
    if sum(w * v for w, v in zip(WEIGHTS, values, strict=True)) % BASE:
        raise InvalidKeyFormat("the key's check character does not match: it was mistyped")
    return compact


def fingerprint(text: str) -> str:
    """An opaque digest of a typed key for antifraud's enumeration counters (never the key).

    Only sent for keys that do not exist (or are malformed), so it reveals no real key."""
    canonical = _SEPARATORS.sub("", text).upper()[:MAX_INPUT_LENGTH]
    return hashlib.sha256(b"gamekeys-key-fingerprint:" + canonical.encode()).hexdigest()[:32]
