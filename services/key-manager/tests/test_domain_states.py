"""The key state machine: every allowed and every refused transition."""

from __future__ import annotations

import itertools

import pytest

from key_manager.domain.states import (
    FINAL,
    STORE_SALE,
    TRANSITIONS,
    KeyStatus,
    TransitionRefused,
    can_transition,
    check_transition,
    sources_of,
)

S = KeyStatus
ALLOWED = {
    (S.GENERATED, S.ALLOCATED), (S.GENERATED, S.ACTIVATED), (S.GENERATED, S.PENDING_REVIEW),
    (S.GENERATED, S.REVOKED), (S.GENERATED, S.EXPIRED),
    (S.ALLOCATED, S.GENERATED), (S.ALLOCATED, S.SOLD), (S.ALLOCATED, S.ACTIVATED),
    (S.ALLOCATED, S.PENDING_REVIEW), (S.ALLOCATED, S.REVOKED), (S.ALLOCATED, S.EXPIRED),
    (S.SOLD, S.ACTIVATED), (S.SOLD, S.PENDING_REVIEW), (S.SOLD, S.REVOKED), (S.SOLD, S.EXPIRED),
    (S.PENDING_REVIEW, S.ACTIVATED), (S.PENDING_REVIEW, S.REVOKED), (S.PENDING_REVIEW, S.EXPIRED),
}  # fmt: skip
RELEASES = {(S.PENDING_REVIEW, S.GENERATED), (S.PENDING_REVIEW, S.ALLOCATED), (S.PENDING_REVIEW, S.SOLD)}


@pytest.mark.parametrize(("current", "target"), list(itertools.product(KeyStatus, KeyStatus)))
def test_every_pair(current, target):
    if (current, target) in ALLOWED:
        check_transition(current, target)
    elif (current, target) in RELEASES:
        # A release goes back only to the state the key was held from.
        check_transition(current, target, held_from=target)
        other = next(s for s in (S.GENERATED, S.ALLOCATED, S.SOLD) if s is not target)
        with pytest.raises(TransitionRefused):
            check_transition(current, target, held_from=other)
    else:
        with pytest.raises(TransitionRefused) as refused:
            check_transition(current, target)
        assert refused.value.current is current and refused.value.target is target


def test_the_table_is_exactly_the_expected_one():
    table = {(a, b) for a, targets in TRANSITIONS.items() for b in targets}
    assert table == ALLOWED | RELEASES


def test_final_states_have_no_way_out_and_revoke_expire_reach_every_other():
    for state in FINAL:
        assert TRANSITIONS[state] == frozenset()
    assert sources_of(S.REVOKED) == frozenset(KeyStatus) - FINAL
    assert sources_of(S.EXPIRED) == frozenset(KeyStatus) - FINAL


def test_refusal_messages_name_the_problem():
    with pytest.raises(TransitionRefused, match="no further change"):
        check_transition("activated", "revoked")
    with pytest.raises(TransitionRefused, match="already sold"):
        check_transition("sold", "sold")
    assert not can_transition(S.GENERATED, S.SOLD)


def test_the_store_sale_is_a_path_of_allowed_steps():
    # The store sells a free key through allocated to sold; each step is a step of the table.
    assert STORE_SALE[0] is S.GENERATED and STORE_SALE[-1] is S.SOLD
    for current, target in itertools.pairwise(STORE_SALE):
        assert can_transition(current, target)
