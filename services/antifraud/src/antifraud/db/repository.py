"""SQL of the antifraud service; every function works in the caller's session (transaction)."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import and_, bindparam, func, insert, or_, select, text, update
from sqlalchemy.orm import Session

from antifraud.db.tables import assessments, blocks, cases, rule_sets
from antifraud.domain.blocks import ActiveBlock
from gamekeys_platform.pagination import Page, keyset_page

CASE_CURSOR = (datetime, uuid.UUID)
BLOCK_CURSOR = (datetime, uuid.UUID)


def _active_block():
    return and_(
        blocks.c.lifted_at.is_(None), or_(blocks.c.expires_at.is_(None), blocks.c.expires_at > func.now())
    )


# Built once: the analyze path executes these with parameters only, so SQLAlchemy's compiled
# cache is hit without walking a freshly built statement on every request. They run on the
# session's connection (same transaction): Core statements gain nothing from the ORM layer of
# Session.execute, which costs ~70 µs a statement.
_ACTIVE_BLOCK_TYPES = (
    select(blocks.c.entity_type)
    .where(
        _active_block(),
        or_(
            *(
                and_(blocks.c.entity_type == entity, blocks.c.value == bindparam(entity))
                for entity in ("user", "ip", "device")
            )
        ),
    )
    .distinct()
)
_INSERT_ASSESSMENT = insert(assessments)
_INSERT_CASE = insert(cases)


def active_block_types(session: Session, *, user_id: str, ip: str, device: str) -> set[str]:
    # An empty value is NULL: it matches no block.
    params = {"user": user_id or None, "ip": ip or None, "device": device or None}
    return set(session.connection().execute(_ACTIVE_BLOCK_TYPES, params).scalars())


def active_blocks(session: Session) -> list[ActiveBlock]:
    rows = session.connection().execute(
        select(blocks.c.entity_type, blocks.c.value, blocks.c.expires_at).where(_active_block())
    )
    return [ActiveBlock(row.entity_type, row.value, row.expires_at) for row in rows]


def insert_assessment(session: Session, **values: Any) -> None:
    session.connection().execute(_INSERT_ASSESSMENT, values)


def get_assessment(session: Session, assessment_id: uuid.UUID):
    return session.execute(select(assessments).where(assessments.c.id == assessment_id)).first()


def open_case(session: Session, **values: Any) -> uuid.UUID:
    case_id = uuid.uuid4()
    session.connection().execute(_INSERT_CASE, {"id": case_id, "status": "open", **values})
    return case_id


def get_case(session: Session, case_id: uuid.UUID, *, for_update: bool = False):
    query = select(cases).where(cases.c.id == case_id)
    if for_update:
        query = query.with_for_update()
    return session.execute(query).first()


def decide_case(session: Session, case_id: uuid.UUID, *, decision: str, note: str | None, actor: str):
    return session.execute(
        update(cases)
        .where(cases.c.id == case_id, cases.c.status == "open")
        .values(
            status="approved" if decision == "approve" else "rejected",
            decision=decision,
            note=note,
            decided_by=actor,
            decided_at=func.now(),
        )
        .returning(*cases.c)
    ).first()


def list_cases(session: Session, *, status: str | None, limit: int, after) -> Page:
    query = select(cases)
    if status:
        query = query.where(cases.c.status == status)
    return keyset_page(session, query, [cases.c.opened_at, cases.c.id], after, limit, descending=True)


def latest_rule_set(session: Session):
    return session.execute(select(rule_sets).order_by(rule_sets.c.version.desc()).limit(1)).first()


def insert_rule_set(session: Session, rules: list[dict], created_by: str) -> int:
    """The next version; the advisory lock serialises concurrent PUTs so versions never collide."""
    session.execute(text("SELECT pg_advisory_xact_lock(hashtextextended('antifraud.rule_sets', 0))"))
    version = (session.execute(select(func.max(rule_sets.c.version))).scalar() or 0) + 1
    session.execute(insert(rule_sets).values(version=version, rules=rules, created_by=created_by))
    return version


def assessments_between(session: Session, start: datetime, end: datetime, limit: int):
    return session.execute(
        select(
            assessments.c.id,
            assessments.c.features,
            assessments.c.action,
            assessments.c.score,
            assessments.c.risk_level,
        )
        .where(assessments.c.created_at >= start, assessments.c.created_at < end)
        .order_by(assessments.c.created_at, assessments.c.id)
        .limit(limit)
    ).all()


def add_block(session: Session, **values: Any):
    block_id = uuid.uuid4()
    return session.execute(insert(blocks).values(id=block_id, **values).returning(*blocks.c)).first()


def lift_block(session: Session, block_id: uuid.UUID, *, actor: str, reason: str | None):
    return session.execute(
        update(blocks)
        .where(blocks.c.id == block_id, blocks.c.lifted_at.is_(None))
        .values(lifted_at=func.now(), lifted_by=actor, lift_reason=reason)
        .returning(*blocks.c)
    ).first()


def get_block(session: Session, block_id: uuid.UUID):
    return session.execute(select(blocks).where(blocks.c.id == block_id)).first()


def list_blocks(
    session: Session, *, entity_type: str | None, value: str | None, active_only: bool, limit: int, after
) -> Page:
    query = select(blocks)
    if entity_type:
        query = query.where(blocks.c.entity_type == entity_type)
    if value:
        query = query.where(blocks.c.value == value)
    if active_only:
        query = query.where(_active_block())
    return keyset_page(session, query, [blocks.c.created_at, blocks.c.id], after, limit, descending=True)


def statistics(session: Session, start: datetime, end: datetime, top: int = 10) -> dict[str, Any]:
    window = and_(assessments.c.created_at >= start, assessments.c.created_at < end)
    by_level = dict(
        session.execute(
            select(assessments.c.risk_level, func.count()).where(window).group_by(assessments.c.risk_level)
        ).all()
    )
    by_action = dict(
        session.execute(
            select(assessments.c.action, func.count()).where(window).group_by(assessments.c.action)
        ).all()
    )
    rule_rows = session.execute(
        text(
            "SELECT hit->>'id' AS rule_id, hit->>'shadow' AS shadow, count(*) AS hits"
            " FROM assessments, jsonb_array_elements(assessments.rules_hit) AS hit"
            " WHERE assessments.created_at >= :start AND assessments.created_at < :end"
            " GROUP BY 1, 2 ORDER BY 3 DESC, 1 LIMIT :limit"
        ),
        {"start": start, "end": end, "limit": top * 2},
    ).all()
    cases_by_status = dict(
        session.execute(
            select(cases.c.status, func.count())
            .where(cases.c.opened_at >= start, cases.c.opened_at < end)
            .group_by(cases.c.status)
        ).all()
    )
    active_blocks = session.execute(
        select(func.count()).select_from(blocks).where(_active_block())
    ).scalar_one()
    return {
        "by_level": by_level,
        "by_action": by_action,
        "rules": [(row.rule_id, row.shadow == "true", row.hits) for row in rule_rows],
        "cases": cases_by_status,
        "active_blocks": active_blocks,
    }


def user_assessments(session: Session, user_id: uuid.UUID, since: datetime, limit: int = 1_000):
    return session.execute(
        select(assessments)
        .where(assessments.c.user_id == user_id, assessments.c.created_at >= since)
        .order_by(assessments.c.created_at.desc())
        .limit(limit)
    ).all()


def user_blocks(session: Session, user_id: uuid.UUID):
    return session.execute(
        select(blocks).where(blocks.c.entity_type == "user", blocks.c.value == str(user_id), _active_block())
    ).all()
