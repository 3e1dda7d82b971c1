"""The clamd adapter: INSTREAM over clamd's TCP socket, fed chunk by chunk while the worker
reads the object, so a build is never held whole in memory or on disk.

clamd answers ``stream: OK``, ``stream: <signature> FOUND``, or an error; over its stream
limit (StreamMaxLength) it says ``INSTREAM size limit exceeded`` and closes the socket, and
with ``AlertExceedsMax`` on, a file over its scan limits is reported as a ``Heuristics.Limits
Exceeded…`` finding: both are ``incomplete``, never a pass. An unreachable or failing clamd is
``ScannerUnavailable`` (the worker retries later)."""

from __future__ import annotations

import socket
import struct

from game_builds.domain.uploads import ScanResult
from game_builds.settings import Settings


class ScannerUnavailable(Exception):
    """clamd could not be reached or broke off for a reason other than its limits."""


class ClamdSession:
    def __init__(self, sock: socket.socket, chunk_bytes: int) -> None:
        self.sock = sock
        self.chunk_bytes = chunk_bytes
        self.cut_off = False

    def feed(self, data: bytes) -> None:
        if self.cut_off:
            return
        view = memoryview(data)
        try:
            for start in range(0, len(view), self.chunk_bytes):
                piece = view[start : start + self.chunk_bytes]
                self.sock.sendall(struct.pack("!L", len(piece)) + piece)
        except (BrokenPipeError, ConnectionResetError):
            self.cut_off = True  # clamd stopped reading (its stream limit): its answer says why
        except OSError as exc:
            raise ScannerUnavailable(f"clamd: {exc.__class__.__name__}") from None

    def finish(self) -> ScanResult:
        try:
            if not self.cut_off:
                self.sock.sendall(struct.pack("!L", 0))
            answer = self._read_answer()
        except OSError as exc:
            raise ScannerUnavailable(f"clamd: {exc.__class__.__name__}") from None
        finally:
            self.sock.close()
        return parse_answer(answer)

    def close(self) -> None:
        self.sock.close()

    def _read_answer(self) -> str:
        data = b""
        while not data.endswith(b"\0"):
            chunk = self.sock.recv(4096)
            if not chunk:
                break
            data += chunk
        return data.rstrip(b"\0").decode("utf-8", "replace").strip()


def parse_answer(answer: str) -> ScanResult:
    if answer == "stream: OK":
        return ScanResult("clean")
    if answer.startswith("stream: ") and answer.endswith(" FOUND"):
        signature = answer.removeprefix("stream: ").removesuffix(" FOUND")
        if signature.startswith("Heuristics.Limits.Exceeded"):
            return ScanResult(
                "incomplete", detail=f"over the scanner's limits ({signature})", over_limits=True
            )
        return ScanResult("infected", signature=signature)
    if "size limit exceeded" in answer:
        return ScanResult("incomplete", detail="over the scanner's stream size limit", over_limits=True)
    raise ScannerUnavailable(f"clamd answered {answer[:200]!r}")


class ClamdScanner:
    def __init__(self, settings: Settings) -> None:
        self.address = (settings.clamd_host, settings.clamd_port)
        self.timeout = settings.clamd_timeout_seconds
        self.chunk_bytes = settings.clamd_chunk_bytes

    def open(self) -> ClamdSession:
        try:
            sock = socket.create_connection(self.address, timeout=self.timeout)
            sock.sendall(b"zINSTREAM\0")
        except OSError as exc:
            raise ScannerUnavailable(f"clamd unreachable: {exc.__class__.__name__}") from None
        return ClamdSession(sock, self.chunk_bytes)

    def version(self) -> str:
        try:
            with socket.create_connection(self.address, timeout=self.timeout) as sock:
                sock.sendall(b"zVERSION\0")
                return sock.recv(4096).rstrip(b"\0").decode("utf-8", "replace").strip()[:200]
        except OSError as exc:
            raise ScannerUnavailable(f"clamd unreachable: {exc.__class__.__name__}") from None
