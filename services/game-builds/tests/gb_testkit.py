"""Helpers of game-builds' tests: a studio seeded into the projection as developer.events would,
and a real multipart upload to the presigned URLs. (A module with a name of its own: every
service's tests share one interpreter.)"""

from __future__ import annotations

import hashlib
import uuid
from dataclasses import dataclass, field

import requests
from sqlalchemy import select

from game_builds.context import GameBuilds
from game_builds.db.tables import studio_projection
from gamekeys_platform.testing import seed_studio_game

S3_ENV = {
    "s3_endpoint_url": "http://127.0.0.1:8333",
    "s3_access_key_id": "gamekeys",
    "s3_secret_access_key": "gamekeys-local-secret",
    "s3_region": "us-east-1",
}
EICAR = rb"X5O!P%@AP[4\PZX54(P^)7CC)7}$EICAR-STANDARD-ANTIVIRUS-TEST-FILE!$H+H*"


@dataclass
class Studio:
    developer_id: uuid.UUID
    game_id: uuid.UUID
    users: dict[str, str] = field(default_factory=dict)
    tokens: dict[str, str] = field(default_factory=dict)

    def auth(self, role: str = "developer") -> dict[str, str]:
        return {"Authorization": f"Bearer {self.tokens[role]}"}

    @property
    def versions(self) -> str:
        return f"/api/v1/developer/games/{self.game_id}/versions"


def new_studio(gb: GameBuilds, make_token) -> Studio:
    developer_id, game_id, users = seed_studio_game(
        gb.db, studio_projection, members=("developer", "marketing"), verified=False
    )
    tokens = {role: make_token(sub=user, roles=("developer",)) for role, user in users.items()}
    return Studio(developer_id, game_id, users, tokens)


def version_body(data: bytes, version: str = "1.0.0", **overrides) -> dict:
    body = {
        "version": version,
        "platform": "windows",
        "changelog": "first",
        "file": {"name": "game.zip", "size": len(data), "sha256": hashlib.sha256(data).hexdigest()},
    }
    body.update(overrides)
    return body


def put_parts(urls: list[dict], data: bytes, part_size: int) -> list[dict]:
    """PUT each listed part's bytes to its URL; the parts with their ETags and SHA-256s."""
    done = []
    for part in urls:
        number = part["partNumber"]
        chunk = data[(number - 1) * part_size : number * part_size]
        response = requests.put(part["url"], data=chunk, headers=part.get("headers"), timeout=30)
        assert response.status_code == 200, response.text
        sha256 = hashlib.sha256(chunk).hexdigest()
        done.append({"partNumber": number, "etag": response.headers["ETag"], "sha256": sha256})
    return done


def settings_env(settings) -> dict[str, str]:
    """``settings`` as the environment variables a worker process started by a test reads."""
    env = {}
    for name, value in settings:
        if value is None:
            continue
        if hasattr(value, "get_secret_value"):
            value = value.get_secret_value()
        env[name.upper()] = str(value)
    return env


def events_of(gb: GameBuilds, subject, event_type: str | None = None) -> list[dict]:
    """The payloads the outbox holds for ``subject`` (of ``event_type``), oldest first."""
    outbox = gb.db.tables.outbox
    query = select(outbox.c.event_type, outbox.c.payload).where(outbox.c.message_key == str(subject))
    if event_type:
        query = query.where(outbox.c.event_type == event_type)
    with gb.db.transaction() as session:
        return [{"type": row[0], **row[1]} for row in session.execute(query.order_by(outbox.c.seq)).all()]


def remove_bucket(client, bucket: str) -> None:
    """Empty and delete a test run's bucket: the local S3 gives every bucket volumes of its own
    and has a fixed number, so buckets left behind run it out of space for later runs. A run that
    stored nothing never made its bucket (the service creates it on first use)."""
    try:
        uploads = client.list_multipart_uploads(Bucket=bucket).get("Uploads", [])
    except client.exceptions.NoSuchBucket:
        return
    for upload in uploads:
        client.abort_multipart_upload(Bucket=bucket, Key=upload["Key"], UploadId=upload["UploadId"])
    for page in client.get_paginator("list_objects_v2").paginate(Bucket=bucket):
        for item in page.get("Contents", []):
            client.delete_object(Bucket=bucket, Key=item["Key"])
    client.delete_bucket(Bucket=bucket)
