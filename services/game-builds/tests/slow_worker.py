"""A worker process for the kill test: verifies one build, reading the object slowly, so the test
can kill it mid-verification. Settings come from the environment, as the real worker's do."""

from __future__ import annotations

import dataclasses
import time

from game_builds.context import GameBuilds
from game_builds.settings import get_settings
from game_builds.usecases.processing import process_next


class SlowStore:
    def __init__(self, store) -> None:
        self.store = store

    def __getattr__(self, name):
        return getattr(self.store, name)

    def stream(self, key):
        for chunk in self.store.stream(key):
            time.sleep(1)
            yield chunk


if __name__ == "__main__":
    gb = GameBuilds.from_settings(get_settings())
    process_next(dataclasses.replace(gb, store=SlowStore(gb.store)))
