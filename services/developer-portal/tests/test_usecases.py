"""The portal's use cases called directly (no HTTP), on the test database: each leaves its
writes, its audit entry and its event in the caller's transaction, or refuses writing nothing."""

from __future__ import annotations

import uuid

import pytest
from dp_testkit import audit_count, legal_details, outbox_count
from sqlalchemy import select

from developer_portal.db import repository
from developer_portal.db.tables import audit_log
from developer_portal.usecases import accounts, games, team
from developer_portal.usecases.common import Actor
from gamekeys_platform.refusals import Refusal

ADMIN_SERVICE = Actor("admin-service", is_service=True, request_id="req-usecase")


@pytest.fixture()
def state(app):
    return app.extensions["developer_portal"]


def user() -> Actor:
    user_id = str(uuid.uuid4())
    return Actor(user_id, email=f"user-{user_id[:8]}@example.com", request_id=f"req-{user_id[:8]}")


def events_of(db, developer_or_game_id) -> list[str]:
    outbox = db.tables.outbox
    with db.transaction() as session:
        rows = session.execute(
            select(outbox.c.event_type)
            .where(outbox.c.message_key == str(developer_or_game_id))
            .order_by(outbox.c.seq)
        )
        return [row[0] for row in rows]


def register(state, actor: Actor, *, verified: bool = True) -> uuid.UUID:
    with state.db.transaction() as session:
        studio = accounts.register_studio(
            state, session, actor, company_name=f" Studio {actor.subject[:8]} ", legal_details=legal_details()
        )
    developer_id = uuid.UUID(studio["developerId"])
    if verified:
        with state.db.transaction() as session:
            accounts.decide_verification(
                state, session, ADMIN_SERVICE, developer_id, status="verified", reason=None
            )
    return developer_id


def developer_row(state, developer_id, *, lock: bool = False):
    with state.db.transaction() as session:
        return repository.get_developer(session, developer_id, lock=lock)


def test_registering_a_studio_makes_the_actor_its_admin_with_audit_and_events(state, db):
    founder = user()
    with state.db.transaction() as session:
        studio = accounts.register_studio(
            state, session, founder, company_name="  Northwind  ", legal_details=legal_details()
        )
    assert (studio["companyName"], studio["verificationStatus"], studio["role"]) == (
        "Northwind",
        "pending",
        "admin",
    )
    developer_id = studio["developerId"]
    assert events_of(db, developer_id) == ["developer.registered", "team.member_added"]
    with db.transaction() as session:
        entries = session.execute(
            select(audit_log.c.action, audit_log.c.actor_type, audit_log.c.actor_id, audit_log.c.request_id)
            .where(audit_log.c.developer_id == uuid.UUID(developer_id))
            .order_by(audit_log.c.audit_id)
        ).all()
    assert [tuple(e) for e in entries] == [
        ("developer.registered", "user", founder.subject, founder.request_id),
        ("team.member_added", "user", founder.subject, founder.request_id),
    ]
    # A user is in one studio at most: a second registration refuses and writes nothing.
    before = (audit_count(db, developer_id), outbox_count(db))
    with pytest.raises(Refusal) as refused, state.db.transaction() as session:
        accounts.register_studio(state, session, founder, company_name="Again", legal_details=legal_details())
    assert (refused.value.code, refused.value.details["reason"]) == ("CONFLICT", "ALREADY_IN_A_STUDIO")
    assert (audit_count(db, developer_id), outbox_count(db)) == before


def test_a_verification_decision_is_taken_once(state, db):
    developer_id = register(state, user(), verified=False)
    decide = lambda status, reason=None: accounts.decide_verification(  # noqa: E731
        state, session, ADMIN_SERVICE, developer_id, status=status, reason=reason
    )
    with state.db.transaction() as session:
        assert decide("rejected", "missing tax id")["verificationStatus"] == "rejected"
    with state.db.transaction() as session:
        assert decide("rejected", "missing tax id")["verificationReason"] == "missing tax id"  # a retry
    with pytest.raises(Refusal) as refused, state.db.transaction() as session:
        decide("verified")
    assert refused.value.details["reason"] == "VERIFICATION_ALREADY_DECIDED"
    assert events_of(db, developer_id).count("developer.verified") == 1
    with db.transaction() as session:
        actors = session.execute(
            select(audit_log.c.actor_type, audit_log.c.actor_id).where(
                audit_log.c.developer_id == developer_id, audit_log.c.action == "developer.verified"
            )
        ).all()
    assert [tuple(a) for a in actors] == [("service", "admin-service")]
    # The rejected studio's admin corrects its details: pending again.
    with state.db.transaction() as session:
        row = repository.get_developer(session, developer_id, lock=True)
        updated = accounts.update_studio(
            state, session, user(), row, role="admin", changes={"companyName": "Corrected"}
        )
    assert (updated["companyName"], updated["verificationStatus"]) == ("Corrected", "pending")


def test_team_changes_through_an_invitation_keep_the_last_admin(state, db):
    founder, newcomer = user(), user()
    developer_id = register(state, founder)
    with state.db.transaction() as session:
        invitation = team.invite_member(
            state,
            session,
            founder,
            repository.get_developer(session, developer_id, lock=True),
            email=newcomer.email.upper(),
            role="developer",
        )
    assert (invitation["email"], invitation["status"]) == (newcomer.email, "pending")
    stranger = Actor(str(uuid.uuid4()), email="someone-else@example.com")
    with pytest.raises(Refusal) as refused, state.db.transaction() as session:
        team.accept_invitation(state, session, stranger, uuid.UUID(invitation["invitationId"]))
    assert (refused.value.code, refused.value.details["reason"]) == ("FORBIDDEN", "EMAIL_MISMATCH")
    with state.db.transaction() as session:
        member = team.accept_invitation(state, session, newcomer, uuid.UUID(invitation["invitationId"]))
    assert (member["userId"], member["role"]) == (newcomer.subject, "developer")

    with pytest.raises(Refusal) as refused, state.db.transaction() as session:
        team.change_member_role(state, session, founder, developer_id, founder.user_id, role="developer")
    assert refused.value.details["reason"] == "LAST_ADMIN"
    with state.db.transaction() as session:
        promoted = team.change_member_role(
            state, session, founder, developer_id, newcomer.user_id, role="admin"
        )
    assert promoted["role"] == "admin"
    with state.db.transaction() as session:
        team.remove_member(state, session, newcomer, developer_id, founder.user_id)
    with pytest.raises(Refusal) as refused, state.db.transaction() as session:
        team.remove_member(state, session, newcomer, developer_id, founder.user_id)
    assert refused.value.code == "NOT_FOUND"
    assert events_of(db, developer_id)[-4:] == [
        "team.member_invited",
        "team.member_added",
        "team.member_role_changed",
        "team.member_removed",
    ]


def test_games_their_metadata_and_pricing(state, db):
    founder = user()
    developer_id = register(state, founder)
    with state.db.transaction() as session:
        game = games.create_game(
            state, session, founder, repository.get_developer(session, developer_id), title="  Star   Forge "
        )
    game_id = uuid.UUID(game["gameId"])
    assert (game["title"], game["status"]) == ("Star Forge", "draft")
    with pytest.raises(Refusal) as refused, state.db.transaction() as session:
        games.create_game(
            state, session, founder, repository.get_developer(session, developer_id), title="star forge"
        )
    assert refused.value.details == {"reason": "DUPLICATE_TITLE", "title": "star forge"}

    def game_row(session):
        return repository.get_game(session, game_id, lock=True)

    with state.db.transaction() as session:
        games.update_game(state, session, founder, game_row(session), title="Star Forge II")
    with state.db.transaction() as session:
        saved = games.update_metadata(
            state, session, founder, game_row(session), {"tags": ["Space", "space", "RPG"], "ageRating": None}
        )
    assert saved["tags"] == ["space", "rpg"]
    before = (audit_count(db, str(developer_id)), outbox_count(db))
    with state.db.transaction() as session:  # the same again: nothing written
        games.update_metadata(state, session, founder, game_row(session), {"tags": ["space", "rpg"]})
    assert (audit_count(db, str(developer_id)), outbox_count(db)) == before
    with state.db.transaction() as session:
        games.delete_game(state, session, founder, game_row(session))
        assert repository.get_game(session, game_id) is None
    assert events_of(db, game_id) == ["game.created", "game.updated", "game.metadata_updated", "game.deleted"]


def test_an_unverified_studio_cannot_create_games(state, db):
    founder = user()
    developer_id = register(state, founder, verified=False)
    before = outbox_count(db)
    with pytest.raises(Refusal) as refused, state.db.transaction() as session:
        games.create_game(state, session, founder, developer_row(state, developer_id), title="Too Early")
    assert refused.value.details == {"reason": "DEVELOPER_NOT_VERIFIED", "verificationStatus": "pending"}
    assert outbox_count(db) == before
