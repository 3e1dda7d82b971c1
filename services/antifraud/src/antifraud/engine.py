"""The rule set in force on this instance, compiled once per version.

Every instance checks the highest version in ``rule_sets`` at most every
``ANTIFRAUD_RULES_POLL_SECONDS`` (default 1 s; one indexed read), on the request path, and
compiles a new version when it sees one: a PUT /rules on any instance is in force on every
instance at the latest one poll interval later. With no stored version the shipped default
rules are version 0.
"""

from __future__ import annotations

import logging
import threading
import time

from sqlalchemy import Connection, func, select
from sqlalchemy.orm import Session

from antifraud.db.tables import rule_sets
from antifraud.domain.rules import (
    DEFAULT_RULES,
    Rule,
    RuleSet,
    RuleSetInvalid,
    compile_rule,
    compile_rule_set,
)

log = logging.getLogger("antifraud.rules")


class RuleEngine:
    def __init__(self, *, poll_seconds: float = 1.0) -> None:
        self.poll_seconds = poll_seconds
        self._current: RuleSet | None = None
        self._checked_at = 0.0
        self._lock = threading.Lock()

    def current(self, session: Session) -> RuleSet:
        """The rule set in force; the version is read through the caller's open ``session``. A
        connection of its own would be a second one per request: with every pooled connection
        held by a request waiting for another, none would ever come."""
        current = self._current
        if current is not None and time.monotonic() - self._checked_at < self.poll_seconds:
            return current
        if current is None:
            self._lock.acquire()
        elif not self._lock.acquire(blocking=False):
            return current  # another request is checking; this set is at most a poll interval old
        try:
            if self._current is None or time.monotonic() - self._checked_at >= self.poll_seconds:
                self._refresh(session.connection())
                self._checked_at = time.monotonic()
            return self._current
        finally:
            self._lock.release()

    def _refresh(self, connection: Connection) -> None:
        version = connection.execute(select(func.max(rule_sets.c.version))).scalar() or 0
        if self._current is None or self._current.version != version:
            raw = (
                connection.execute(
                    select(rule_sets.c.rules).where(rule_sets.c.version == version)
                ).scalar_one()
                if version
                else None
            )
            self._current = load(version, raw)
            log.info("rule set in force", extra={"version": version})

    def invalidate(self) -> None:
        self._checked_at = 0.0


def load(version: int, raw: list[dict] | None) -> RuleSet:
    rules = DEFAULT_RULES if raw is None else [Rule.from_dict(item) for item in raw]
    try:
        return compile_rule_set(list(rules), version)
    except RuleSetInvalid as exc:
        # Stored sets were valid when saved; a release that drops a feature must not stop scoring.
        log.error("stored rule set %s has invalid rules, skipping them: %s", version, exc)
        compiled = []
        for rule in rules:
            try:
                if rule.enabled:
                    compiled.append(compile_rule(rule))
            except ValueError:
                continue
        return RuleSet(version=version, rules=tuple(rules), compiled=tuple(compiled))
