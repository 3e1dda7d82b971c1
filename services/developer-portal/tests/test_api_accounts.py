"""Studios: registration, the caller's studio, verification by the Admin Service, admin views."""

from __future__ import annotations

import uuid

from dp_testkit import assert_error, expect, legal_details


def test_registration_makes_a_pending_studio_with_the_caller_as_admin(portal):
    founder = portal.user()
    developer = portal.register(founder, "Northwind Games")
    assert developer["verificationStatus"] == "pending"
    assert developer["companyName"] == "Northwind Games"
    assert developer["role"] == "admin"
    assert developer["legalDetails"]["country"] == "DE"
    assert developer["createdAt"].endswith("Z")
    uuid.UUID(developer["developerId"])

    me = expect(founder.get("/accounts/me"), 200)
    assert me == developer | {"updatedAt": me["updatedAt"]}
    team = expect(founder.get("/accounts/me/team"), 200)
    assert [(m["userId"], m["role"], m["email"]) for m in team["items"]] == [
        (founder.user_id, "admin", founder.email)
    ]
    assert team["nextCursor"] is None


def test_a_user_belongs_to_at_most_one_studio(portal):
    founder = portal.user()
    portal.register(founder)
    body = {"companyName": "Second", "legalDetails": legal_details()}
    assert_error(founder.post("/accounts", json=body), 409, "CONFLICT", "ALREADY_IN_A_STUDIO")


def test_someone_without_a_studio_gets_404_for_me(portal):
    assert_error(portal.user().get("/accounts/me"), 404, "NOT_FOUND")


def test_verification_moves_pending_to_verified_once(portal):
    _founder, developer = portal.studio(verified=False)
    verified = portal.verify(developer["developerId"])
    assert verified["verificationStatus"] == "verified"
    assert verified["verifiedAt"].endswith("Z")
    # A retry of the same decision changes nothing; reversing it is a conflict.
    assert portal.verify(developer["developerId"])["verifiedAt"] == verified["verifiedAt"]
    response = portal.service.post(
        f"/internal/v1/developers/{developer['developerId']}/verification",
        json={"status": "rejected", "reason": "changed our mind"},
    )
    assert_error(response, 409, "CONFLICT", "VERIFICATION_ALREADY_DECIDED")


def test_rejection_needs_a_reason_and_a_corrected_studio_is_pending_again(portal):
    founder, developer = portal.studio(verified=False)
    path = f"/internal/v1/developers/{developer['developerId']}/verification"
    error = assert_error(portal.service.post(path, json={"status": "rejected"}), 422, "VALIDATION_ERROR")
    assert "reason" in error["details"]["fields"]["json"]
    rejected = portal.verify(developer["developerId"], "rejected", "tax id does not match the registry")
    assert rejected["verificationStatus"] == "rejected"
    assert rejected["verificationReason"] == "tax id does not match the registry"
    assert_error(founder.post("/games", json={"title": "Nope"}), 403, "FORBIDDEN", "DEVELOPER_NOT_VERIFIED")

    fixed = expect(
        founder.put("/accounts/me", json={"legalDetails": legal_details(taxId="DE987654321")}), 200
    )
    assert fixed["verificationStatus"] == "pending"
    assert fixed["verificationReason"] is None
    assert portal.verify(developer["developerId"])["verificationStatus"] == "verified"


def test_verification_needs_the_scope_and_a_known_studio(portal, anonymous, make_token):
    _founder, developer = portal.studio(verified=False)
    path = f"/internal/v1/developers/{developer['developerId']}/verification"
    body = {"status": "verified"}
    assert_error(anonymous.post(path, json=body), 401, "UNAUTHORIZED")
    platform_admin = portal.user(roles=("admin",))
    assert_error(platform_admin.post(path, json=body), 403, "FORBIDDEN")
    other_service = make_token(sub="some-service", roles=(), scopes=("keys:activate",))
    assert_error(
        anonymous.post(path, json=body, headers={"Authorization": f"Bearer {other_service}"}),
        403,
        "FORBIDDEN",
    )
    unknown = f"/internal/v1/developers/{uuid.uuid4()}/verification"
    assert_error(portal.service.post(unknown, json=body), 404, "NOT_FOUND")
    assert_error(portal.service.post(path, json={"status": "pending"}), 422, "VALIDATION_ERROR")


def test_pending_studio_cannot_create_games(portal):
    founder, _developer = portal.studio(verified=False)
    assert_error(
        founder.post("/games", json={"title": "Too soon"}), 403, "FORBIDDEN", "DEVELOPER_NOT_VERIFIED"
    )


def test_update_changes_only_the_fields_given(portal):
    founder, developer = portal.studio()
    updated = expect(founder.put("/accounts/me", json={"companyName": "Renamed Ltd"}), 200)
    assert updated["companyName"] == "Renamed Ltd"
    assert updated["legalDetails"] == developer["legalDetails"]
    assert updated["verificationStatus"] == "verified"  # a verified studio stays verified
    assert_error(founder.put("/accounts/me", json={}), 422, "VALIDATION_ERROR")


def test_platform_admin_lists_and_reads_any_studio(portal):
    _founder, developer = portal.studio(verified=False)
    platform_admin = portal.user(roles=("admin",))
    found = expect(platform_admin.get(f"/accounts/{developer['developerId']}"), 200)
    assert found["developerId"] == developer["developerId"] and found["role"] is None

    seen, cursor = [], None
    for _ in range(50):
        query = "?verificationStatus=pending&limit=2" + (f"&cursor={cursor}" if cursor else "")
        page = expect(platform_admin.get("/accounts" + query), 200)
        assert len(page["items"]) <= 2
        assert all(item["verificationStatus"] == "pending" for item in page["items"])
        seen += [item["developerId"] for item in page["items"]]
        cursor = page["nextCursor"]
        if developer["developerId"] in seen or cursor is None:
            break
    assert developer["developerId"] in seen
    assert len(seen) == len(set(seen))
    assert_error(portal.user(roles=("developer",)).get("/accounts"), 403, "FORBIDDEN")


def test_audit_log_records_who_what_when_before_and_after(portal):
    founder, developer = portal.studio()
    expect(founder.put("/accounts/me", json={"companyName": "Audited Co"}), 200)
    entries = expect(founder.get("/accounts/me/audit-log"), 200)["items"]
    actions = [entry["action"] for entry in entries]
    assert actions[:4] == [
        "developer.updated",
        "developer.verified",
        "team.member_added",
        "developer.registered",
    ]
    update = entries[0]
    assert update["actorType"] == "user" and update["actorId"] == founder.user_id
    assert update["before"]["companyName"] == developer["companyName"]
    assert update["after"]["companyName"] == "Audited Co"
    assert update["occurredAt"].endswith("Z") and update["requestId"]
    verification = entries[1]
    assert verification["actorType"] == "service" and verification["actorId"] == "admin-service"
    assert (verification["before"]["verificationStatus"], verification["after"]["verificationStatus"]) == (
        "pending",
        "verified",
    )


def test_openapi_lists_the_routes(anonymous):
    spec = expect(anonymous.get("/openapi.json"), 200)
    for path in (
        "/api/v1/developer/accounts",
        "/api/v1/developer/accounts/me/team/{user_id}",
        "/api/v1/developer/games/{game_id}/pricing",
        "/internal/v1/developers/{developer_id}/verification",
    ):
        assert path in spec["paths"], sorted(spec["paths"])


def test_health_and_readiness(anonymous):
    assert expect(anonymous.get("/healthz"), 200) == {"status": "ok"}
    assert expect(anonymous.get("/readyz"), 200)["checks"] == {"database": "ok"}
