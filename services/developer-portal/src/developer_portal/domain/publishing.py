"""The publishing workflow's rules in plain Python: the preflight a submission must pass, the
snapshot of what was submitted and what changed since the rejected submission, moderation
decisions, and when a scheduled release may be set."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any

from gamekeys_platform.refusals import InvalidValue, Refusal

BUILD_READY = "ready"
MAX_NOTES_LENGTH = 4000
MAX_FINDINGS = 50
MAX_FINDING_FIELD_LENGTH = 100
MAX_FINDING_MESSAGE_LENGTH = 1000


class SubmissionStatus(StrEnum):
    PENDING_REVIEW = "pending_review"
    APPROVED = "approved"
    REJECTED = "rejected"


SUBMISSION_STATUSES: tuple[str, ...] = tuple(status.value for status in SubmissionStatus)


class Decision(StrEnum):
    APPROVE = "approve"
    REJECT = "reject"


DECISIONS: tuple[str, ...] = tuple(decision.value for decision in Decision)
_OUTCOME = {Decision.APPROVE: SubmissionStatus.APPROVED, Decision.REJECT: SubmissionStatus.REJECTED}


# --- preflight ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Build:
    version_id: str
    version: str
    platform: str
    status: str
    failure: dict[str, Any] | None = None


@dataclass(frozen=True)
class GameFacts:
    """Everything the preflight looks at, read by the use case."""

    verification_status: str
    title: str | None
    description: str | None
    short_description: str | None
    genres: list[str]
    screenshots: list[str]
    base_price: dict[str, str] | None  # {"amount", "currency"}; "0" means free
    builds: list[Build] = field(default_factory=list)


@dataclass(frozen=True)
class Check:
    check: str
    ok: bool
    message: str

    def to_json(self) -> dict[str, Any]:
        return {"check": self.check, "ok": self.ok, "message": self.message}


def _blank(text: str | None) -> bool:
    return not (text or "").strip()


def preflight(
    facts: GameFacts, *, version_id: str | None = None, requires_media: bool = False
) -> list[Check]:
    """Every check a submission must pass, in the order a studio would fix them, each with a
    message saying what is wrong and where to fix it."""
    checks = [
        Check("studio_verified", True, "the studio is verified")
        if facts.verification_status == "verified"
        else Check(
            "studio_verified",
            False,
            f"the studio's verification is {facts.verification_status}: the platform must verify "
            "it first (complete the legal details with PUT /accounts/me)",
        ),
        Check("title", True, "the game has a title")
        if not _blank(facts.title)
        else Check("title", False, "give the game a title (PUT /games/{gameId})"),
        Check("short_description", True, "the short description is set")
        if not _blank(facts.short_description)
        else Check(
            "short_description", False, "add a short description (shortDescription in PUT .../metadata)"
        ),
        Check("description", True, "the description is set")
        if not _blank(facts.description)
        else Check("description", False, "add a description (description in PUT .../metadata)"),
        Check("genres", True, "at least one genre is chosen")
        if facts.genres
        else Check("genres", False, "choose at least one genre (genres in PUT .../metadata)"),
        _price_check(facts.base_price),
        _builds_check(facts.builds),
    ]
    if version_id is not None:
        checks.append(_version_check(facts.builds, version_id))
    if requires_media:
        checks.append(
            Check("media", True, "at least one screenshot is set")
            if facts.screenshots
            else Check(
                "media", False, "add at least one screenshot (mediaUrls.screenshots in PUT .../metadata)"
            )
        )
    return checks


def _price_check(base_price: dict[str, str] | None) -> Check:
    if base_price is None:
        return Check(
            "price",
            False,
            "set a base price, or a base price of 0 to mark the game free (PUT /games/{gameId}/pricing)",
        )
    if str(base_price["amount"]).strip("0").strip(".") == "":
        return Check("price", True, "the game is free")
    return Check("price", True, f"the base price is {base_price['amount']} {base_price['currency']}")


def _builds_check(builds: list[Build]) -> Check:
    ready = [build for build in builds if build.status == BUILD_READY]
    if ready:
        return Check("ready_build", True, f"{len(ready)} build(s) ready")
    if not builds:
        return Check("ready_build", False, "upload a build (POST /games/{gameId}/versions)")
    return Check(
        "ready_build",
        False,
        "no build is ready yet: wait for processing to finish, or upload a new build if one failed",
    )


def _version_check(builds: list[Build], version_id: str) -> Check:
    build = next((b for b in builds if b.version_id == version_id), None)
    if build is None:
        return Check(
            "version_ready", False, "this game has no build with that versionId; submit one of its builds"
        )
    label = f"build {build.version} ({build.platform})"
    if build.status == BUILD_READY:
        return Check("version_ready", True, f"{label} is ready")
    if build.failure:
        reason = build.failure.get("reason", "unknown")
        return Check(
            "version_ready", False, f"{label} failed ({reason}): upload a new build and submit that one"
        )
    if build.status == "rejected":
        return Check("version_ready", False, f"{label} was rejected: upload a new build and submit that one")
    return Check("version_ready", False, f"{label} is {build.status}: wait until it is ready, then submit it")


def passed(checks: list[Check]) -> bool:
    return all(check.ok for check in checks)


def refuse_failed(checks: list[Check]) -> None:
    """422 VALIDATION_ERROR with the failing checks in ``details.checks``."""
    failing = [check.to_json() for check in checks if not check.ok]
    if failing:
        raise Refusal(
            "VALIDATION_ERROR",
            "the game is not ready for review: " + "; ".join(check["message"] for check in failing),
            {"reason": "PREFLIGHT_FAILED", "checks": failing},
        )


# --- snapshots and what changed -------------------------------------------------------------


def diff(before: dict[str, Any], after: dict[str, Any], prefix: str = "") -> list[dict[str, Any]]:
    """What changed between two snapshots, one entry per leaf field (dotted path), in order."""
    changes: list[dict[str, Any]] = []
    for key in sorted(set(before) | set(after)):
        path = f"{prefix}{key}"
        old, new = before.get(key), after.get(key)
        if isinstance(old, dict) and isinstance(new, dict) and path in _NESTED:
            changes.extend(diff(old, new, f"{path}."))
        elif old != new:
            changes.append({"field": path, "before": old, "after": new})
    return changes


# Snapshot parts compared field by field; anything deeper (system requirements, media, regional
# prices, the discount list) is compared as one value.
_NESTED = frozenset({"metadata", "pricing", "build"})


# --- moderation -----------------------------------------------------------------------------


def decide(current: str, decision: str) -> tuple[SubmissionStatus, bool]:
    """The submission's status after ``decision`` and whether anything changes: the decision
    already taken again changes nothing; the opposite one is CONFLICT SUBMISSION_ALREADY_DECIDED."""
    outcome = _OUTCOME[Decision(decision)]
    status = SubmissionStatus(current)
    if status is SubmissionStatus.PENDING_REVIEW:
        return outcome, True
    if status is outcome:
        return outcome, False
    raise Refusal(
        "CONFLICT",
        f"the submission was {status.value} already",
        {"reason": "SUBMISSION_ALREADY_DECIDED", "status": status.value},
    )


# --- publishing -----------------------------------------------------------------------------


def check_release_at(release_at: datetime, now: datetime) -> datetime:
    if release_at.tzinfo is None:
        raise InvalidValue("must carry a time zone (e.g. 2030-01-01T10:00:00Z)")
    if release_at <= now:
        raise InvalidValue("must be in the future")
    return release_at
