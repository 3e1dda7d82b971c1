"""The small state file that lets ``gamekeys push`` resume: which version the file is being
pushed as, and the parts already uploaded (ETag and SHA-256 each). One file per (API, game,
version, platform, file path), written atomically after every part."""

from __future__ import annotations

import hashlib
import json
import os
import threading
from dataclasses import dataclass, field
from pathlib import Path


def default_state_dir() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "gamekeys" / "pushes"


@dataclass
class PushState:
    path: Path
    data: dict = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)

    @classmethod
    def open(cls, directory: Path, *, api_url: str, game_id: str, version: str, platform: str, file: Path):
        key = json.dumps([api_url, game_id, version, platform, str(file.resolve())])
        path = directory / f"{hashlib.sha256(key.encode()).hexdigest()[:24]}.json"
        try:
            data = json.loads(path.read_text())
        except (OSError, ValueError):
            data = {}
        return cls(path, data if isinstance(data, dict) else {})

    def file_matches(self, size: int, mtime_ns: int) -> bool:
        file = self.data.get("file") or {}
        return file.get("size") == size and file.get("mtimeNs") == mtime_ns and bool(file.get("sha256"))

    def part(self, number: int) -> dict | None:
        return self.data.get("parts", {}).get(str(number))

    def record_part(self, number: int, etag: str, sha256: str) -> None:
        with self.lock:
            self.data.setdefault("parts", {})[str(number)] = {"etag": etag, "sha256": sha256}
            self._write()

    def update(self, **values) -> None:
        with self.lock:
            self.data.update(values)
            self._write()

    def _write(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        temporary = self.path.with_suffix(".tmp")
        temporary.write_text(json.dumps(self.data))
        os.replace(temporary, self.path)

    def remove(self) -> None:
        self.path.unlink(missing_ok=True)
