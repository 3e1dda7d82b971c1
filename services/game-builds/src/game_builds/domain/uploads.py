"""Multipart upload plans and the verdict on a verified build: plain Python."""

from __future__ import annotations

import base64
import math
from dataclasses import dataclass

from game_builds.domain.states import FailureReason

MAX_PARTS = 10_000  # S3's limit
MAX_PART_SIZE = 5 * 1024**3  # S3's limit


@dataclass(frozen=True)
class PartPlan:
    part_size: int
    part_count: int


def plan_parts(size: int, *, max_size: int, min_part_size: int) -> PartPlan:
    """One part size for every build, so that a build of ``max_size`` fits in 10,000 parts
    (never below ``min_part_size``); ``size`` then needs ``part_count`` parts."""
    if size < 1 or size > max_size:
        raise ValueError("size out of bounds")
    part_size = min(max(min_part_size, math.ceil(max_size / MAX_PARTS)), MAX_PART_SIZE)
    return PartPlan(part_size, math.ceil(size / part_size))


def sha256_b64(hex_digest: str) -> str:
    """A hex SHA-256 (how the API takes it) as S3's checksum headers spell it (base64)."""
    return base64.b64encode(bytes.fromhex(hex_digest)).decode("ascii")


def missing_parts(part_count: int, received: set[int]) -> list[int]:
    return [number for number in range(1, part_count + 1) if number not in received]


@dataclass(frozen=True)
class ScanResult:
    """clamd's answer: ``clean``, ``infected`` (with the signature) or ``incomplete`` (limits, errors)."""

    outcome: str
    signature: str | None = None
    detail: str | None = None
    over_limits: bool = False  # incomplete because of clamd's size limits (a zip can be scanned by member)


@dataclass(frozen=True)
class Failure:
    reason: FailureReason
    signature: str | None = None
    detail: str | None = None

    def as_dict(self) -> dict[str, str]:
        body = {"reason": self.reason.value}
        if self.signature:
            body["signature"] = self.signature
        if self.detail:
            body["detail"] = self.detail
        return body


def verdict(
    *, declared_size: int, declared_sha256: str, size: int, sha256: str, scan: ScanResult | None
) -> Failure | None:
    """None: the build is ready. Size and hash first (a mismatch means the bytes are not the
    declared build at all), then the scan; a scan that did not finish is never a pass."""
    if size != declared_size:
        return Failure(FailureReason.SIZE_MISMATCH, detail=f"declared {declared_size} bytes, stored {size}")
    if sha256 != declared_sha256:
        return Failure(
            FailureReason.CHECKSUM_MISMATCH, detail="the stored bytes do not hash to the declared SHA-256"
        )
    if scan is None or scan.outcome == "incomplete":
        return Failure(FailureReason.SCAN_INCOMPLETE, detail=(scan.detail if scan else None) or "not scanned")
    if scan.outcome == "infected":
        return Failure(FailureReason.MALWARE, signature=scan.signature, detail=scan.detail)
    return None
