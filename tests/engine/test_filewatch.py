"""``wk up --watch``'s polling: a reload is asked for when what the files hold changes (the
config or a ``${file:}`` it reads), not when they are merely touched or rewritten the same."""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from watchkeeper.engine.filewatch import watch_files


class Watch:
    """The watch on its own task, counting its polls and the reloads it asks for."""

    def __init__(self, files: list[Path]) -> None:
        self.files = files
        self.polls = 0
        self.asked = 0

    def paths(self) -> list[str]:
        self.polls += 1
        return [str(path) for path in self.files]

    def changed(self) -> None:
        self.asked += 1

    async def polled(self, times: int) -> None:
        """Wait until the watch has looked ``times`` more times."""
        goal = self.polls + times
        deadline = time.monotonic() + 30
        while self.polls < goal:
            assert time.monotonic() < deadline, "the watch stopped polling"
            await asyncio.sleep(0.01)


@pytest.fixture
async def config(tmp_path: Path) -> AsyncIterator[tuple[Path, Path, Watch]]:
    path, secret = tmp_path / "watchkeeper.yaml", tmp_path / "token"
    path.write_text("monitors: []\n")
    secret.write_text("t0k3n\n")
    watch = Watch([path, secret])
    task = asyncio.create_task(watch_files(watch.paths, watch.changed, every=0.02))
    await watch.polled(2)
    yield path, secret, watch
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)


async def test_a_touch_or_the_same_text_written_again_asks_for_nothing(
    config: tuple[Path, Path, Watch],
) -> None:
    path, secret, watch = config
    os.utime(path, ns=(1, 1))
    path.write_text(path.read_text())
    replaced = path.with_suffix(".new")  # an editor's save: a new file renamed over it
    replaced.write_text(path.read_text())
    replaced.replace(path)
    os.utime(secret)
    await watch.polled(10)
    assert watch.asked == 0


async def test_a_change_of_the_config_or_a_file_it_reads_asks_for_one_reload(
    config: tuple[Path, Path, Watch],
) -> None:
    path, secret, watch = config
    path.write_text("monitors: []\n# edited\n")
    await watch.polled(10)
    assert watch.asked == 1, "once, after the file held still"
    secret.write_text("rotated\n")
    await watch.polled(10)
    assert watch.asked == 2
    secret.unlink()
    await watch.polled(10)
    assert watch.asked == 3, "a file gone is a change too"


async def test_a_change_made_before_the_first_poll_is_a_change(tmp_path: Path) -> None:
    """``wk up`` reads its files before it answers; the watch task polls first later (on a
    loaded machine, after a client saw the server up and rewrote the config): a change in
    between is still a change, against the files as the config was read."""
    from watchkeeper.engine.filewatch import snapshot

    path = tmp_path / "watchkeeper.yaml"
    path.write_text("monitors: []\n")
    read = snapshot([str(path)])  # as wk up read it
    path.write_text("monitors: [] # changed\n")  # before the watch task runs at all
    watch = Watch([path])
    task = asyncio.create_task(watch_files(watch.paths, watch.changed, every=0.02, start=read))
    try:
        await watch.polled(3)
        assert watch.asked == 1
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
