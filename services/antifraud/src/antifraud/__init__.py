"""Anti-fraud service of the Game Keys Platform (ARCHITECTURE.md §5, issue 5)."""
