from gamekeys_platform.migrations import run_migrations
from key_manager.db.tables import metadata

run_migrations(metadata)
