"""HTTP API: public reports and the internal routes developer-portal calls."""
