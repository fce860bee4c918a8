"""How ``wk reload`` finds ``wk up``: its run file names a process only while that very
process runs (a pid the system has given to another process since is not signalled)."""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path

import psutil

from watchkeeper.cli.runfile import RunFiles


def test_the_run_file_names_this_process_until_it_is_withdrawn(tmp_path: Path) -> None:
    files = RunFiles(str(tmp_path / "watchkeeper.yaml"), tmp_path / "run")
    assert files.running() is None
    files.announce()
    assert files.running() == os.getpid()
    assert stat.S_IMODE(files.process_file.stat().st_mode) == 0o600
    assert stat.S_IMODE(files.process_file.parent.stat().st_mode) == 0o700
    files.record({"ok": True, "started_at": 1.0})
    assert files.outcome() == {"ok": True, "started_at": 1.0}
    files.withdraw()
    assert not files.process_file.exists() and not files.outcome_file.exists()
    assert files.running() is None


def test_a_pid_given_to_another_process_since_is_not_taken_for_wk_up(tmp_path: Path) -> None:
    files = RunFiles(str(tmp_path / "watchkeeper.yaml"), tmp_path / "run")
    files.announce()
    document = json.loads(files.process_file.read_text())
    document["started"] = psutil.Process().create_time() - 3600  # the pid's earlier owner
    files.process_file.write_text(json.dumps(document))
    assert files.running() is None


def test_a_stopping_wk_up_leaves_the_run_file_of_another_alone(tmp_path: Path) -> None:
    """Two ``wk up`` on one config file one after the other: the first, stopping late,
    does not take away the second's run file."""
    files = RunFiles(str(tmp_path / "watchkeeper.yaml"), tmp_path / "run")
    files.announce()
    other = psutil.Process().parent()
    assert other is not None
    files.process_file.write_text(
        json.dumps({"pid": other.pid, "started": other.create_time(), "config": files.config})
    )
    assert files.running() == other.pid
    files.withdraw()
    assert files.running() == other.pid


def test_each_config_file_has_its_own_run_file(tmp_path: Path) -> None:
    one = RunFiles(str(tmp_path / "a.yaml"), tmp_path / "run")
    other = RunFiles(str(tmp_path / "b.yaml"), tmp_path / "run")
    one.announce()
    assert one.running() == os.getpid()
    assert other.running() is None
