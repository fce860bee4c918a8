"""Counts read as a sentence has them: ``1 monitor``, ``2 monitors`` (never ``1 findings``)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest


@pytest.mark.parametrize(
    ("monitors", "said"),
    [
        ("  - {name: api, http: http://127.0.0.1:9/}\n", "1 monitor (1 http)"),
        (
            "  - {name: api, http: http://127.0.0.1:9/}\n  - {name: db, tcp: 127.0.0.1:9}\n",
            "2 monitors (1 http, 1 tcp)",
        ),
    ],
)
def test_validate_counts_the_monitors_it_read(tmp_path: Path, monitors: str, said: str) -> None:
    config = tmp_path / "watchkeeper.yaml"
    config.write_text("monitors:\n" + monitors)

    done = subprocess.run(
        [sys.executable, "-m", "watchkeeper", "validate", "-c", str(config)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )

    assert done.returncode == 0, done.stderr
    assert done.stdout == f"{config}: ok — {said}\n"
