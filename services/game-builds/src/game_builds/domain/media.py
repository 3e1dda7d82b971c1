"""Media assets of a game (screenshots, capsules, trailers): what may be declared, and the verdict
on what was uploaded. Plain Python; the image is decoded with Pillow, the trailer's container is
recognised from its first bytes.

    uploading ─→ ready
        └─────→ rejected   (with a reason: not what was declared, or not acceptable)
"""

from __future__ import annotations

import io
import warnings
from dataclasses import dataclass
from enum import StrEnum

from PIL import Image, UnidentifiedImageError


class MediaKind(StrEnum):
    SCREENSHOT = "screenshot"
    CAPSULE = "capsule"
    TRAILER = "trailer"


class MediaStatus(StrEnum):
    UPLOADING = "uploading"
    READY = "ready"
    REJECTED = "rejected"


class RejectReason(StrEnum):
    SIZE_MISMATCH = "size_mismatch"
    NOT_AN_IMAGE = "not_an_image"
    FORMAT_MISMATCH = "format_mismatch"
    CORRUPT_IMAGE = "corrupt_image"
    DIMENSIONS_OUT_OF_BOUNDS = "dimensions_out_of_bounds"
    NOT_A_VIDEO = "not_a_video"
    UPLOAD_EXPIRED = "upload_expired"


# Content type → the format Pillow must find (images) or the container (trailers).
IMAGE_TYPES = {"image/png": "PNG", "image/jpeg": "JPEG", "image/webp": "WEBP"}
VIDEO_TYPES = {"video/mp4": "mp4", "video/webm": "webm"}


@dataclass(frozen=True)
class Bounds:
    min_width: int
    min_height: int
    max_width: int
    max_height: int

    def allows(self, width: int, height: int) -> bool:
        return self.min_width <= width <= self.max_width and self.min_height <= height <= self.max_height

    def describe(self) -> str:
        return f"{self.min_width}x{self.min_height} to {self.max_width}x{self.max_height}"


# Screenshots at least 720p (what store pages show full width), capsules at least the small
# store capsule; both at most 8K, which also bounds the memory a decode takes.
IMAGE_BOUNDS = {
    MediaKind.SCREENSHOT: Bounds(1280, 720, 7680, 4320),
    MediaKind.CAPSULE: Bounds(460, 215, 7680, 4320),
}


def content_types(kind: MediaKind) -> dict[str, str]:
    return VIDEO_TYPES if kind is MediaKind.TRAILER else IMAGE_TYPES


@dataclass(frozen=True)
class Rejection:
    reason: RejectReason
    detail: str

    def as_dict(self) -> dict[str, str]:
        return {"reason": self.reason.value, "detail": self.detail}


@dataclass(frozen=True)
class Checked:
    """An accepted asset: its pixel size for images, None for trailers."""

    width: int | None = None
    height: int | None = None


def check_image(data: bytes, *, kind: MediaKind, content_type: str) -> Checked | Rejection:
    """A real image of the declared format, with dimensions within the kind's bounds, that
    decodes completely (a truncated or damaged file is refused)."""
    bounds = IMAGE_BOUNDS[kind]
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(data)) as image:
                found, (width, height) = image.format, image.size
                if found != IMAGE_TYPES[content_type]:
                    return Rejection(
                        RejectReason.FORMAT_MISMATCH,
                        f"declared {content_type}, the file is {found or 'unknown'}",
                    )
                # Bounds before decoding: the header's size decides how much memory a decode takes.
                if not bounds.allows(width, height):
                    return Rejection(
                        RejectReason.DIMENSIONS_OUT_OF_BOUNDS,
                        f"{width}x{height}; a {kind.value} must be {bounds.describe()}",
                    )
                image.load()
    except UnidentifiedImageError:
        return Rejection(RejectReason.NOT_AN_IMAGE, "not an image Pillow recognises")
    except (
        OSError,
        SyntaxError,
        ValueError,
        Image.DecompressionBombError,
        Image.DecompressionBombWarning,
    ) as exc:
        return Rejection(RejectReason.CORRUPT_IMAGE, f"the image does not decode: {str(exc)[:200]}")
    return Checked(width, height)


def check_video_head(head: bytes, *, content_type: str) -> Checked | Rejection:
    """The container's signature in the first bytes: ISO BMFF (``ftyp`` box) for MP4, EBML for
    WebM. The trailer is not decoded here."""
    container = VIDEO_TYPES[content_type]
    if container == "mp4" and len(head) >= 12 and head[4:8] == b"ftyp":
        return Checked()
    if container == "webm" and head[:4] == b"\x1a\x45\xdf\xa3":
        return Checked()
    return Rejection(RejectReason.NOT_A_VIDEO, f"not a {container} file (declared {content_type})")


def check_size(declared: int, stored: int) -> Rejection | None:
    if stored != declared:
        return Rejection(RejectReason.SIZE_MISMATCH, f"declared {declared} bytes, stored {stored}")
    return None
