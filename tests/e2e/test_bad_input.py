"""Bad input through the real command: one line naming file:line (and the monitor), exit 2,
never a traceback."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest
from tests.helpers.cli import wk

CASES = {
    "malformed-yaml": ("monitors:\n  - name: api\n    http: [oops\n", 4, "malformed YAML"),
    "unknown-key": (
        "monitors:\n  - name: api\n    http: http://x/\n    timout: 5s\n",
        4,
        "did you mean 'timeout'",
    ),
    "wrong-type": (
        "monitors:\n  - name: api\n    http: http://x/\n    confirm: [2]\n",
        4,
        "expected a whole number",
    ),
    "bad-duration": (
        "monitors:\n  - name: api\n    http: http://x/\n    interval: 5 min\n",
        4,
        "bad duration",
    ),
    "bad-expectation": (
        "monitors:\n  - name: api\n    http: http://x/\n    expect: ['latency << 5ms']\n",
        4,
        "column",
    ),
    "duplicate-name": (
        "monitors:\n  - {name: api, http: http://x/}\n  - {name: api, http: http://y/}\n",
        3,
        "duplicate monitor name",
    ),
    "shared-heartbeat-uuid": (
        "monitors:\n"
        "  - {name: nightly, heartbeat: {period: 1d, uuid: 6f9b8a52-3c1e-4d7e-9a55-1d2b3c4d5e6f}}\n"
        "  - {name: api, heartbeat: {period: 1h, uuid: 6f9b8a52-3c1e-4d7e-9a55-1d2b3c4d5e6f}}\n",
        3,
        "is already used by monitor 'nightly' (line 2)",
    ),
    "unknown-route": (  # and no notify: section at all
        "monitors:\n  - name: api\n    http: http://x/\n    notify: [nope]\n",
        4,
        "notify route 'nope' is not defined: add it under notify:",
    ),
    "unset-variable": (
        "monitors:\n  - name: api\n    http: http://${NO_SUCH_VAR_WK}/\n",
        3,
        "${NO_SUCH_VAR_WK} is not set",
    ),
    "unreadable-file": (
        "monitors:\n  - name: api\n    http: 'http://x/${file:/nonexistent/wk}'\n",
        3,
        "cannot be read",
    ),
}


@pytest.mark.parametrize("case", sorted(CASES))
@pytest.mark.parametrize("command", ["validate", "check", "up"])
async def test_bad_input_is_one_located_line_and_exit_two(
    tmp_path: Path, case: str, command: str
) -> None:
    text, line, words = CASES[case]
    path = tmp_path / "wk.yaml"
    path.write_text(text)
    completed = await wk(command, "-c", str(path))
    assert completed.code == 2
    lines = completed.stderr.strip().splitlines()
    assert len(lines) == 1, completed.stderr
    assert lines[0].startswith(f"{path}:{line}: ")
    assert words in lines[0]
    if case != "malformed-yaml":
        assert "monitor 'api'" in lines[0]
    assert "Traceback" not in completed.stderr + completed.stdout


async def test_a_missing_config_file_is_one_line(tmp_path: Path) -> None:
    completed = await wk("validate", "-c", str(tmp_path / "absent.yaml"))
    assert completed.code == 2
    assert (
        completed.stderr.strip() == f"{tmp_path / 'absent.yaml'}: cannot read config "
        "(No such file or directory)"
    )


async def test_init_writes_a_config_that_validates_and_refuses_to_overwrite(
    tmp_path: Path,
) -> None:
    path = tmp_path / "watchkeeper.yaml"
    first = await wk("init", "-c", str(path))
    assert first.code == 0 and path.exists()
    checked = await wk("validate", "-c", str(path))
    assert checked.code == 0, checked.stderr
    assert "ok" in checked.stdout
    again = await wk("init", "-c", str(path))
    assert again.code == 2 and "already exists" in again.stderr


async def test_a_public_bind_is_refused_without_authentication(tmp_path: Path) -> None:
    path = tmp_path / "wk.yaml"
    path.write_text("server: {listen: 0.0.0.0:8844}\nmonitors: []\n")
    completed = await wk("up", "-c", str(path))
    assert completed.code == 2
    assert "refusing to listen on 0.0.0.0:8844: nobody can log in yet" in completed.stderr
    assert "Traceback" not in completed.stderr


async def test_a_taken_port_is_one_line_and_exit_two(tmp_path: Path) -> None:
    path = tmp_path / "wk.yaml"
    path.write_text("monitors: []\n")
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        completed = await wk("up", "-c", str(path), "--listen", f"127.0.0.1:{port}")
    assert completed.code == 2
    assert completed.stderr.strip() == (
        f"cannot listen on 127.0.0.1:{port}: [Errno 98] Address already in use"
    )


@pytest.mark.parametrize("command", ["up", "status"])
async def test_an_unreachable_store_is_one_line_without_the_password(
    tmp_path: Path, command: str
) -> None:
    with socket.socket() as closed:  # a port nobody listens on
        closed.bind(("127.0.0.1", 0))
        port = closed.getsockname()[1]
    path = tmp_path / "wk.yaml"
    path.write_text(f"storage: postgresql://app:hunter2@127.0.0.1:{port}/wk\nmonitors: []\n")
    completed = await wk(command, "-c", str(path))
    assert completed.code == 2
    assert completed.stderr.strip() == (
        f"{path}: cannot open store postgresql://app@127.0.0.1:{port}/wk: connection refused"
    )
    assert "hunter2" not in completed.stdout + completed.stderr
