"""The README's walk-through, run as written (the block under "Calling the API with a token"),
twice in a row after whatever the suite did before: it redeems its key every time."""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

WALKTHROUGH = re.compile(r"## Calling the API with a token\n.*?```sh\n(.*?)```", re.S)


def test_the_readme_walkthrough_redeems_a_key_every_time_it_is_pasted():
    script = WALKTHROUGH.search((ROOT / "README.md").read_text()).group(1)
    for _ in range(2):
        run = subprocess.run(
            ["bash", "-c", script], cwd=ROOT, capture_output=True, text=True, timeout=120, check=False
        )
        assert run.returncode == 0, run.stderr
        result = json.loads(run.stdout.strip().splitlines()[-1])
        assert (result["success"], result["status"]) == (True, "activated"), result
