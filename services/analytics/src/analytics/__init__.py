"""The analytics service of the Game Keys Platform (ARCHITECTURE.md §2, port 8007)."""
