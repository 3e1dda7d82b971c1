"""Progress of a long step (hashing, uploading, processing): bytes, rate and ETA. A rich bar on
a terminal; on anything else (CI logs) a plain line every few seconds."""

from __future__ import annotations

import sys
import threading
import time

from rich.console import Console
from rich.progress import (
    BarColumn,
    DownloadColumn,
    Progress,
    TextColumn,
    TimeRemainingColumn,
    TransferSpeedColumn,
)


def human(count: float) -> str:
    for unit in ("B", "KiB", "MiB", "GiB"):
        if abs(count) < 1024 or unit == "GiB":
            return f"{count:.1f} {unit}" if unit != "B" else f"{count:.0f} B"
        count /= 1024
    return f"{count:.1f} GiB"


class Bar:
    """One step's progress; thread-safe ``advance``."""

    def __init__(self, description: str, total: int, completed: int = 0, *, interactive: bool | None = None):
        self.description = description
        self.total = total
        self.completed = completed
        self.lock = threading.Lock()
        self.started = time.monotonic()
        self.start_completed = completed
        self.interactive = sys.stderr.isatty() if interactive is None else interactive
        if self.interactive:
            self.progress = Progress(
                TextColumn("{task.description}"),
                BarColumn(),
                DownloadColumn(binary_units=True),
                TransferSpeedColumn(),
                TimeRemainingColumn(),
                console=Console(stderr=True),
            )
            self.progress.start()
            self.task = self.progress.add_task(description, total=total, completed=completed)
        else:
            self.last_line = 0.0

    def advance(self, count: int) -> None:
        with self.lock:
            self.completed += count
            if self.interactive:
                self.progress.update(self.task, completed=self.completed)
            elif time.monotonic() - self.last_line >= 5:
                self._line()

    def set(self, completed: int, description: str | None = None) -> None:
        with self.lock:
            self.completed = completed
            if description:
                self.description = description
            if self.interactive:
                self.progress.update(self.task, completed=completed, description=self.description)
            elif time.monotonic() - self.last_line >= 5:
                self._line()

    def rate(self) -> float:
        elapsed = time.monotonic() - self.started
        return (self.completed - self.start_completed) / elapsed if elapsed > 0 else 0.0

    def _line(self) -> None:
        self.last_line = time.monotonic()
        rate = self.rate()
        eta = (self.total - self.completed) / rate if rate > 0 else None
        eta_text = f"ETA {int(eta) // 60}:{int(eta) % 60:02d}" if eta is not None else "ETA -"
        print(
            f"{self.description}: {human(self.completed)} / {human(self.total)}, {human(rate)}/s, {eta_text}",
            file=sys.stderr,
            flush=True,
        )

    def close(self) -> None:
        if self.interactive:
            self.progress.stop()
        else:
            self._line()
