"""Builds over what clamd takes in one stream, against the real SeaweedFS and clamd: a zip is
scanned member by member (read from S3 by ranges), so it can become ready, or malware with the
member named; what cannot be scanned fully (not a zip, a member over the limit) is
scan_incomplete, never ready."""

from __future__ import annotations

import dataclasses
import io
import os
import zipfile

import pytest
from gb_testkit import EICAR, put_parts, version_body

from game_builds.archives import RangeReader
from game_builds.usecases.processing import process_next

MIB = 1024 * 1024


@pytest.fixture()
def small_clamd(gb):
    """The service configured as if clamd took at most 1 MiB in one stream."""
    return dataclasses.replace(gb, settings=gb.settings.model_copy(update={"clamd_stream_max_bytes": MIB}))


def zipped(members: dict[str, bytes], method=zipfile.ZIP_STORED) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", compression=method) as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    return out.getvalue()


def processed(client, small, studio, data: bytes, version: str) -> dict:
    created = client.post(studio.versions, json=version_body(data, version=version), headers=studio.auth())
    body = created.get_json()
    assert body["upload"]["partCount"] == len(body["upload"]["parts"])  # the first URLs are all it needs
    parts = put_parts(body["upload"]["parts"], data, body["upload"]["partSize"])
    url = f"{studio.versions}/{body['versionId']}"
    assert (
        client.post(f"{url}/upload/complete", json={"parts": parts}, headers=studio.auth()).status_code == 202
    )
    while process_next(small) is not None:
        pass
    return client.get(url, headers=studio.auth()).get_json()


def test_a_zip_over_the_stream_limit_is_scanned_member_by_member(client, small_clamd, studio):
    data = zipped({"bin/game.exe": os.urandom(700_000), "data/level1.pak": os.urandom(700_000), "docs/": b""})
    assert len(data) > MIB
    version = processed(client, small_clamd, studio, data, "1.0.0")
    assert version["status"] == "ready", version["failure"]


def test_malware_inside_a_large_zip_is_found_with_its_member(client, gb, small_clamd, studio):
    data = zipped(
        {"a.bin": os.urandom(900_000), "tools/eicar.com": EICAR, "b.bin": os.urandom(400_000)},
        method=zipfile.ZIP_DEFLATED,
    )
    version = processed(client, small_clamd, studio, data, "1.0.1")
    assert version["status"] == "failed" and version["failure"]["reason"] == "malware"
    assert "eicar" in version["failure"]["signature"].lower()
    assert version["failure"]["detail"] == "in tools/eicar.com"
    assert not gb.store.exists(f"builds/{studio.game_id}/{version['versionId']}")


def test_what_cannot_be_scanned_fully_is_scan_incomplete(client, small_clamd, studio):
    not_zip = processed(client, small_clamd, studio, os.urandom(MIB + 10), "2.0.0")
    assert not_zip["status"] == "failed" and not_zip["failure"]["reason"] == "scan_incomplete"
    assert "not a zip" in not_zip["failure"]["detail"]
    big_member = processed(client, small_clamd, studio, zipped({"huge.pak": os.urandom(MIB + 10)}), "2.0.1")
    assert big_member["status"] == "failed" and big_member["failure"]["reason"] == "scan_incomplete"
    assert "huge.pak" in big_member["failure"]["detail"]


def test_the_range_reader_reads_like_a_file(gb):
    key = "probe/range-reader"
    data = os.urandom(3 * MIB + 17)
    gb.store._call("put_object", Key=key, Body=data)
    reader = RangeReader(gb.store, key, len(data))
    reader.seek(-100, io.SEEK_END)
    assert reader.read(200) == data[-100:]
    reader.seek(5)
    assert reader.read(10) == data[5:15] and reader.tell() == 15
    assert reader.read(2 * MIB) == data[15 : 15 + 2 * MIB]
    gb.store.delete(key)
