"""``gamekeys push`` (clients/gamekeys-cli) against the real service on a real HTTP server, the
real SeaweedFS and clamd, with the worker's build processor running: a push ends ready; a push
killed mid-upload resumes and sends only the parts storage lacks; a failed build exits non-zero
with the reason."""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import signal
import subprocess
import sys
import threading
import time

import pytest
from gb_testkit import EICAR

from game_builds.db import builds as repo
from game_builds.worker import BuildProcessor
from gamekeys_platform.devkeys import KEYS_DIR_ENV
from gamekeys_platform.testing import serving

MIB = 1024 * 1024


@pytest.fixture(scope="module")
def api_url(app, gb):
    fast = dataclasses.replace(gb, settings=gb.settings.model_copy(update={"build_poll_seconds": 0.2}))
    processor = BuildProcessor(fast)
    thread = threading.Thread(target=processor.run_forever, daemon=True)
    thread.start()
    with serving(app) as url:
        yield url
    processor.stop()
    thread.join(10)


def gamekeys(api_url, studio, *args, tmp_path, role="developer", wait=True, env=None):
    command = [sys.executable, "-m", "gamekeys_cli", "--api-url", api_url, *args]
    if args and args[0] == "push":
        command += ["--state-dir", str(tmp_path / "state")]
    environment = {**os.environ, "GAMEKEYS_TOKEN": studio.tokens[role], **(env or {})}
    environment.pop("GAMEKEYS_API_KEY", None)
    if not wait:
        return subprocess.Popen(
            command, env=environment, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
        )
    return subprocess.run(command, env=environment, capture_output=True, text=True, timeout=120)


def push_args(path, studio, version="1.0.0", *extra):
    return (
        "push",
        str(path),
        "--game",
        str(studio.game_id),
        "--version",
        version,
        "--platform",
        "windows",
        *extra,
    )


def test_a_pushed_build_becomes_ready(api_url, studio, tmp_path):
    path = tmp_path / "game.zip"
    path.write_bytes(os.urandom(12 * MIB + 321))
    done = gamekeys(
        api_url, studio, *push_args(path, studio, "1.0.0", "--changelog", "first"), tmp_path=tmp_path
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip().endswith(": ready")
    assert "uploaded 3 parts" in done.stderr and "ETA" in done.stderr
    assert list((tmp_path / "state").glob("*.json")) == []  # nothing left to resume

    listed = gamekeys(
        api_url, studio, "builds", "list", "--game", str(studio.game_id), "--json", tmp_path=tmp_path
    )
    [item] = json.loads(listed.stdout)
    assert item["status"] == "ready" and item["changelog"] == "first"
    assert item["file"]["sha256"] == hashlib.sha256(path.read_bytes()).hexdigest()
    shown = gamekeys(
        api_url,
        studio,
        "builds",
        "status",
        item["versionId"],
        "--game",
        str(studio.game_id),
        tmp_path=tmp_path,
    )
    assert shown.returncode == 0 and "status:   ready" in shown.stdout
    table = gamekeys(api_url, studio, "builds", "list", "--game", str(studio.game_id), tmp_path=tmp_path)
    assert "1.0.0" in table.stdout and "ready" in table.stdout


def test_a_push_killed_mid_upload_resumes_with_only_the_missing_parts(api_url, gb, studio, tmp_path):
    path = tmp_path / "big.zip"
    path.write_bytes(os.urandom(8 * 5 * MIB))  # eight parts of 5 MiB
    args = push_args(path, studio, "2.0.0")
    slow = gamekeys(
        api_url, studio, *args, "--parallel", "2", "--limit-rate", "8M", tmp_path=tmp_path, wait=False
    )
    recorded: dict = {}
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and slow.poll() is None:
            for state_file in (tmp_path / "state").glob("*.json"):
                try:
                    recorded = json.loads(state_file.read_text())
                except ValueError:
                    continue
            if len(recorded.get("parts", {})) >= 3:
                break
            time.sleep(0.05)
        slow.send_signal(signal.SIGKILL)
    finally:
        slow.kill()
        slow.communicate(timeout=10)
    assert slow.returncode == -signal.SIGKILL, "the push ended before it could be killed"
    version_id = recorded["versionId"]
    object_key = f"builds/{studio.game_id}/{version_id}"
    with gb.db.transaction() as session:
        upload_id = repo.get(session, version_id, studio.game_id).upload_id
    in_storage = gb.store.received_parts(object_key, upload_id)
    assert 3 <= len(in_storage) < 8

    resumed = gamekeys(api_url, studio, *args, tmp_path=tmp_path)
    assert resumed.returncode == 0, resumed.stderr
    assert f"resuming: {len(in_storage)} of 8 parts already uploaded" in resumed.stderr
    assert f"uploaded {8 - len(in_storage)} parts" in resumed.stderr  # only those storage lacked
    assert resumed.stdout.strip() == f"2.0.0 (windows) {version_id}: ready"


def test_a_failed_build_exits_non_zero_with_the_reason(api_url, studio, tmp_path):
    path = tmp_path / "eicar.com"
    path.write_bytes(EICAR)
    done = gamekeys(api_url, studio, *push_args(path, studio, "6.6.6"), tmp_path=tmp_path)
    assert done.returncode == 1
    assert "failed: malware" in done.stderr and "EICAR" in done.stderr.upper()


def test_refusals_and_configuration(api_url, studio, tmp_path):
    path = tmp_path / "a.bin"
    path.write_bytes(b"a" * 1000)
    assert gamekeys(api_url, studio, *push_args(path, studio, "3.0.0"), tmp_path=tmp_path).returncode == 0
    other = tmp_path / "b.bin"
    other.write_bytes(b"b" * 1000)
    reused = gamekeys(api_url, studio, *push_args(other, studio, "3.0.0"), tmp_path=tmp_path)
    assert reused.returncode == 1 and "already exists with another file" in reused.stderr
    again = gamekeys(api_url, studio, *push_args(path, studio, "3.0.0"), tmp_path=tmp_path)
    assert again.returncode == 0 and "exists for this file" in again.stderr  # the same push, repeated
    marketing = gamekeys(
        api_url, studio, *push_args(path, studio, "3.0.1"), tmp_path=tmp_path, role="marketing"
    )
    assert marketing.returncode == 1 and "FORBIDDEN (403)" in marketing.stderr
    anonymous = gamekeys(
        api_url, studio, *push_args(path, studio, "3.0.2"), tmp_path=tmp_path, env={"GAMEKEYS_TOKEN": ""}
    )
    assert anonymous.returncode == 2 and "GAMEKEYS_API_KEY" in anonymous.stderr


def test_the_platform_developer_tools_are_gamekeys_commands_too(dev_key_dir):
    user = "0b9f7c1e-3a52-4c36-9a43-5d7f0e2b8c11"
    token = subprocess.run(
        [sys.executable, "-m", "gamekeys_cli", "token", "--sub", user, "--roles", "developer"],
        env={**os.environ, KEYS_DIR_ENV: str(dev_key_dir)},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert token.returncode == 0 and token.stdout.count(".") == 2, token.stderr
