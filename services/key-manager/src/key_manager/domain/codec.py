"""The key itself (ARCHITECTURE.md §6): ``XXXX-XXXX-XXXX-XXXX``, 16 characters from a 31-letter
alphabet without look-alikes (no 0/O, 1/I/L), the last one a check character.

The check is a weighted sum modulo 31 (a prime): with ``v`` the alphabet index of each of the
16 characters, a valid key has ``sum(WEIGHTS[p] * v[p]) % 31 == 0``. The 16 weights are distinct
and non-zero modulo 31, so every single mistyped character and every swap of two different
characters (adjacent or not) is detected; a random guess passes with probability 1/31. The 15
random characters carry 31**15 ≈ 2**74 possibilities.

The weights are chosen so the sum can be computed fast: ``int.from_bytes`` of five digit values
weighs them by powers of 256, which are 4, 16, 2, 8, 1 modulo 31; the three groups of five are
multiplied by 1, 3 and 9 (distinct cosets of that subgroup), the check character by 27.
Generation draws from ``secrets`` (the OS CSPRNG) and avoids modulo bias by rejection.
"""

from __future__ import annotations

import operator
import re
import secrets
import sys
from array import array
from collections.abc import Callable
from itertools import repeat

ALPHABET = "23456789ABCDEFGHJKMNPQRSTUVWXYZ"
BASE = len(ALPHABET)  # 31, a prime
RANDOM_LENGTH = 15
KEY_LENGTH = RANDOM_LENGTH + 1
GROUP_MULTIPLIERS = (1, 3, 9)
CHECK_WEIGHT = 27
_CHECK_WEIGHT_INVERSE = pow(CHECK_WEIGHT, -1, BASE)
# Weight of each position, as the fast computation below applies them (tests check they are
# pairwise distinct and non-zero, which is what makes the check catch substitutions and swaps).
WEIGHTS = (
    *(GROUP_MULTIPLIERS[position // 5] * pow(256, 4 - position % 5, BASE) % BASE for position in range(15)),
    CHECK_WEIGHT,
)

_ALPHABET_BYTES = ALPHABET.encode()
# Random byte -> digit value (bytes 248..255 are rejected, 248 = 8 * 31, so no modulo bias).
_ACCEPTED = 256 - 256 % BASE
_TO_VALUE = bytes(b % BASE for b in range(_ACCEPTED)) + bytes(256 - _ACCEPTED)
_REJECTED = bytes(range(_ACCEPTED, 256))
# Digit value -> character, and character -> digit value (255 marks "not in the alphabet").
_TO_CHAR = _ALPHABET_BYTES + bytes(256 - BASE)
_FROM_CHAR = bytes(_ALPHABET_BYTES.index(b) if b in _ALPHABET_BYTES else 255 for b in range(256))
# Weighted sum of the 15 random digits modulo 31 -> the check character that completes it to 0.
_CHECK_CHAR_BY_REMAINDER = bytes(
    _ALPHABET_BYTES[(-r * _CHECK_WEIGHT_INVERSE) % BASE] for r in range(BASE)
) + bytes(256 - BASE)

MAX_INPUT_LENGTH = 64
_SEPARATORS = re.compile(r"[\s\-_]+")

RandomBytes = Callable[[int], bytes]


class InvalidKeyFormat(ValueError):
    """The text is not a well-formed key (length, alphabet or check character)."""


def _group_sum(values: bytes) -> int:
    return (
        int.from_bytes(values[0:5], "big")
        + 3 * int.from_bytes(values[5:10], "big")
        + 9 * int.from_bytes(values[10:15], "big")
    )


def check_value(values: bytes) -> int:
    """The check digit value for 15 digit values."""
    return (-_group_sum(values) * _CHECK_WEIGHT_INVERSE) % BASE


def random_values(count: int, random_bytes: RandomBytes = secrets.token_bytes) -> bytes:
    """``count`` uniformly random digit values (0..30) as bytes."""
    values = b""
    while len(values) < count:
        missing = count - len(values)
        # ~3 % of bytes are rejected; ask for a little more than needed, top up if short.
        values += random_bytes(missing + missing // 16 + 16).translate(_TO_VALUE, _REJECTED)
    return values[:count]


def generate_keys(count: int, random_bytes: RandomBytes = secrets.token_bytes) -> list[bytes]:
    """``count`` new keys in canonical form: 16 ASCII characters, no dashes."""
    return split_keys(generate_key_block(count, random_bytes))


def split_keys(block: bytes) -> list[bytes]:
    return [block[i : i + KEY_LENGTH] for i in range(0, len(block), KEY_LENGTH)]


def generate_key_block(count: int, random_bytes: RandomBytes = secrets.token_bytes) -> bytes:
    """``count`` new canonical keys concatenated (16 bytes each), computed a block at a time.

    The check characters of all keys come from three big-integer sums instead of a Python loop:
    each key's five-digit groups are laid into 8-byte slots (big-endian, three zero bytes of
    headroom), so adding the groups of every key at once (times 1, 3, 9) never carries from
    one key's slot into the next; the slots then hold each key's weighted sum.
    """
    if count <= 0:
        return b""
    values = random_values(count * RANDOM_LENGTH, random_bytes)
    total = 0
    for group, multiplier in enumerate(GROUP_MULTIPLIERS):
        slots = bytearray(8 * count)
        for k in range(5):
            slots[3 + k :: 8] = values[group * 5 + k :: RANDOM_LENGTH]
        total += multiplier * int.from_bytes(slots, "big")
    sums = array("Q", total.to_bytes(8 * count, "big"))
    if sys.byteorder == "little":
        sums.byteswap()
    remainders = bytes(map(operator.mod, sums, repeat(BASE, count)))
    block = bytearray(KEY_LENGTH * count)
    chars = values.translate(_TO_CHAR)
    for position in range(RANDOM_LENGTH):
        block[position::KEY_LENGTH] = chars[position::RANDOM_LENGTH]
    block[RANDOM_LENGTH::KEY_LENGTH] = remainders.translate(_CHECK_CHAR_BY_REMAINDER)
    return bytes(block)


def is_canonical_valid(canonical: bytes) -> bool:
    """True for 16 alphabet characters whose check character matches."""
    if len(canonical) != KEY_LENGTH:
        return False
    values = canonical.translate(_FROM_CHAR)
    if 255 in values:
        return False
    return (_group_sum(values[:RANDOM_LENGTH]) + CHECK_WEIGHT * values[RANDOM_LENGTH]) % BASE == 0


def normalize(text: str) -> bytes:
    """The canonical form of what a person typed: case, spaces and dashes do not matter.

    Raises InvalidKeyFormat (whose message never repeats the input) for anything else.
    """
    if not isinstance(text, str) or len(text) > MAX_INPUT_LENGTH:
        raise InvalidKeyFormat("a key has 16 characters, as XXXX-XXXX-XXXX-XXXX")
    compact = _SEPARATORS.sub("", text).upper()
    if len(compact) != KEY_LENGTH or not compact.isascii():
        raise InvalidKeyFormat("a key has 16 characters, as XXXX-XXXX-XXXX-XXXX")
    canonical = compact.encode()
    if 255 in canonical.translate(_FROM_CHAR):
        raise InvalidKeyFormat("a key uses only the characters " + ALPHABET)
    if not is_canonical_valid(canonical):
        raise InvalidKeyFormat("the key's check character does not match: it was mistyped")
    return canonical


def format_key(canonical: bytes) -> str:
    """``XXXX-XXXX-XXXX-XXXX`` for display."""
    text = canonical.decode()
    return f"{text[0:4]}-{text[4:8]}-{text[8:12]}-{text[12:16]}"


def mask(canonical: bytes) -> str:
    """``****-****-****-7KQ2``: only the last group shows."""
    return "****-****-****-" + canonical[12:16].decode()
