"""The developer portal on a fresh, migrated database (the lib's fixtures: ``postgres_url``,
``platform_env``, ``make_token``, ``kafka_servers``), and the test kit's ``portal``."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
from cryptography.fernet import Fernet

sys.path.insert(0, str(Path(__file__).parent))

from dp_testkit import UNREACHABLE_ISSUER, Portal, audit_count, outbox_count
from oidc_issuer import LocalIssuer

from developer_portal.app import create_app
from developer_portal.settings import Settings
from gamekeys_platform.migrations import upgrade_to_head
from gamekeys_platform.settings import load_settings
from gamekeys_platform.testing import free_port

SERVICE_DIR = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="session")
def migrated_url(postgres_url: str) -> str:
    upgrade_to_head(SERVICE_DIR / "alembic.ini", postgres_url)
    return postgres_url


@pytest.fixture(scope="session")
def oidc_issuer():
    issuer = LocalIssuer()
    yield issuer
    issuer.close()


@pytest.fixture(scope="session")
def portal_env(platform_env, oidc_issuer) -> dict:
    """The platform's test variables plus the portal's own secrets and the local OIDC issuer
    (lower case, as settings take them)."""
    return {
        **platform_env,
        "payout_details_keys": Fernet.generate_key().decode(),
        # Nothing listens there: the analytics routes' tests serve the real analytics and give
        # a portal of their own its address.
        "analytics_url": f"http://127.0.0.1:{free_port()}",
        "oidc_issuers": {
            oidc_issuer.url: oidc_issuer.jwks_url,
            UNREACHABLE_ISSUER: f"http://127.0.0.1:{free_port()}/jwks",
        },
    }


@pytest.fixture(scope="session")
def settings(portal_env, migrated_url) -> Settings:
    return load_settings(Settings, **portal_env)


@pytest.fixture(scope="session")
def app(settings):
    return create_app(settings)


@pytest.fixture(scope="session")
def db(app):
    database = app.extensions["developer_portal"].db
    yield database
    database.dispose()


@pytest.fixture(scope="session")
def portal(app, make_token) -> Portal:
    return Portal(app, make_token)


@pytest.fixture()
def anonymous(app):
    return app.test_client()


@pytest.fixture()
def nothing_written(db):
    """``with nothing_written(developer_id): ...`` asserts no audit entry and no event appear."""

    class Guard:
        def __init__(self, developer_id: str) -> None:
            self.developer_id = developer_id

        def __enter__(self):
            self.before = (audit_count(db, self.developer_id), outbox_count(db))
            return self

        def __exit__(self, *exc) -> None:
            if exc[0] is None:
                assert (audit_count(db, self.developer_id), outbox_count(db)) == self.before

    return Guard
