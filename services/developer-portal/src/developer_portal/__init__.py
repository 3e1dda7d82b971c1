"""The developer portal: studios, verification, teams and roles, games, metadata, pricing."""
