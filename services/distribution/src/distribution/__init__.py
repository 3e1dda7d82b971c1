"""Distribution service: retailers, OAuth client credentials, allocations, sales, returns, reports."""
