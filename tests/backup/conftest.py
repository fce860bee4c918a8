"""What every drill test needs: a ledger of its own, and a work folder other accounts may
enter (pytest's tmp_path lies below folders only root may enter; as root, a private cluster
runs as postgres and a scratch redis-server as redis)."""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest


@pytest.fixture(autouse=True)
def state(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Each test's drill ledger in a folder of its own."""
    monkeypatch.setenv("WATCHKEEPER_STATE", str(tmp_path / "state"))
    return tmp_path / "state"


@pytest.fixture
def workdir() -> Iterator[Path]:
    folder = Path(tempfile.mkdtemp(prefix="wk-drilltest-"))
    folder.chmod(0o755)
    yield folder
    shutil.rmtree(folder, ignore_errors=True)
