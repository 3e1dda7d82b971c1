"""The migrations create exactly the tables the code expects: a table changed without a revision
shows here."""

from __future__ import annotations

from game_builds.db.tables import metadata
from gamekeys_platform.testing import migration_drift


def test_migrations_match_the_tables(gb):
    assert migration_drift(gb.db.engine.url, metadata) == []
