"""Scanning a zip build member by member, for builds over what clamd takes in one stream (its
StreamMaxLength; and ClamAV never scans a file over 2 GB). The archive is read from S3 with
range requests through a small read-ahead buffer, so neither the build nor a member is ever
whole on disk or in memory: each member is decompressed as it is read and fed to its own clamd
INSTREAM session.

Anything that cannot be scanned fully (not a zip, a member over the limit, an encrypted or
damaged member, clamd's own limits inside a member) makes the result ``incomplete``."""

from __future__ import annotations

import io
import zipfile

from game_builds.domain.uploads import ScanResult

READ_AHEAD = 8 * 1024 * 1024
MEMBER_CHUNK = 1024 * 1024


class RangeReader(io.RawIOBase):
    """A seekable, read-only view of an S3 object through range GETs (what zipfile needs to find
    the central directory at the end and then read each member)."""

    def __init__(self, store, key: str, size: int) -> None:
        self.store = store
        self.key = key
        self.size = size
        self.position = 0
        self.buffer = b""
        self.buffer_start = 0

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def tell(self) -> int:
        return self.position

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        base = {io.SEEK_SET: 0, io.SEEK_CUR: self.position, io.SEEK_END: self.size}[whence]
        self.position = max(0, base + offset)
        return self.position

    def read(self, size: int = -1) -> bytes:
        if size is None or size < 0:
            size = self.size - self.position
        size = min(size, self.size - self.position)
        if size <= 0:
            return b""
        start = self.position - self.buffer_start
        if not (start >= 0 and start + size <= len(self.buffer)):
            # Never more than the request or the read-ahead, whichever is larger: memory stays flat.
            length = min(max(size, READ_AHEAD), self.size - self.position)
            self.buffer = self.store.read_range(self.key, self.position, length)
            self.buffer_start = self.position
            start = 0
        data = self.buffer[start : start + size]
        self.position += len(data)
        return data

    def readinto(self, target) -> int:
        data = self.read(len(target))
        target[: len(data)] = data
        return len(data)


def scan_members(store, scanner, key: str, size: int, *, member_limit: int) -> ScanResult:
    """Every member of the zip at ``key`` through clamd, one INSTREAM session each."""
    reader = RangeReader(store, key, size)
    try:
        archive = zipfile.ZipFile(reader)
    except (zipfile.BadZipFile, OSError, ValueError):
        return ScanResult("incomplete", detail="over the scanner's limits and not a zip archive")
    scanned = 0
    with archive:
        for member in archive.infolist():
            if member.is_dir():
                continue
            if member.file_size > member_limit:
                too_large = (
                    f"member {member.filename!r} is over the scanner's limit ({member.file_size} bytes)"
                )
                return ScanResult("incomplete", detail=too_large)
            if member.flag_bits & 0x1:
                return ScanResult("incomplete", detail=f"member {member.filename!r} is encrypted")
            session = scanner.open()
            try:
                with archive.open(member) as data:
                    while chunk := data.read(MEMBER_CHUNK):
                        session.feed(chunk)
                result = session.finish()
            except (zipfile.BadZipFile, OSError, ValueError, NotImplementedError, EOFError) as exc:
                session.close()
                return ScanResult(
                    "incomplete",
                    detail=f"member {member.filename!r} could not be read: {exc.__class__.__name__}",
                )
            if result.outcome == "infected":
                return ScanResult("infected", signature=result.signature, detail=f"in {member.filename}")
            if result.outcome != "clean":
                return ScanResult("incomplete", detail=f"member {member.filename!r}: {result.detail}")
            scanned += 1
    return ScanResult("clean", detail=f"{scanned} members scanned one by one")
