"""detectSuspiciousPatterns: what a user's assessment history shows, one pattern per rule."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any


@dataclass(frozen=True)
class PastAssessment:
    id: str
    created_at: datetime
    score: int
    action: str
    rules_hit: list[dict[str, Any]]


def suspicious_patterns(history: list[PastAssessment], descriptions: dict[str, str], examples: int = 5):
    """Patterns (active rule hits) of a user's history, most frequent first."""
    found: dict[str, dict[str, Any]] = {}
    for item in history:
        for hit in item.rules_hit:
            if hit.get("shadow"):
                continue
            pattern = found.setdefault(
                hit["id"],
                {
                    "pattern": hit["id"],
                    "description": descriptions.get(hit["id"], hit["id"]),
                    "occurrences": 0,
                    "firstSeen": item.created_at,
                    "lastSeen": item.created_at,
                    "maxScore": 0,
                    "assessmentIds": [],
                },
            )
            pattern["occurrences"] += 1
            pattern["firstSeen"] = min(pattern["firstSeen"], item.created_at)
            pattern["lastSeen"] = max(pattern["lastSeen"], item.created_at)
            pattern["maxScore"] = max(pattern["maxScore"], item.score)
            if len(pattern["assessmentIds"]) < examples:
                pattern["assessmentIds"].append(item.id)
    return sorted(found.values(), key=lambda p: (-p["occurrences"], p["pattern"]))
