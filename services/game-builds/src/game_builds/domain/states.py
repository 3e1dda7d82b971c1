"""The build state machine (ARCHITECTURE.md §5).

    uploading ─→ uploaded ─→ processing ─→ ready
        │                        │
        └────────→ failed ←──────┘   (upload_expired; size/checksum mismatch, malware, scan_incomplete)

``rejected`` (moderation) belongs to the submission step, not built yet. ``ready`` and ``failed``
are final here.
"""

from __future__ import annotations

from collections.abc import Iterable
from enum import StrEnum


class BuildStatus(StrEnum):
    UPLOADING = "uploading"
    UPLOADED = "uploaded"
    PROCESSING = "processing"
    READY = "ready"
    FAILED = "failed"


class Platform(StrEnum):
    WINDOWS = "windows"
    MACOS = "macos"
    LINUX = "linux"


class FailureReason(StrEnum):
    SIZE_MISMATCH = "size_mismatch"
    CHECKSUM_MISMATCH = "checksum_mismatch"
    MALWARE = "malware"
    SCAN_INCOMPLETE = "scan_incomplete"
    UPLOAD_EXPIRED = "upload_expired"


S = BuildStatus
TRANSITIONS: dict[BuildStatus, frozenset[BuildStatus]] = {
    S.UPLOADING: frozenset({S.UPLOADED, S.FAILED}),
    S.UPLOADED: frozenset({S.PROCESSING}),
    S.PROCESSING: frozenset({S.READY, S.FAILED}),
    S.READY: frozenset(),
    S.FAILED: frozenset(),
}

# A ready build stays until the submission step can tell developer-portal it is gone.
DELETABLE = frozenset({S.UPLOADING, S.UPLOADED, S.PROCESSING, S.FAILED})


class TransitionRefused(Exception):
    def __init__(self, current: BuildStatus, target: BuildStatus) -> None:
        super().__init__(f"a {current.value} build cannot become {target.value}")
        self.current = current
        self.target = target


def check_transition(current: BuildStatus | str, target: BuildStatus | str) -> None:
    current, target = BuildStatus(current), BuildStatus(target)
    if target not in TRANSITIONS[current]:
        raise TransitionRefused(current, target)


def sources_of(target: BuildStatus) -> frozenset[BuildStatus]:
    return frozenset(state for state, targets in TRANSITIONS.items() if target in targets)


def sql_values(states: Iterable[BuildStatus]) -> list[str]:
    wanted = frozenset(states)
    return [state.value for state in BuildStatus if state in wanted]
