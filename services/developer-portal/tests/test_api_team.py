"""The team: invitations by email, acceptance by the invited address only, role changes and
removals that never leave a studio without an admin."""

from __future__ import annotations

import uuid

from dp_testkit import assert_error, expect
from sqlalchemy import update

from developer_portal.db.tables import team_invitations


def test_invited_user_accepts_and_joins_with_the_role(portal):
    admin, developer = portal.studio()
    person = portal.user(email="New.Hire@Example.com")
    invitation = portal.invite(admin, "new.hire@example.COM", "marketing")
    assert invitation["status"] == "pending"
    assert invitation["email"] == "new.hire@example.com"
    assert invitation["companyName"] == developer["companyName"]
    assert invitation["expiresAt"] > invitation["createdAt"]

    received = expect(person.get("/accounts/invitations"), 200)["items"]
    assert [item["invitationId"] for item in received] == [invitation["invitationId"]]
    sent = expect(admin.get("/accounts/me/team/invitations"), 200)["items"]
    assert invitation["invitationId"] in [item["invitationId"] for item in sent]

    member = expect(person.post(f"/accounts/invitations/{invitation['invitationId']}/accept"), 200)
    assert (member["userId"], member["role"], member["developerId"]) == (
        person.user_id,
        "marketing",
        developer["developerId"],
    )
    assert expect(person.get("/accounts/me"), 200)["role"] == "marketing"
    assert expect(person.get("/accounts/invitations"), 200)["items"] == []
    assert_error(person.post(f"/accounts/invitations/{invitation['invitationId']}/accept"), 409, "CONFLICT")


def test_acceptance_with_another_email_is_refused(portal):
    admin, _developer = portal.studio()
    invitation = portal.invite(admin, "invited@example.com", "developer")
    path = f"/accounts/invitations/{invitation['invitationId']}/accept"
    intruder = portal.user(email="someone.else@example.com")
    assert_error(intruder.post(path), 403, "FORBIDDEN", "EMAIL_MISMATCH")
    no_email = portal.user(email=None)
    assert_error(no_email.post(path), 403, "FORBIDDEN", "EMAIL_MISMATCH")
    assert_error(intruder.get("/accounts/me"), 404, "NOT_FOUND")
    # Still open for the right person.
    invited = portal.user(email="invited@example.com")
    expect(invited.post(path), 200)


def test_acceptance_by_a_member_of_another_studio_is_refused(portal):
    admin, _developer = portal.studio()
    other_admin, _other = portal.studio()
    invitation = portal.invite(admin, other_admin.email, "developer")
    response = other_admin.post(f"/accounts/invitations/{invitation['invitationId']}/accept")
    assert_error(response, 409, "CONFLICT", "ALREADY_IN_A_STUDIO")


def test_expired_revoked_and_declined_invitations_cannot_be_accepted(portal, db):
    admin, _developer = portal.studio()
    expired_person, revoked_person, declining_person = portal.user(), portal.user(), portal.user()
    expired = portal.invite(admin, expired_person.email, "finance")
    with db.transaction() as session:
        session.execute(
            update(team_invitations)
            .where(team_invitations.c.invitation_id == uuid.UUID(expired["invitationId"]))
            .values(expires_at=team_invitations.c.created_at)
        )
    response = expired_person.post(f"/accounts/invitations/{expired['invitationId']}/accept")
    assert_error(response, 409, "CONFLICT", "INVITATION_EXPIRED")

    revoked = portal.invite(admin, revoked_person.email, "finance")
    expect(admin.delete(f"/accounts/me/team/invitations/{revoked['invitationId']}"), 204)
    response = revoked_person.post(f"/accounts/invitations/{revoked['invitationId']}/accept")
    assert_error(response, 409, "CONFLICT", "INVITATION_CLOSED")

    declined = portal.invite(admin, declining_person.email, "finance")
    answer = expect(declining_person.post(f"/accounts/invitations/{declined['invitationId']}/decline"), 200)
    assert answer["status"] == "declined"
    response = declining_person.post(f"/accounts/invitations/{declined['invitationId']}/accept")
    assert_error(response, 409, "CONFLICT", "INVITATION_CLOSED")
    # The address can be invited again once the earlier invitation is closed or expired.
    portal.invite(admin, expired_person.email, "finance")
    portal.invite(admin, declining_person.email, "developer")


def test_unknown_invitation_is_404(portal):
    assert_error(portal.user().post(f"/accounts/invitations/{uuid.uuid4()}/accept"), 404, "NOT_FOUND")


def test_inviting_a_member_or_an_invited_address_again_is_a_conflict(portal, nothing_written):
    admin, developer = portal.studio()
    member = portal.member(admin, "developer")
    portal.invite(admin, "pending@example.com", "finance")
    with nothing_written(developer["developerId"]):
        response = admin.post("/accounts/me/team", json={"email": member.email.upper(), "role": "finance"})
        assert_error(response, 409, "CONFLICT", "ALREADY_A_MEMBER")
        response = admin.post("/accounts/me/team", json={"email": admin.email, "role": "finance"})
        assert_error(response, 409, "CONFLICT", "ALREADY_A_MEMBER")
        response = admin.post("/accounts/me/team", json={"email": "Pending@example.com", "role": "admin"})
        assert_error(response, 409, "CONFLICT", "ALREADY_INVITED")


def test_only_a_verified_studio_invites(portal, nothing_written):
    admin, developer = portal.studio(verified=False)
    with nothing_written(developer["developerId"]):
        response = admin.post("/accounts/me/team", json={"email": "x@example.com", "role": "developer"})
        assert_error(response, 403, "FORBIDDEN", "DEVELOPER_NOT_VERIFIED")


def test_the_last_admin_can_be_neither_demoted_nor_removed(portal, nothing_written):
    admin, developer = portal.studio()
    with nothing_written(developer["developerId"]):
        response = admin.put(f"/accounts/me/team/{admin.user_id}", json={"role": "developer"})
        assert_error(response, 409, "CONFLICT", "LAST_ADMIN")
        assert_error(admin.delete(f"/accounts/me/team/{admin.user_id}"), 409, "CONFLICT", "LAST_ADMIN")

    second = portal.member(admin, "developer")
    promoted = expect(admin.put(f"/accounts/me/team/{second.user_id}", json={"role": "admin"}), 200)
    assert promoted["role"] == "admin"
    demoted = expect(second.put(f"/accounts/me/team/{admin.user_id}", json={"role": "finance"}), 200)
    assert demoted["role"] == "finance"
    # Now `second` is the only admin.
    assert_error(second.delete(f"/accounts/me/team/{second.user_id}"), 409, "CONFLICT", "LAST_ADMIN")
    assert_error(admin.delete(f"/accounts/me/team/{second.user_id}"), 403, "FORBIDDEN")


def test_removed_member_loses_access(portal):
    admin, developer = portal.studio()
    member = portal.member(admin, "developer")
    game = portal.game(member)
    expect(admin.delete(f"/accounts/me/team/{member.user_id}"), 204)
    assert_error(member.get("/accounts/me"), 404, "NOT_FOUND")
    assert_error(member.get(f"/games/{game['gameId']}"), 404, "NOT_FOUND")
    assert_error(admin.delete(f"/accounts/me/team/{member.user_id}"), 404, "NOT_FOUND")
    # A removed member may found or join another studio.
    portal.register(member)
    assert developer["developerId"] != expect(member.get("/accounts/me"), 200)["developerId"]


def test_setting_the_same_role_changes_nothing(portal, nothing_written):
    admin, developer = portal.studio()
    member = portal.member(admin, "finance")
    with nothing_written(developer["developerId"]):
        same = expect(admin.put(f"/accounts/me/team/{member.user_id}", json={"role": "finance"}), 200)
    assert same["role"] == "finance"


def test_team_list_is_paginated(portal):
    admin, _developer = portal.studio()
    members = {portal.member(admin, role).user_id for role in ("developer", "marketing", "finance")}
    seen, cursor = [], None
    while True:
        page = expect(admin.get("/accounts/me/team?limit=2" + (f"&cursor={cursor}" if cursor else "")), 200)
        assert len(page["items"]) <= 2
        seen += [item["userId"] for item in page["items"]]
        cursor = page["nextCursor"]
        if cursor is None:
            break
    assert seen[0] == admin.user_id
    assert set(seen) == members | {admin.user_id} and len(seen) == 4
    assert_error(admin.get("/accounts/me/team?cursor=garbage"), 422, "VALIDATION_ERROR")
    assert_error(admin.get("/accounts/me/team?limit=1000"), 422, "VALIDATION_ERROR")
