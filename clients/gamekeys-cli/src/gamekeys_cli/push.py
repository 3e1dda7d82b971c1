"""``gamekeys push``: hash the file, create the version (or find the one an interrupted push
left), upload the parts S3 does not have yet in parallel, each with its SHA-256 signed into its
URL, retrying a failed part, complete, then follow processing until ready or failed."""

from __future__ import annotations

import hashlib
import sys
import threading
import time
import uuid
from concurrent.futures import FIRST_EXCEPTION, ThreadPoolExecutor, wait
from dataclasses import dataclass
from pathlib import Path

import requests

from gamekeys_cli.api import Api, ApiError
from gamekeys_cli.progress import Bar, human
from gamekeys_cli.state import PushState

READ_BYTES = 1024 * 1024


class PushFailed(Exception):
    """The push cannot go on; the message says why (and whether running it again resumes)."""


class StillProcessing(PushFailed):
    """``--timeout`` passed before the build was ready or failed."""


@dataclass(frozen=True)
class PushOptions:
    file: Path
    game_id: str
    version: str
    platform: str
    changelog: str
    parallel: int = 4
    retries: int = 5
    limit_rate: int | None = None  # bytes per second over all parts
    wait: bool = True
    poll_seconds: float = 2.0
    timeout_seconds: float | None = None


class Throttle:
    """At most ``rate`` bytes per second over every thread (``--limit-rate``)."""

    def __init__(self, rate: int | None) -> None:
        self.rate = rate
        self.lock = threading.Lock()
        self.next_free = time.monotonic()

    def consume(self, count: int) -> None:
        if not self.rate:
            return
        with self.lock:
            now = time.monotonic()
            start = max(now, self.next_free)
            self.next_free = start + count / self.rate
        delay = start - now
        if delay > 0:
            time.sleep(delay)


class PartReader:
    """One part of the file as a request body, read as it is sent (never held whole)."""

    def __init__(self, path: Path, offset: int, length: int, bar: Bar, throttle: Throttle) -> None:
        self.handle = open(path, "rb")  # noqa: SIM115 (closed by close(), after the request)
        self.handle.seek(offset)
        self.remaining = length
        self.length = length
        self.sent = 0
        self.bar = bar
        self.throttle = throttle

    def __len__(self) -> int:
        return self.length

    def read(self, size: int = -1) -> bytes:
        if self.remaining <= 0:
            return b""
        size = self.remaining if size is None or size < 0 else min(size, self.remaining)
        self.throttle.consume(size)
        data = self.handle.read(size)
        self.remaining -= len(data)
        self.sent += len(data)
        self.bar.advance(len(data))
        return data

    def close(self) -> None:
        self.handle.close()


def file_sha256(path: Path, offset: int = 0, length: int | None = None, bar: Bar | None = None) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        handle.seek(offset)
        remaining = length if length is not None else float("inf")
        while remaining > 0:
            chunk = handle.read(int(min(READ_BYTES * 8, remaining)))
            if not chunk:
                break
            digest.update(chunk)
            remaining -= len(chunk)
            if bar:
                bar.advance(len(chunk))
    return digest.hexdigest()


def say(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


class Pusher:
    def __init__(self, api: Api, options: PushOptions, state: PushState) -> None:
        self.api = api
        self.options = options
        self.state = state
        self.throttle = Throttle(options.limit_rate)
        self.base = api.versions(options.game_id)
        self.uploaded_parts: list[int] = []

    # -- the steps ------------------------------------------------------------------------------

    def run(self) -> dict:
        """The version as it ended (ready or failed), or as it is when not waiting."""
        path = self.options.file
        stat = path.stat()
        if stat.st_size == 0:
            raise PushFailed(f"{path} is empty")
        if self.state.file_matches(stat.st_size, stat.st_mtime_ns):
            sha256 = self.state.data["file"]["sha256"]
        else:
            bar = Bar("hashing", stat.st_size)
            sha256 = file_sha256(path, bar=bar)
            bar.close()
            self.state.data.clear()
            self.state.update(file={"size": stat.st_size, "mtimeNs": stat.st_mtime_ns, "sha256": sha256})
        version = self.find_or_create(stat.st_size, sha256)
        if version["status"] == "uploading":
            self.upload(version)
            version = self.complete(version)
        self.state.remove()
        if not self.options.wait:
            return version
        return self.follow(version)

    def find_or_create(self, size: int, sha256: str) -> dict:
        version_id = self.state.data.get("versionId")
        if version_id:
            try:
                version = self.api.call("GET", f"{self.base}/{version_id}")
                say(f"resuming version {version['version']} ({version_id}), {version['status']}")
                return version
            except ApiError as exc:
                if exc.status != 404:
                    raise
        idempotency_key = self.state.data.get("idempotencyKey") or str(uuid.uuid4())
        self.state.update(idempotencyKey=idempotency_key)
        body = {
            "version": self.options.version,
            "platform": self.options.platform,
            "changelog": self.options.changelog,
            "file": {"name": self.options.file.name, "size": size, "sha256": sha256},
        }
        try:
            version = self.api.call(
                "POST", self.base, json=body, headers={"Idempotency-Key": idempotency_key}
            )
        except ApiError as exc:
            if exc.code != "CONFLICT":
                raise
            version = self.existing(size, sha256)
        self.state.update(versionId=version["versionId"])
        parts = f"{version['partCount']} parts of {human(version['partSize'])}"
        say(f"version {version['version']} ({version['versionId']}): {parts}")
        return version

    def existing(self, size: int, sha256: str) -> dict:
        """The version an earlier push of the same file created (its state file lost)."""
        params = {"platform": self.options.platform, "limit": 100}
        while True:
            page = self.api.call("GET", self.base, params=params)
            for item in page["items"]:
                if item["version"] == self.options.version:
                    if item["file"]["sha256"] == sha256 and item["file"]["size"] == size:
                        say(f"version {item['version']} exists for this file: {item['status']}")
                        return item
                    raise PushFailed(
                        f"version {self.options.version} ({self.options.platform}) already exists"
                        " with another file; push a new version string"
                    )
            if not page.get("nextCursor"):
                raise PushFailed(f"version {self.options.version} exists but could not be found")
            params["cursor"] = page["nextCursor"]

    def upload(self, version: dict) -> None:
        part_size, part_count = version["partSize"], version["partCount"]
        size = version["file"]["size"]
        version_id = version["versionId"]
        received = self.api.call("POST", f"{self.base}/{version_id}/upload/parts", json={"partNumbers": [1]})[
            "receivedParts"
        ]
        done: dict[int, dict] = {}
        for part in received:
            number = part["partNumber"]
            if part["size"] != _length(number, part_size, size):
                continue  # not the part this file needs: upload it again
            known = self.state.part(number)
            if known and known["etag"] == part["etag"]:
                done[number] = known
            else:  # in S3 but not in the state file (killed right after it landed)
                offset = (number - 1) * part_size
                digest = file_sha256(self.options.file, offset, part["size"])
                done[number] = {"etag": part["etag"], "sha256": digest}
                self.state.record_part(number, part["etag"], digest)
        todo = [n for n in range(1, part_count + 1) if n not in done]
        if done:
            say(f"resuming: {len(done)} of {part_count} parts already uploaded")
        bar = Bar("uploading", size, sum(_length(n, part_size, size) for n in done))
        stop = threading.Event()
        try:
            with ThreadPoolExecutor(max_workers=self.options.parallel) as pool:
                futures = [
                    pool.submit(self.upload_part, version_id, n, part_size, size, bar, stop) for n in todo
                ]
                finished, _ = wait(futures, return_when=FIRST_EXCEPTION)
                failed = [f for f in finished if f.exception() is not None]
                if failed:
                    stop.set()
                    for future in futures:
                        future.cancel()
                    raise failed[0].exception()
        finally:
            bar.close()
        rate = bar.rate()
        sent = human(bar.completed - bar.start_completed)
        say(f"uploaded {len(todo)} parts ({sent}) at {human(rate)}/s; {len(done)} were already in storage")

    def upload_part(self, version_id: str, number: int, part_size: int, size: int, bar: Bar, stop) -> None:
        offset = (number - 1) * part_size
        length = _length(number, part_size, size)
        digest = file_sha256(self.options.file, offset, length)
        last_error = ""
        for attempt in range(1, self.options.retries + 1):
            if stop.is_set():
                return
            try:
                [part] = self.api.call(
                    "POST",
                    f"{self.base}/{version_id}/upload/parts",
                    json={"parts": [{"partNumber": number, "sha256": digest}]},
                )["parts"]
            except ApiError as exc:
                if exc.status and exc.status < 500:
                    raise PushFailed(f"part {number}: {exc}") from None
                last_error = str(exc)
            else:
                reader = PartReader(self.options.file, offset, length, bar, self.throttle)
                try:
                    response = requests.put(part["url"], data=reader, headers=part["headers"], timeout=300)
                except requests.RequestException as exc:
                    last_error = exc.__class__.__name__
                    response = None
                finally:
                    reader.close()
                if response is not None and response.status_code == 200:
                    self.state.record_part(number, response.headers["ETag"], digest)
                    return
                bar.advance(-reader.sent)
                if response is not None:
                    last_error = f"S3 answered {response.status_code}"
                    if response.status_code == 400 and "BadDigest" in response.text:
                        # The bytes read differ from those hashed: the file is changing under us.
                        digest = file_sha256(self.options.file, offset, length)
                        last_error = "the part's bytes did not match its SHA-256 (is the file being written?)"
            time.sleep(min(2 ** (attempt - 1), 30))
        raise PushFailed(
            f"part {number} failed {self.options.retries} times ({last_error});"
            " run the same command again to resume"
        )

    def complete(self, version: dict) -> dict:
        parts = [
            {"partNumber": n, "etag": self.state.part(n)["etag"], "sha256": self.state.part(n)["sha256"]}
            for n in range(1, version["partCount"] + 1)
        ]
        key = f"{self.state.data['idempotencyKey']}-complete"
        return self.api.call(
            "POST",
            f"{self.base}/{version['versionId']}/upload/complete",
            json={"parts": parts},
            headers={"Idempotency-Key": key},
        )

    def follow(self, version: dict) -> dict:
        deadline = time.monotonic() + self.options.timeout_seconds if self.options.timeout_seconds else None
        url = f"{self.base}/{version['versionId']}"
        size = version["file"]["size"]
        bar = None
        try:
            while version["status"] not in ("ready", "failed"):
                if deadline and time.monotonic() > deadline:
                    raise StillProcessing(
                        f"still {version['status']} after {self.options.timeout_seconds:g} s"
                    )
                if version["status"] == "processing":
                    if bar is None:
                        bar = Bar("verifying and scanning", size)
                    label = "waiting to retry: " + version["retrying"] if version.get("retrying") else None
                    bar.set(version["bytesVerified"], label)
                time.sleep(self.options.poll_seconds)
                version = self.api.call("GET", url)
        finally:
            if bar is not None:
                bar.set(size if version["status"] == "ready" else bar.completed)
                bar.close()
        return version


def _length(number: int, part_size: int, size: int) -> int:
    return min(part_size, size - (number - 1) * part_size)


def describe_failure(version: dict) -> str:
    failure = version.get("failure") or {}
    text = failure.get("reason", "unknown")
    if failure.get("signature"):
        text += f" ({failure['signature']})"
    if failure.get("detail"):
        text += f": {failure['detail']}"
    return text
