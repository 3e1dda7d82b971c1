"""The S3 adapter (boto3): presigned multipart part URLs, ListParts, completion, abort,
presigned GETs, and the object streamed once for the worker. Every unreachable-S3 failure is
``StorageUnavailable``; S3 refusing a completion's parts is ``PartsRejected``."""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from game_builds.settings import Settings

CHUNK = 1024 * 1024


class StorageUnavailable(Exception):
    """S3 did not answer, or answered with a server error."""


class PartsRejected(Exception):
    """S3 refused to complete the upload with these parts (wrong ETag, missing or too small part)."""


class UploadGone(Exception):
    """The multipart upload no longer exists (completed or aborted)."""


def _code(exc: ClientError) -> str:
    return exc.response.get("Error", {}).get("Code", "")


class S3Store:
    def __init__(self, settings: Settings) -> None:
        self.bucket = settings.builds_bucket
        self.client = boto3.client(
            "s3",
            endpoint_url=settings.s3_endpoint_url,
            aws_access_key_id=settings.s3_access_key_id,
            aws_secret_access_key=settings.s3_secret_access_key.get_secret_value(),
            region_name=settings.s3_region,
            config=Config(
                signature_version="s3v4",
                s3={"addressing_style": "path"},
                connect_timeout=settings.s3_timeout_seconds,
                read_timeout=settings.s3_timeout_seconds,
                retries={"max_attempts": 2, "mode": "standard"},
            ),
        )
        self._bucket_ready = False
        self._lock = threading.Lock()

    def _call(self, operation: str, **params):
        self._ensure_bucket()
        try:
            return getattr(self.client, operation)(Bucket=self.bucket, **params)
        except ClientError as exc:
            code = _code(exc)
            if code in (
                "InvalidPart",
                "InvalidPartOrder",
                "EntityTooSmall",
                "MalformedXML",
                "InvalidRequest",
                "BadDigest",
                "InvalidDigest",
            ):
                raise PartsRejected(code) from None
            if code in ("NoSuchUpload", "NoSuchKey", "404"):
                raise UploadGone(code) from None
            raise StorageUnavailable(f"S3 {operation}: {code or 'error'}") from None
        except BotoCoreError as exc:
            raise StorageUnavailable(f"S3 {operation}: {type(exc).__name__}") from None

    def _ensure_bucket(self) -> None:
        """The bucket is created on first use (not at start-up, so the API starts with S3 down)."""
        if self._bucket_ready:
            return
        with self._lock:
            if self._bucket_ready:
                return
            try:
                self.client.head_bucket(Bucket=self.bucket)
            except ClientError:
                try:
                    self.client.create_bucket(Bucket=self.bucket)
                except ClientError as exc:
                    if _code(exc) not in ("BucketAlreadyOwnedByYou", "BucketAlreadyExists"):
                        raise StorageUnavailable(f"S3 create bucket: {_code(exc)}") from None
                except BotoCoreError as exc:
                    raise StorageUnavailable(f"S3 create bucket: {type(exc).__name__}") from None
            except BotoCoreError as exc:
                raise StorageUnavailable(f"S3 head bucket: {type(exc).__name__}") from None
            self._bucket_ready = True

    def start_upload(self, key: str) -> str:
        # SHA-256 per part: S3 checks each part against the hash signed into its URL (BadDigest)
        # and the completion against the hashes the client lists.
        return self._call("create_multipart_upload", Key=key, ChecksumAlgorithm="SHA256")["UploadId"]

    def part_url(
        self, key: str, upload_id: str, part_number: int, seconds: int, sha256_b64: str | None = None
    ) -> tuple[str, dict[str, str]]:
        """The part's presigned PUT and the headers the client must send with it (the part's
        SHA-256, when given, is signed in: S3 refuses other bytes)."""
        params = {"Bucket": self.bucket, "Key": key, "UploadId": upload_id, "PartNumber": part_number}
        headers = {}
        if sha256_b64:
            params["ChecksumSHA256"] = sha256_b64
            headers["x-amz-checksum-sha256"] = sha256_b64
        return self.client.generate_presigned_url("upload_part", Params=params, ExpiresIn=seconds), headers

    def received_parts(self, key: str, upload_id: str) -> dict[int, dict]:
        """Part number → ``{"size", "etag"}`` of every part S3 has for the upload."""
        parts: dict[int, dict] = {}
        marker = 0
        while True:
            answer = self._call("list_parts", Key=key, UploadId=upload_id, PartNumberMarker=marker)
            for part in answer.get("Parts", []):
                parts[part["PartNumber"]] = {"size": part["Size"], "etag": part["ETag"]}
            if not answer.get("IsTruncated"):
                return parts
            marker = answer["NextPartNumberMarker"]

    def complete(self, key: str, upload_id: str, parts: list[tuple[int, str, str]]) -> None:
        """``parts``: (number, ETag, base64 SHA-256) each."""
        self._call(
            "complete_multipart_upload",
            Key=key,
            UploadId=upload_id,
            MultipartUpload={
                "Parts": [
                    {"PartNumber": number, "ETag": etag, "ChecksumSHA256": sha256}
                    for number, etag, sha256 in parts
                ]
            },
        )

    def abort(self, key: str, upload_id: str) -> None:
        with contextlib.suppress(UploadGone):
            self._call("abort_multipart_upload", Key=key, UploadId=upload_id)

    def exists(self, key: str) -> bool:
        try:
            self._call("head_object", Key=key)
        except UploadGone:
            return False
        return True

    def delete(self, key: str) -> None:
        self._call("delete_object", Key=key)

    def download_url(self, key: str, file_name: str | None, seconds: int) -> tuple[str, datetime]:
        """A presigned GET: a download named ``file_name``, or inline (media) without one."""
        params = {"Bucket": self.bucket, "Key": key}
        if file_name:
            params["ResponseContentDisposition"] = f'attachment; filename="{file_name}"'
        url = self.client.generate_presigned_url("get_object", Params=params, ExpiresIn=seconds)
        return url, datetime.now(UTC) + timedelta(seconds=seconds)

    def put_url(self, key: str, content_type: str, size: int, seconds: int) -> tuple[str, datetime]:
        """A presigned single PUT with the content type and length signed in: S3 refuses any other
        (403), so what lands is what was declared."""
        self._ensure_bucket()
        url = self.client.generate_presigned_url(
            "put_object",
            Params={"Bucket": self.bucket, "Key": key, "ContentType": content_type, "ContentLength": size},
            ExpiresIn=seconds,
        )
        return url, datetime.now(UTC) + timedelta(seconds=seconds)

    def size_of(self, key: str) -> int | None:
        """The stored object's size; None when there is none."""
        try:
            return self._call("head_object", Key=key)["ContentLength"]
        except UploadGone:
            return None

    def read(self, key: str, *, first: int | None = None) -> bytes:
        """The object's bytes (its ``first`` bytes only, when given); for small objects."""
        params = {"Range": f"bytes=0-{first - 1}"} if first else {}
        body = self._call("get_object", Key=key, **params)["Body"]
        try:
            return body.read()
        except BotoCoreError as exc:
            raise StorageUnavailable(f"S3 read: {type(exc).__name__}") from None
        finally:
            body.close()

    def read_range(self, key: str, start: int, length: int) -> bytes:
        """``length`` bytes from ``start`` (a zip's members are read this way)."""
        body = self._call("get_object", Key=key, Range=f"bytes={start}-{start + length - 1}")["Body"]
        try:
            return body.read()
        except BotoCoreError as exc:
            raise StorageUnavailable(f"S3 read: {type(exc).__name__}") from None
        finally:
            body.close()

    def stream(self, key: str) -> Iterator[bytes]:
        body = self._call("get_object", Key=key)["Body"]
        try:
            while True:
                try:
                    chunk = body.read(CHUNK)
                except BotoCoreError as exc:
                    raise StorageUnavailable(f"S3 read: {type(exc).__name__}") from None
                if not chunk:
                    return
                yield chunk
        finally:
            body.close()
