"""The upload flow against the real SeaweedFS and clamd: create, PUT parts to the presigned
URLs, complete, the worker's step, ready or failed; resume; every bad input a §3 error with
nothing written."""

from __future__ import annotations

import dataclasses
import hashlib
import os

import requests
from gb_testkit import EICAR, new_studio, put_parts, version_body

from game_builds.context import GameBuilds
from game_builds.storage import S3Store
from game_builds.usecases.processing import process_next
from gamekeys_platform.testing import free_port


def run_worker(gb: GameBuilds) -> None:
    while process_next(gb) is not None:
        pass


def upload(client, studio, data, **overrides):
    created = client.post(studio.versions, json=version_body(data, **overrides), headers=studio.auth())
    assert created.status_code == 201, created.get_json()
    body = created.get_json()
    upload = body["upload"]
    missing = [n for n in range(1, upload["partCount"] + 1) if n > len(upload["parts"])]
    urls = upload["parts"]
    if missing:
        more = client.post(
            f"{studio.versions}/{body['versionId']}/upload/parts",
            json={"partNumbers": missing},
            headers=studio.auth(),
        )
        assert more.status_code == 200, more.get_json()
        urls = urls + more.get_json()["parts"]
    return body, put_parts(urls, data, upload["partSize"])


def complete(client, studio, version_id, parts):
    return client.post(
        f"{studio.versions}/{version_id}/upload/complete", json={"parts": parts}, headers=studio.auth()
    )


def test_a_build_uploads_verifies_and_becomes_ready(client, gb, studio):
    data = os.urandom(10 * 1024 * 1024 + 12345)
    body, parts = upload(client, studio, data)
    assert body["status"] == "uploading" and body["upload"]["partCount"] == 3
    assert len(body["upload"]["parts"]) == 2
    done = complete(client, studio, body["versionId"], parts)
    assert done.status_code == 202 and done.get_json()["status"] == "uploaded", done.get_json()
    again = complete(client, studio, body["versionId"], parts)
    assert again.status_code == 202 and again.get_json()["status"] == "uploaded"
    run_worker(gb)
    version = client.get(
        f"{studio.versions}/{body['versionId']}", headers=studio.auth("marketing")
    ).get_json()
    assert version["status"] == "ready" and version["failure"] is None
    assert version["bytesVerified"] == len(data)
    link = client.get(f"{studio.versions}/{body['versionId']}/download", headers=studio.auth())
    assert link.status_code == 200
    assert requests.get(link.get_json()["url"], timeout=30).content == data
    listed = client.get(f"{studio.versions}?status=ready", headers=studio.auth()).get_json()
    assert [item["versionId"] for item in listed["items"]] == [body["versionId"]]
    assert client.delete(f"{studio.versions}/{body['versionId']}", headers=studio.auth()).status_code == 409


def test_a_wrong_sha256_fails_with_checksum_mismatch(client, gb, studio):
    data = os.urandom(1024 * 1024 + 7)
    body = version_body(data)
    body["file"]["sha256"] = "0" * 64
    created = client.post(studio.versions, json=body, headers=studio.auth()).get_json()
    parts = put_parts(created["upload"]["parts"], data, created["upload"]["partSize"])
    assert complete(client, studio, created["versionId"], parts).status_code == 202
    run_worker(gb)
    version = client.get(f"{studio.versions}/{created['versionId']}", headers=studio.auth()).get_json()
    assert version["status"] == "failed" and version["failure"]["reason"] == "checksum_mismatch"


def test_eicar_fails_as_malware_and_its_object_is_deleted(client, gb, studio):
    body, parts = upload(client, studio, EICAR, version="6.6.6")
    assert complete(client, studio, body["versionId"], parts).status_code == 202
    run_worker(gb)
    version = client.get(f"{studio.versions}/{body['versionId']}", headers=studio.auth()).get_json()
    assert version["status"] == "failed"
    assert version["failure"]["reason"] == "malware" and "EICAR" in version["failure"]["signature"].upper()
    assert not gb.store.exists(f"builds/{studio.game_id}/{body['versionId']}")


def test_resume_lists_the_parts_s3_has(client, studio):
    data = os.urandom(11 * 1024 * 1024)
    created = client.post(studio.versions, json=version_body(data), headers=studio.auth()).get_json()
    put_parts(created["upload"]["parts"][:1], data, created["upload"]["partSize"])
    url = f"{studio.versions}/{created['versionId']}/upload/parts"
    resumed = client.post(url, json={"partNumbers": [2, 3]}, headers=studio.auth()).get_json()
    assert resumed["received"] == [1] and [p["partNumber"] for p in resumed["parts"]] == [2, 3]
    progress = client.get(f"{studio.versions}/{created['versionId']}", headers=studio.auth()).get_json()
    assert progress["partsReceived"] == [1]
    assert client.post(url, json={"partNumbers": [9]}, headers=studio.auth()).status_code == 422
    deleted = client.delete(f"{studio.versions}/{created['versionId']}", headers=studio.auth())
    assert deleted.status_code == 204
    assert client.get(f"{studio.versions}/{created['versionId']}", headers=studio.auth()).status_code == 404


def test_completing_with_a_wrong_or_missing_etag_is_refused(client, studio):
    data = os.urandom(6 * 1024 * 1024)
    body, parts = upload(client, studio, data)
    url = f"{studio.versions}/{body['versionId']}/upload/complete"
    wrong = [{**parts[0], "etag": '"0123456789abcdef0123456789abcdef"'}, *parts[1:]]
    answer = client.post(url, json={"parts": wrong}, headers=studio.auth())
    assert answer.status_code == 422 and answer.get_json()["error"]["code"] == "VALIDATION_ERROR"
    missing = client.post(url, json={"parts": parts[:1]}, headers=studio.auth())
    assert missing.status_code == 422
    no_etag = client.post(url, json={"parts": [{"partNumber": 1}]}, headers=studio.auth())
    assert no_etag.status_code == 422
    status = client.get(f"{studio.versions}/{body['versionId']}", headers=studio.auth()).get_json()["status"]
    assert status == "uploading"


def test_part_urls_signed_with_their_sha256_refuse_other_bytes(client, gb, studio):
    data = os.urandom(6 * 1024 * 1024)
    part_size = 5 * 1024 * 1024
    chunks = [data[:part_size], data[part_size:]]
    created = client.post(studio.versions, json=version_body(data), headers=studio.auth()).get_json()
    url = f"{studio.versions}/{created['versionId']}/upload/parts"
    hashes = [{"partNumber": n, "sha256": hashlib.sha256(c).hexdigest()} for n, c in enumerate(chunks, 1)]
    signed = client.post(url, json={"parts": hashes}, headers=studio.auth()).get_json()["parts"]
    assert all(part["headers"]["x-amz-checksum-sha256"] for part in signed)
    corrupted = bytes([chunks[0][0] ^ 1]) + chunks[0][1:]
    refused = requests.put(signed[0]["url"], data=corrupted, headers=signed[0]["headers"], timeout=30)
    assert refused.status_code == 400 and "BadDigest" in refused.text
    parts = put_parts(signed, data, part_size)
    both = client.post(url, json={"parts": hashes, "partNumbers": [1]}, headers=studio.auth())
    assert both.status_code == 422
    resumed = client.post(url, json={"partNumbers": [1]}, headers=studio.auth()).get_json()
    assert [p["etag"] for p in resumed["receivedParts"]] == [p["etag"] for p in parts]
    wrong = [{**parts[0], "sha256": hashlib.sha256(b"other").hexdigest()}, parts[1]]
    answer = complete(client, studio, created["versionId"], wrong)
    assert answer.status_code == 422 and answer.get_json()["error"]["details"]["reason"] == "parts_rejected"
    assert complete(client, studio, created["versionId"], parts).status_code == 202
    run_worker(gb)
    version = client.get(f"{studio.versions}/{created['versionId']}", headers=studio.auth()).get_json()
    assert version["status"] == "ready"


def _count(client, studio) -> int:
    return len(client.get(studio.versions, headers=studio.auth()).get_json()["items"])


def test_bad_input_is_refused_and_writes_nothing(client, studio):
    data = b"x" * 100
    cases = [
        (version_body(data, file={"name": "a.zip", "size": 0, "sha256": "a" * 64}), 422),
        (version_body(data, file={"name": "a.zip", "size": 65 * 1024 * 1024, "sha256": "a" * 64}), 413),
        (version_body(data, file={"name": "a.zip", "size": 10, "sha256": "xyz"}), 422),
        (version_body(data, platform="amiga"), 422),
        ({**version_body(data), "extra": 1}, 422),
        ({"platform": "linux"}, 422),
    ]
    for body, status in cases:
        answer = client.post(studio.versions, json=body, headers=studio.auth())
        assert answer.status_code == status, (body, answer.get_json())
        assert "error" in answer.get_json()
    assert _count(client, studio) == 0
    assert client.post(studio.versions, json=version_body(data), headers=studio.auth()).status_code == 201
    reused = client.post(studio.versions, json=version_body(data), headers=studio.auth())
    assert reused.status_code == 409 and reused.get_json()["error"]["code"] == "CONFLICT"
    assert _count(client, studio) == 1


def test_roles_and_strangers(client, gb, studio, make_token):
    data = b"y" * 10
    assert (
        client.post(studio.versions, json=version_body(data), headers=studio.auth("marketing")).status_code
        == 403
    )
    other = new_studio(gb, make_token)
    stranger = client.post(studio.versions, json=version_body(data), headers=other.auth())
    assert stranger.status_code == 404
    assert client.get(studio.versions, headers=other.auth()).status_code == 404
    admin = {"Authorization": f"Bearer {make_token(roles=('admin',))}"}
    assert client.get(studio.versions, headers=admin).status_code == 200
    assert client.get(studio.versions).status_code == 401


def test_s3_unreachable_at_create_is_503_and_no_row(app, gb, studio):
    closed = gb.settings.model_copy(
        update={"s3_endpoint_url": f"http://127.0.0.1:{free_port()}", "s3_timeout_seconds": 1}
    )
    app.extensions["game_builds"] = dataclasses.replace(gb, store=S3Store(closed))
    try:
        answer = app.test_client().post(studio.versions, json=version_body(b"z" * 10), headers=studio.auth())
    finally:
        app.extensions["game_builds"] = gb
    assert answer.status_code == 503 and answer.get_json()["error"]["code"] == "SERVICE_UNAVAILABLE"
    assert _count(app.test_client(), studio) == 0


def test_idempotency_key_replays_the_creation(client, studio):
    headers = {**studio.auth(), "Idempotency-Key": "create-1"}
    first = client.post(studio.versions, json=version_body(b"q" * 10), headers=headers)
    second = client.post(studio.versions, json=version_body(b"q" * 10), headers=headers)
    assert first.status_code == second.status_code == 201
    assert first.get_json()["versionId"] == second.get_json()["versionId"]
