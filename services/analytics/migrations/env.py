from analytics.db.tables import metadata
from gamekeys_platform.migrations import run_migrations

run_migrations(metadata)
