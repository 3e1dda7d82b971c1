"""The use cases called directly, without HTTP: the service's own PostgreSQL and Redis (as the
API tests use them), a session per transaction as a view or a consumer would hold it."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select

from antifraud.api.schemas import AnalyzeRequestSchema
from antifraud.db.tables import assessments, blocks, cases, outbox_table, rule_sets
from antifraud.domain.rules import DEFAULT_RULES
from antifraud.usecases import add_block, assess, block_activity, decide_case, lift_block, put_rules
from gamekeys_platform.refusals import Refusal

ACTOR = "support-user"


@pytest.fixture()
def request_of(request_body):
    """A FraudAnalysisRequest as the API hands it to ``assess``: loaded by its schema."""
    schema = AnalyzeRequestSchema()
    return lambda **overrides: schema.load(request_body(**overrides))


@pytest.fixture()
def review_request(request_of, random_ip):
    """Region-locked to the US, from an address the sample data puts elsewhere: REVIEW."""
    return lambda: request_of(context={"ipAddress": random_ip("192.0.2"), "keyRegions": ["US"]})


def outbox_types(session, *subjects) -> list[str]:
    query = (
        select(outbox_table.c.event_type)
        .where(outbox_table.c.message_key.in_([str(s) for s in subjects]))
        .order_by(outbox_table.c.seq)
    )
    return list(session.execute(query).scalars())


def count(session, table, **where) -> int:
    query = select(func.count()).select_from(table)
    for column, value in where.items():
        query = query.where(table.c[column] == value)
    return session.execute(query).scalar_one()


def test_assess_review_opens_one_case_and_both_events_in_the_callers_transaction(af, review_request):
    request = review_request()
    session = af.db.sessions()
    try:
        result = assess(af, session, request)
        assert result.decision.action == "REVIEW" and result.case_id is not None
        assert not result.degraded
        assert count(session, cases, assessment_id=result.assessment_id) == 1
        assert outbox_types(session, result.assessment_id, result.case_id) == [
            "fraud.assessed",
            "fraud.case_opened",
        ]
        with af.db.transaction() as other:  # nothing is visible before the caller commits
            assert count(other, assessments, id=result.assessment_id) == 0
            assert outbox_types(other, result.assessment_id, result.case_id) == []
        session.commit()
    finally:
        session.close()
    with af.db.transaction() as other:
        assert count(other, assessments, id=result.assessment_id) == 1
        assert count(other, cases, id=result.case_id, status="open") == 1
        assert outbox_types(other, result.assessment_id, result.case_id) == [
            "fraud.assessed",
            "fraud.case_opened",
        ]


def test_assess_rolled_back_leaves_nothing(af, review_request):
    session = af.db.sessions()
    try:
        result = assess(af, session, review_request())
        session.rollback()
    finally:
        session.close()
    with af.db.transaction() as other:
        assert count(other, assessments, id=result.assessment_id) == 0
        assert count(other, cases, assessment_id=result.assessment_id) == 0
        assert outbox_types(other, result.assessment_id, result.case_id) == []


def test_assess_allow_opens_no_case(af, request_of):
    with af.db.transaction() as session:
        result = assess(af, session, request_of())
        assert (result.decision.action, result.case_id) == ("ALLOW", None)
        assert outbox_types(session, result.assessment_id) == ["fraud.assessed"]
        assert count(session, cases, assessment_id=result.assessment_id) == 0


def test_decide_case_twice_is_refused_the_second_time(af, review_request):
    with af.db.transaction() as session:
        case_id = assess(af, session, review_request()).case_id
    with af.db.transaction() as session:
        row = decide_case(af, session, case_id, decision="reject", note="stolen key", actor=ACTOR)
        assert (row.status, row.decided_by, row.note) == ("rejected", ACTOR, "stolen key")
    with af.db.transaction() as session, pytest.raises(Refusal) as refused:
        decide_case(af, session, case_id, decision="approve", note=None, actor=ACTOR)
    assert (refused.value.code, refused.value.details) == ("CONFLICT", {"status": "rejected"})
    with af.db.transaction() as session:
        assert count(session, cases, id=case_id, status="rejected") == 1
        assert outbox_types(session, case_id).count("fraud.case_decided") == 1


def test_decide_case_that_does_not_exist_is_not_found(af):
    with af.db.transaction() as session, pytest.raises(Refusal) as refused:
        decide_case(af, session, uuid.uuid4(), decision="approve", note=None, actor=ACTOR)
    assert refused.value.code == "NOT_FOUND"


def test_a_block_added_applies_to_the_next_assess_and_lifted_no_longer(af, request_of):
    request = request_of()
    with af.db.transaction() as session:
        assert assess(af, session, request).decision.action == "ALLOW"  # snapshot taken before
    with af.db.transaction() as session:
        block = add_block(
            af,
            session,
            entity_type="device",
            value=request["deviceFingerprint"],
            reason="farm",
            expires_at=None,
            actor=ACTOR,
        )
        assert outbox_types(session, block.id) == ["fraud.block_added"]
    with af.db.transaction() as session:
        blocked = assess(af, session, {**request, "activationId": str(uuid.uuid4())})
    assert (blocked.decision.score, blocked.decision.action) == (100, "BLOCK")
    assert "block-listed" in [hit["id"] for hit in blocked.decision.rules_hit]

    with af.db.transaction() as session:
        lifted = lift_block(af, session, block.id, reason="appeal", actor=ACTOR)
        assert lifted.lifted_by == ACTOR
    with af.db.transaction() as session:
        again = assess(af, session, {**request, "activationId": str(uuid.uuid4())})
    assert again.decision.action != "BLOCK"
    with af.db.transaction() as session, pytest.raises(Refusal) as refused:
        lift_block(af, session, block.id, reason=None, actor=ACTOR)
    assert refused.value.code == "CONFLICT"
    with af.db.transaction() as session, pytest.raises(Refusal) as refused:
        lift_block(af, session, uuid.uuid4(), reason=None, actor=ACTOR)
    assert refused.value.code == "NOT_FOUND"


def test_a_block_rolled_back_is_never_announced(af, request_of):
    request = request_of()
    session = af.db.sessions()
    try:
        add_block(
            af,
            session,
            entity_type="user",
            value=str(request["userId"]),
            reason="x",
            expires_at=None,
            actor=ACTOR,
        )
        session.rollback()
    finally:
        session.close()
    with af.db.transaction() as session:
        assert assess(af, session, request).decision.action == "ALLOW"


def test_block_activity_blocks_each_entity_once(af, request_of):
    request = request_of()
    with af.db.transaction() as session:
        assessment_id = assess(af, session, request).assessment_id
    until = datetime.now(UTC) + timedelta(hours=1)
    with af.db.transaction() as session:
        rows = block_activity(
            af,
            session,
            assessment_id,
            entities=["user", "ip", "user"],
            reason="from review",
            expires_at=until,
            actor=ACTOR,
        )
    assert [(r.entity_type, r.value) for r in rows] == [
        ("user", str(request["userId"])),
        ("ip", str(request["activationContext"]["ipAddress"])),
    ]
    assert all(r.assessment_id == assessment_id and r.expires_at == until for r in rows)
    with af.db.transaction() as session, pytest.raises(Refusal) as refused:
        block_activity(af, session, uuid.uuid4(), entities=["user"], reason="x", expires_at=None, actor=ACTOR)
    assert refused.value.code == "NOT_FOUND"
    with af.db.transaction() as session:
        assert count(session, blocks, assessment_id=assessment_id) == 2


@pytest.fixture()
def default_rules_after(af):
    yield
    with af.db.transaction() as session:
        put_rules(af, session, [r.to_dict() for r in DEFAULT_RULES], actor=ACTOR)


def test_put_rules_is_in_force_for_the_next_assess(af, request_of, default_rules_after):
    request = request_of()
    marked = {
        "id": "unit-marked-device",
        "description": "the device under test",
        "expression": f"device_fingerprint == '{request['deviceFingerprint']}'",
        "weight": 10,
        "action": "BLOCK",
    }
    with af.db.transaction() as session:
        stored = put_rules(af, session, [r.to_dict() for r in DEFAULT_RULES] + [marked], actor=ACTOR)
        assert stored.created_by == ACTOR and stored.rules[-1]["id"] == "unit-marked-device"
        assert outbox_types(session, "antifraud-rules")[-1] == "fraud.rules_updated"
    with af.db.transaction() as session:
        result = assess(af, session, request)
    assert (result.rule_set_version, result.decision.action) == (stored.version, "BLOCK")


def test_put_rules_with_a_faulty_rule_is_refused_naming_it_and_writes_nothing(af):
    with af.db.transaction() as session:
        versions = count(session, rule_sets)
    faulty = {"id": "typo", "description": "", "expression": "user_idd == 'x'"}
    with af.db.transaction() as session, pytest.raises(Refusal) as refused:
        put_rules(af, session, [r.to_dict() for r in DEFAULT_RULES] + [faulty], actor=ACTOR)
    assert refused.value.code == "VALIDATION_ERROR"
    assert [e["ruleId"] for e in refused.value.details["rules"]] == ["typo"]
    with af.db.transaction() as session:
        assert count(session, rule_sets) == versions
