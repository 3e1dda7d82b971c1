"""The role matrix of §7 as plain data, checked cell by cell."""

from __future__ import annotations

import pytest

from developer_portal.domain.permissions import (
    STUDIO_ROLES,
    Action,
    Decision,
    StudioRole,
    decide,
    studio_allows,
)

A = Action
READS = {
    A.STUDIO_READ,
    A.TEAM_READ,
    A.GAME_READ,
    A.METADATA_READ,
    A.PRICING_READ,
    A.SUBMISSION_READ,
    A.ANALYTICS_READ,
}
EXPECTED = {
    "admin": set(Action),
    "developer": READS
    | {A.APIKEY_READ, A.TRUSTED_PUBLISHER_READ}
    | {
        A.GAME_CREATE,
        A.GAME_UPDATE,
        A.GAME_DELETE,
        A.METADATA_UPDATE,
        A.PRICING_UPDATE,
        A.GAME_SUBMIT,
        A.GAME_PUBLISH,
    },
    "marketing": READS | {A.METADATA_UPDATE},
    "finance": READS | {A.PRICING_UPDATE, A.FINANCE_READ, A.FINANCE_MANAGE},
}


def test_the_studio_roles_are_the_four_of_the_seed():
    assert set(STUDIO_ROLES) == {"admin", "developer", "marketing", "finance"}


@pytest.mark.parametrize("role", STUDIO_ROLES)
@pytest.mark.parametrize("action", list(Action))
def test_every_cell_of_the_matrix(role, action):
    allowed = action in EXPECTED[role]
    assert studio_allows(role, action) is allowed
    assert decide(action, studio_role=role) is (Decision.ALLOW if allowed else Decision.FORBIDDEN)


def test_only_admins_manage_the_team_and_read_the_audit_log():
    for action in (A.TEAM_MANAGE, A.AUDIT_READ, A.STUDIO_UPDATE):
        assert [r for r in STUDIO_ROLES if studio_allows(r, action)] == [StudioRole.ADMIN]


@pytest.mark.parametrize("action", list(Action))
def test_strangers_see_nothing_and_platform_admins_read_everything(action):
    assert decide(action, studio_role=None, platform_roles={"user", "developer"}) is Decision.NOT_FOUND
    assert decide(action, studio_role=None, platform_roles={"support"}) is Decision.NOT_FOUND
    as_admin = decide(action, studio_role=None, platform_roles={"admin"})
    assert as_admin is (Decision.ALLOW if action.value.endswith(".read") else Decision.FORBIDDEN)


def test_only_admins_manage_ci_credentials_and_only_builders_see_them():
    for action in (A.APIKEY_MANAGE, A.TRUSTED_PUBLISHER_MANAGE):
        assert [r for r in STUDIO_ROLES if studio_allows(r, action)] == [StudioRole.ADMIN]
    for action in (A.APIKEY_READ, A.TRUSTED_PUBLISHER_READ):
        assert [r for r in STUDIO_ROLES if studio_allows(r, action)] == [
            StudioRole.ADMIN,
            StudioRole.DEVELOPER,
        ]


def test_membership_wins_over_platform_role_and_unknown_roles_get_nothing():
    assert decide(A.TEAM_MANAGE, studio_role="finance", platform_roles={"admin"}) is Decision.FORBIDDEN
    assert not studio_allows("owner", A.GAME_READ)
