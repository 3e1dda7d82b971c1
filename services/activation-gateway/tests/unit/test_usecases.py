"""The use cases against fakes of key-manager and antifraud (no neighbour app): what each answer
of theirs comes to — the record, its event, the key's hold, the lockout count."""

from __future__ import annotations

import json
import uuid
from dataclasses import replace
from datetime import UTC, datetime

import pytest

from activation_gateway.domain.redemption import FraudChecksUnavailable, Refusal, Status
from activation_gateway.usecases.check_region import check_region
from activation_gateway.usecases.lockout import lockout_states
from activation_gateway.usecases.redeem import redeem
from activation_gateway.usecases.reviews import apply_case_decision, reassess_holds
from activation_gateway.usecases.validate import validate
from gamekeys_platform.contracts import antifraud as antifraud_events

LIMIT = 10  # the default lockout rule per user: 10 failures an hour


def run(gw, attempt):
    with gw.db.transaction() as session:
        return redeem(gw, session, attempt)


def user_remaining(gw, attempt) -> int:
    [state] = [state for state in lockout_states(gw, attempt.identities) if state.rule.dimension == "user"]
    return state.remaining


def test_allow_activates_once_records_and_emits_without_the_key(
    gw, key_manager, antifraud, attempt, row, events_of
):
    text, key = key_manager.add_key()
    tried = attempt(text)
    result = run(gw, tried)
    assert (result.status, result.refusal) == (Status.ACTIVATED, None)
    assert (result.transaction_id, result.key_id, result.game_id) == (
        str(tried.activation_id),
        key["keyId"],
        key["gameId"],
    )
    assert key_manager.keys[key["keyId"]]["activationId"] == str(tried.activation_id)
    record = row(tried.activation_id)
    assert record["status"] == "activated" and record["completed_at"] is not None
    assert record["risk_score"] == 5 and record["assessment_id"] is not None
    [event] = events_of("activation.succeeded", tried.activation_id)
    assert event["data"]["keyId"] == key["keyId"]
    # Never the plaintext key: not in the record, the event or what antifraud was sent.
    canonical = text.replace("-", "")
    [(sent, idempotency_key)] = antifraud.requests
    for stored in (json.dumps(record, default=str), json.dumps(event), json.dumps(sent)):
        assert canonical not in stored and text not in stored
    assert sent["activationContext"]["keyOutcome"] == "valid" and idempotency_key is None
    assert user_remaining(gw, tried) == LIMIT  # a success gives its place back


def test_review_holds_the_key_pending(gw, key_manager, antifraud, attempt, row, events_of):
    antifraud.action = "REVIEW"
    text, key = key_manager.add_key()
    tried = attempt(text)
    result = run(gw, tried)
    assert (result.status, result.refusal) == (Status.PENDING_REVIEW, None)
    held = key_manager.keys[key["keyId"]]
    assert held["status"] == "pending_review" and held["holdId"] == str(tried.activation_id)
    assert ("activate", str(tried.activation_id)) not in key_manager.calls
    record = row(tried.activation_id)
    assert record["status"] == "pending_review" and record["review_reason"] == "antifraud_review"
    assert record["completed_at"] is None
    [event] = events_of("activation.pending_review", tried.activation_id)
    assert event["data"]["caseId"] == str(record["case_id"])
    # The same player asking again sees their review; another player is refused.
    again = run(gw, attempt(text, user_id=tried.user_id))
    assert (again.status, again.transaction_id) == (Status.PENDING_REVIEW, str(tried.activation_id))
    other = run(gw, attempt(text))
    assert (other.status, other.refusal.code) == (Status.FAILED, "CONFLICT")


def test_key_already_activated_by_key_manager_fails_and_counts(gw, key_manager, attempt, row, events_of):
    key_manager.refuse["activate"] = "KEY_ALREADY_ACTIVATED"
    text, key = key_manager.add_key()
    tried = attempt(text)
    result = run(gw, tried)
    assert (result.status, result.refusal.code, result.key_id) == (
        Status.FAILED,
        "KEY_ALREADY_ACTIVATED",
        key["keyId"],
    )
    record = row(tried.activation_id)
    assert record["status"] == "failed" and record["error_code"] == "KEY_ALREADY_ACTIVATED"
    assert events_of("activation.failed", tried.activation_id)[0]["data"]["reason"] == "KEY_ALREADY_ACTIVATED"
    assert user_remaining(gw, tried) == LIMIT - 1  # the attempt counted toward the lockout


def test_antifraud_unavailable_holds_pending(gw, key_manager, antifraud, attempt, row):
    antifraud.action = None
    text, key = key_manager.add_key()
    tried = attempt(text)
    result = run(gw, tried)
    assert (result.status, result.refusal) == (Status.PENDING_REVIEW, None)
    assert key_manager.keys[key["keyId"]]["status"] == "pending_review"
    record = row(tried.activation_id)
    assert record["review_reason"] == "antifraud_unavailable" and record["case_id"] is None


def test_antifraud_unavailable_under_the_reject_policy_writes_nothing(
    gw, key_manager, antifraud, attempt, row
):
    gw = replace(gw, settings=gw.settings.model_copy(update={"antifraud_unavailable_policy": "reject"}))
    antifraud.action = None
    text, key = key_manager.add_key()
    tried = attempt(text)
    with pytest.raises(FraudChecksUnavailable) as raised:
        run(gw, tried)
    assert raised.value.code == "SERVICE_UNAVAILABLE" and raised.value.retry_after == 5
    assert row(tried.activation_id) is None
    assert key_manager.keys[key["keyId"]]["status"] == "generated"
    assert user_remaining(gw, tried) == LIMIT


@pytest.mark.parametrize(("rules", "code"), [((), "FRAUD_DETECTED"), (("block-listed",), "ACCOUNT_BLOCKED")])
def test_block_is_recorded_blocked(gw, key_manager, antifraud, attempt, row, events_of, rules, code):
    antifraud.action, antifraud.rules = "BLOCK", rules
    text, key = key_manager.add_key()
    tried = attempt(text)
    result = run(gw, tried)
    assert (result.status, result.refusal.code) == (Status.BLOCKED, code)
    assert result.refusal.details["riskScore"] == 95
    assert key_manager.keys[key["keyId"]]["status"] == "generated"
    assert row(tried.activation_id)["status"] == "blocked"
    assert events_of("activation.blocked", tried.activation_id)
    assert user_remaining(gw, tried) == LIMIT  # not a guesser's failure


def test_unknown_key_is_recorded_told_to_antifraud_and_counted(gw, key_manager, antifraud, attempt, row):
    text, _ = key_manager.add_key()
    key_manager.by_text.clear()  # well-formed, but key-manager does not know it
    tried = attempt(text)
    result = run(gw, tried)
    assert (result.status, result.refusal.code, result.key_id) == (Status.FAILED, "KEY_NOT_FOUND", None)
    record = row(tried.activation_id)
    assert record["error_code"] == "KEY_NOT_FOUND" and record["key_fingerprint"]
    [(sent, _)] = antifraud.requests
    context = sent["activationContext"]
    assert context["keyOutcome"] == "not_found" and context["keyFingerprint"] == record["key_fingerprint"]
    assert text.replace("-", "") not in json.dumps(sent)
    assert user_remaining(gw, tried) == LIMIT - 1


def test_malformed_key_asks_nobody_writes_nothing_and_counts(gw, key_manager, antifraud, attempt, row):
    tried = attempt("AAAA-AAAA-AAAA-AAAA")
    result = run(gw, tried)
    assert (result.status, result.refusal.code) == (Status.FAILED, "INVALID_KEY_FORMAT")
    assert key_manager.calls == [] and antifraud.requests == []
    assert row(tried.activation_id) is None
    assert user_remaining(gw, tried) == LIMIT - 1


def test_locked_out_after_the_limit_without_asking_key_manager(gw, key_manager, attempt):
    user_id = str(uuid.uuid4())
    for _ in range(LIMIT):
        assert run(gw, attempt("AAAA-AAAA-AAAA-AAAA", user_id=user_id)).refusal.code == "INVALID_KEY_FORMAT"
    text, _ = key_manager.add_key()
    result = run(gw, attempt(text, user_id=user_id))
    assert (result.status, result.refusal.code) == (Status.FAILED, "RATE_LIMITED")
    assert result.refusal.details["lockedBy"] == ["user"] and result.refusal.details["retryAfter"] >= 1
    assert key_manager.calls == []


def test_a_repeated_activation_id_answers_what_it_did(gw, key_manager, attempt):
    text, _ = key_manager.add_key()
    tried = attempt(text, derived_id=True)
    first = run(gw, tried)
    again = run(gw, replace(tried, key_text=text))
    assert first == again and first.status is Status.ACTIVATED
    assert [call for call in key_manager.calls if call[0] == "activate"] == [
        ("activate", str(tried.activation_id))
    ]


def test_validate_is_a_dry_run(gw, key_manager, antifraud, attempt, row):
    text, key = key_manager.add_key(regionalRestrictions=[{"type": "allow", "countries": ["FR"]}])
    tried = attempt(text)
    result = validate(gw, tried)
    assert (
        not result.valid
        and result.refusal.code == "REGION_RESTRICTED"
        and result.key["keyId"] == key["keyId"]
    )
    assert validate(gw, replace(tried, user_region="FR")).valid
    assert antifraud.requests == [] and row(tried.activation_id) is None
    assert key_manager.keys[key["keyId"]]["status"] == "generated"
    assert user_remaining(gw, tried) == LIMIT
    key_manager.keys[key["keyId"]]["status"] = "revoked"
    assert validate(gw, replace(tried, user_region="FR")).refusal.code == "KEY_REVOKED"
    assert user_remaining(gw, tried) == LIMIT - 1


def test_check_region(gw, key_manager, attempt):
    text, key = key_manager.add_key(regionalRestrictions=[{"type": "deny", "countries": ["DE"]}])
    identities = attempt(text).identities
    verdict = check_region(gw, identities, key_text=text, key_id=None, user_region="DE")
    assert (verdict.allowed, verdict.code, verdict.reason) == (False, "REGION_RESTRICTED", "user_region")
    assert check_region(gw, identities, key_text=None, key_id=key["keyId"], user_region="FR").allowed
    missing = check_region(gw, identities, key_text=None, key_id=str(uuid.uuid4()), user_region="FR")
    assert isinstance(missing, Refusal) and missing.code == "KEY_NOT_FOUND"
    malformed = check_region(gw, identities, key_text="nope", key_id=None, user_region="FR")
    assert isinstance(malformed, Refusal) and malformed.code == "INVALID_KEY_FORMAT"
    [state] = [s for s in lockout_states(gw, identities) if s.rule.dimension == "user"]
    assert state.remaining == LIMIT - 2


def decided(result, record, decision: str) -> antifraud_events.CaseDecided:
    return antifraud_events.CaseDecided(
        case_id=record["case_id"],
        assessment_id=record["assessment_id"],
        key_id=uuid.UUID(result.key_id),
        user_id=record["user_id"],
        activation_id=result.transaction_id,
        decision=decision,
        status="approved" if decision == "approve" else "rejected",
        note=None,
        decided_by=str(uuid.uuid4()),
        decided_at=datetime.now(UTC),
    )


@pytest.mark.parametrize("decision", ["approve", "reject"])
def test_case_decision_completes_or_releases(gw, key_manager, antifraud, attempt, row, events_of, decision):
    antifraud.action = "REVIEW"
    text, key = key_manager.add_key(status="sold")
    tried = attempt(text)
    result = run(gw, tried)
    data = decided(result, row(tried.activation_id), decision)
    with gw.db.transaction() as session:
        updated = apply_case_decision(gw, session, data)
    with gw.db.transaction() as session:
        assert apply_case_decision(gw, session, data) is None  # a redelivery changes nothing
    record = row(tried.activation_id)
    if decision == "approve":
        assert updated.status == record["status"] == "activated"
        assert key_manager.keys[key["keyId"]]["status"] == "activated"
        assert events_of("activation.succeeded", tried.activation_id)
    else:
        assert (record["status"], record["error_code"]) == ("rejected", "FRAUD_DETECTED")
        assert key_manager.keys[key["keyId"]]["status"] == "sold"  # released, back where it was
        [event] = events_of("activation.failed", tried.activation_id)
        assert event["data"]["reason"] == "FRAUD_DETECTED"


def test_reassess_holds_once_antifraud_answers(gw, key_manager, antifraud, attempt, row):
    gw = replace(gw, settings=gw.settings.model_copy(update={"reassess_after_seconds": 0}))  # no wait
    antifraud.action = None
    held = []
    for _ in range(3):
        text, key = key_manager.add_key()
        held.append((attempt(text), key))
        run(gw, held[-1][0])
    assert reassess_holds(gw)["unavailable"] >= 3  # still down: they wait
    antifraud.action = "ALLOW"
    assert reassess_holds(gw)["activated"] >= 3
    for tried, key in held:
        assert row(tried.activation_id)["status"] == "activated"
        assert key_manager.keys[key["keyId"]]["status"] == "activated"
