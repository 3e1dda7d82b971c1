"""Media against the real SeaweedFS: declared, PUT to the presigned URL (type and length signed
in), completed and checked with Pillow (or the trailer's container), listed; every refusal with
its reason."""

from __future__ import annotations

import io
import uuid

import requests
from gb_testkit import events_of, new_studio
from PIL import Image
from sqlalchemy import func, update

from game_builds.db.tables import media
from game_builds.usecases.media import expire_media_uploads


def image_bytes(width: int, height: int, fmt: str = "PNG") -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (width, height), (200, 40, 90)).save(out, format=fmt)
    return out.getvalue()


MP4_HEAD = b"\x00\x00\x00\x18ftypmp42\x00\x00\x00\x00mp42isom" + b"\x00" * 100


def media_url(studio) -> str:
    return f"/api/v1/developer/games/{studio.game_id}/media"


def declare(client, studio, data: bytes, kind="screenshot", content_type="image/png", role="developer"):
    body = {"kind": kind, "contentType": content_type, "size": len(data)}
    answer = client.post(media_url(studio), json=body, headers=studio.auth(role))
    assert answer.status_code == 201, answer.get_json()
    created = answer.get_json()
    upload = created["upload"]
    put = requests.put(upload["url"], data=data, headers=upload["headers"], timeout=30)
    assert put.status_code == 200, put.text
    return created


def complete(client, studio, media_id, role="developer"):
    return client.post(f"{media_url(studio)}/{media_id}/complete", headers=studio.auth(role))


def test_a_screenshot_is_checked_and_ready(client, gb, studio):
    data = image_bytes(1280, 720)
    created = declare(client, studio, data)
    assert created["status"] == "uploading" and created["upload"]["method"] == "PUT"
    done = complete(client, studio, created["mediaId"])
    assert done.status_code == 200, done.get_json()
    body = done.get_json()
    assert body["status"] == "ready" and (body["width"], body["height"]) == (1280, 720)
    assert requests.get(body["url"], timeout=30).content == data
    again = complete(client, studio, created["mediaId"])
    assert again.status_code == 200 and again.get_json()["status"] == "ready"
    [ready] = events_of(gb, created["mediaId"], "media.ready")
    assert ready["data"]["kind"] == "screenshot" and ready["data"]["width"] == 1280
    listed = client.get(f"{media_url(studio)}?kind=screenshot", headers=studio.auth("marketing")).get_json()
    assert [item["mediaId"] for item in listed["items"]] == [created["mediaId"]]


def test_a_capsule_by_marketing_and_a_trailer(client, studio):
    capsule = declare(
        client, studio, image_bytes(460, 215, "JPEG"), "capsule", "image/jpeg", role="marketing"
    )
    assert complete(client, studio, capsule["mediaId"], role="marketing").get_json()["status"] == "ready"
    trailer = declare(client, studio, MP4_HEAD, "trailer", "video/mp4")
    done = complete(client, studio, trailer["mediaId"]).get_json()
    assert done["status"] == "ready" and done["width"] is None


def test_what_is_not_what_it_claims_is_refused_with_a_reason(client, gb, studio):
    png = image_bytes(1280, 720)
    cases = [
        (image_bytes(1280, 720, "JPEG"), "screenshot", "image/png", "format_mismatch"),
        (b"just some text, not a picture" * 10, "screenshot", "image/png", "not_an_image"),
        (image_bytes(320, 200), "screenshot", "image/png", "dimensions_out_of_bounds"),
        (image_bytes(8000, 300), "capsule", "image/png", "dimensions_out_of_bounds"),
        (png[: len(png) // 2], "screenshot", "image/png", "corrupt_image"),
        (b"\x00" * 200, "trailer", "video/mp4", "not_a_video"),
        (MP4_HEAD, "trailer", "video/webm", "not_a_video"),
    ]
    for data, kind, content_type, reason in cases:
        created = declare(client, studio, data, kind, content_type)
        answer = complete(client, studio, created["mediaId"])
        assert answer.status_code == 422, (reason, answer.get_json())
        error = answer.get_json()["error"]
        assert error["code"] == "VALIDATION_ERROR" and error["details"]["reason"] == reason, error
        assert not gb.store.exists(f"media/{studio.game_id}/{created['mediaId']}")
        again = complete(client, studio, created["mediaId"])
        assert again.status_code == 422 and again.get_json()["error"]["details"]["reason"] == reason
    rejected = client.get(f"{media_url(studio)}?status=rejected", headers=studio.auth()).get_json()["items"]
    assert len(rejected) == len(cases) and all(item["failure"]["reason"] for item in rejected)
    assert not events_of(gb, rejected[0]["mediaId"])


def test_bad_declarations_and_early_completion(client, gb, studio):
    url = media_url(studio)
    cases = [
        ({"kind": "poster", "contentType": "image/png", "size": 10}, 422),
        ({"kind": "trailer", "contentType": "image/png", "size": 10}, 422),
        ({"kind": "screenshot", "contentType": "image/gif", "size": 10}, 422),
        ({"kind": "screenshot", "contentType": "image/png", "size": 0}, 422),
        ({"kind": "screenshot", "contentType": "image/png", "size": 21 * 1024 * 1024}, 413),
        ({"kind": "screenshot", "contentType": "image/png", "size": 10, "name": "x"}, 422),
        ({"kind": "screenshot"}, 422),
    ]
    for body, status in cases:
        answer = client.post(url, json=body, headers=studio.auth())
        assert answer.status_code == status and "error" in answer.get_json(), (body, answer.get_json())
    assert client.get(url, headers=studio.auth()).get_json()["items"] == []

    data = image_bytes(1280, 720)
    answer = client.post(
        url, json={"kind": "screenshot", "contentType": "image/png", "size": len(data)}, headers=studio.auth()
    ).get_json()
    early = complete(client, studio, answer["mediaId"])
    assert early.status_code == 409 and early.get_json()["error"]["details"]["reason"] == "not_uploaded"
    # The signed length and type: S3 refuses other bytes.
    upload = answer["upload"]
    assert (
        requests.put(
            upload["url"], data=data + b"x", headers={"Content-Type": "image/png"}, timeout=30
        ).status_code
        == 403
    )
    assert (
        requests.put(upload["url"], data=data, headers={"Content-Type": "image/jpeg"}, timeout=30).status_code
        == 403
    )
    assert complete(client, studio, uuid.uuid4()).status_code == 404


def test_strangers_and_readers(client, gb, studio, make_token):
    other = new_studio(gb, make_token)
    body = {"kind": "screenshot", "contentType": "image/png", "size": 10}
    assert client.post(media_url(studio), json=body, headers=other.auth()).status_code == 404
    assert client.get(media_url(studio), headers=other.auth()).status_code == 404
    assert client.get(media_url(studio)).status_code == 401


def test_a_media_upload_never_completed_expires(client, gb, studio):
    created = declare(client, studio, image_bytes(1280, 720))
    with gb.db.transaction() as session:
        session.execute(
            update(media)
            .where(media.c.id == uuid.UUID(created["mediaId"]))
            .values(upload_expires_at=func.now() - func.make_interval(0, 0, 0, 0, 1))
        )
    assert expire_media_uploads(gb) >= 1
    [item] = client.get(media_url(studio), headers=studio.auth()).get_json()["items"]
    assert item["status"] == "rejected" and item["failure"]["reason"] == "upload_expired"
    assert not gb.store.exists(f"media/{studio.game_id}/{created['mediaId']}")
