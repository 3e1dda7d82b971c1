"""Shared building blocks of the Game Keys Platform services.

Written once here, used by every service: settings, the app factory, errors, auth,
database sessions, idempotency, the transactional outbox and its relay, the event
consumer runner, rate limiting and the service-to-service HTTP client.
"""
