"""The key format of §6: alphabet, check character, normalisation, generation."""

from __future__ import annotations

import itertools
import random

import pytest

from key_manager.domain import codec


def test_alphabet_has_no_lookalikes_and_weights_are_distinct():
    assert len(codec.ALPHABET) == 31 and len(set(codec.ALPHABET)) == 31
    assert not set("0O1IL") & set(codec.ALPHABET)
    assert len(codec.WEIGHTS) == 16
    assert len({w % 31 for w in codec.WEIGHTS}) == 16 and 0 not in codec.WEIGHTS


def test_fast_check_matches_the_weighted_sum_definition():
    for key in codec.generate_keys(2_000):
        values = [codec.ALPHABET.index(c) for c in key.decode()]
        assert sum(w * v for w, v in zip(codec.WEIGHTS, values, strict=True)) % 31 == 0
        assert codec.check_value(bytes(values[:15])) == values[15]


def test_generated_keys_are_valid_distinct_and_use_the_whole_alphabet():
    keys = codec.generate_keys(20_000)
    assert len(set(keys)) == 20_000
    assert all(codec.is_canonical_valid(k) and len(k) == 16 for k in keys)
    assert set(b"".join(keys).decode()) == set(codec.ALPHABET)


def test_every_single_substitution_and_every_swap_is_detected():
    key = codec.generate_keys(1)[0].decode()
    for position, char in itertools.product(range(16), codec.ALPHABET):
        if key[position] != char:
            typo = key[:position] + char + key[position + 1 :]
            assert not codec.is_canonical_valid(typo.encode())
    for i, j in itertools.combinations(range(16), 2):
        if key[i] != key[j]:
            swapped = list(key)
            swapped[i], swapped[j] = swapped[j], swapped[i]
            assert not codec.is_canonical_valid("".join(swapped).encode())


def test_random_guesses_pass_about_one_in_31():
    rng = random.Random(7)
    guesses = ["".join(rng.choice(codec.ALPHABET) for _ in range(16)).encode() for _ in range(31_000)]
    passing = sum(codec.is_canonical_valid(g) for g in guesses)
    assert 800 < passing < 1_200


@pytest.mark.parametrize(
    "typed",
    ["{k}", "{lower}", " {k} ", "{compact}", "{spaced}", "{compact_lower}", "{under}"],
)
def test_normalisation_accepts_case_spaces_and_missing_dashes(typed):
    canonical = codec.generate_keys(1)[0]
    formatted = codec.format_key(canonical)
    text = typed.format(
        k=formatted,
        lower=formatted.lower(),
        compact=canonical.decode(),
        spaced=formatted.replace("-", " "),
        compact_lower=canonical.decode().lower(),
        under=formatted.replace("-", "_"),
    )
    assert codec.normalize(text) == canonical


@pytest.mark.parametrize(
    "bad",
    [
        "",
        "ABCD",
        "ABCD-EFGH-JKMN-PQRS-TUVW",
        "0BCD-EFGH-JKMN-PQRS",
        "OBCD-EFGH-JKMN-PQRS",
        "1BCD-EFGH-JKMN-PQRS",
        "IBCD-EFGH-JKMN-PQRS",
        "LBCD-EFGH-JKMN-PQRS",
        "ÄBCD-EFGH-JKMN-PQRS",
        "x" * 1000,
    ],
)
def test_malformed_keys_are_refused_without_echoing_them(bad):
    with pytest.raises(codec.InvalidKeyFormat) as refused:
        codec.normalize(bad)
    assert bad.strip() == "" or bad not in str(refused.value)


def test_a_wrong_check_character_is_refused():
    key = codec.generate_keys(1)[0].decode()
    wrong = key[:15] + next(c for c in codec.ALPHABET if c != key[15])
    with pytest.raises(codec.InvalidKeyFormat, match="check character"):
        codec.normalize(wrong)


def test_format_and_mask():
    canonical = b"ABCDEFGHJKMN7KQ2"
    assert codec.format_key(canonical) == "ABCD-EFGH-JKMN-7KQ2"
    assert codec.mask(canonical) == "****-****-****-7KQ2"


def test_rejected_random_bytes_do_not_bias_values():
    values = codec.random_values(310_000)
    counts = [values.count(v) for v in range(31)]
    assert max(counts) - min(counts) < 1_000  # ~10,000 each; bias from modulo would be ~3 %
    assert max(values) == 30
