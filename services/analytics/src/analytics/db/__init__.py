"""Storage: ClickHouse (events, reports) and PostgreSQL (the studio projection)."""
