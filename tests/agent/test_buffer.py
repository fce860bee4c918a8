"""The agent's disk buffer, on real files: order, the cap, resuming, deletion on acceptance."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from watchkeeper.agent.buffer import BATCH, STATE_FILE, Buffer


def results(start: int, count: int, pad: int = 100) -> list[dict[str, Any]]:
    return [
        {"monitor": "api", "started_at": float(i), "ok": True, "error": "x" * pad}
        for i in range(start, start + count)
    ]


def segment_files(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.glob("seg-*.jsonl"))


def read_state(folder: Path) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((folder / STATE_FILE).read_text())
    return data


def append_bytes(path: Path, data: bytes) -> None:
    with open(path, "ab") as handle:
        handle.write(data)


async def drain(buffer: Buffer) -> list[float]:
    """Take every batch in order, accepting each: the started_at of all."""
    seen: list[float] = []
    while (batch := await buffer.oldest()) is not None:
        seen.extend(r["started_at"] for r in batch.results)
        await buffer.accepted(batch, len(batch.results))
    return seen


async def test_it_gives_results_back_oldest_first_across_segments(tmp_path: Path) -> None:
    buffer = Buffer(tmp_path, cap=10_000_000, segment_bytes=2_000)
    await buffer.open()
    await buffer.append(results(0, 30))
    await buffer.append(results(30, 30))
    assert buffer.buffered == 60
    assert buffer.segments > 2
    assert await drain(buffer) == [float(i) for i in range(60)]
    assert buffer.buffered == 0
    assert segment_files(tmp_path) == []
    assert buffer.counters.pushed == 60


async def test_a_segment_holds_at_most_one_batch(tmp_path: Path) -> None:
    buffer = Buffer(tmp_path, cap=100_000_000)
    await buffer.open()
    await buffer.append(results(0, BATCH * 2 + 5, pad=0))
    sizes = []
    while (batch := await buffer.oldest()) is not None:
        sizes.append(len(batch.results))
        await buffer.accepted(batch, len(batch.results))
    assert sizes == [BATCH, BATCH, 5]


async def test_past_the_cap_it_drops_the_oldest_segments_and_counts_them(tmp_path: Path) -> None:
    cap = 16_000
    buffer = Buffer(tmp_path, cap=cap)  # segments of cap / 8
    await buffer.open()
    for start in range(0, 400, 20):
        await buffer.append(results(start, 20))
    assert buffer.size <= cap
    kept = await drain(buffer)
    assert buffer.counters.dropped == 400 - len(kept)
    assert buffer.counters.dropped > 0
    # the newest are kept, in order, with nothing missing between them
    assert kept == [float(i) for i in range(400 - len(kept), 400)]
    assert read_state(tmp_path)["dropped"] == buffer.counters.dropped


async def test_a_restart_resumes_the_segments_and_the_counts(tmp_path: Path) -> None:
    first = Buffer(tmp_path, cap=16_000)
    await first.open()
    for start in range(0, 300, 20):
        await first.append(results(start, 20))
    first.counters.checks = 300
    dropped, buffered = first.counters.dropped, first.buffered
    await first.close()

    second = Buffer(tmp_path, cap=16_000)
    await second.open()
    assert second.buffered == buffered
    assert second.counters.dropped == dropped
    assert second.counters.checks == 300
    await second.append(results(300, 5))  # after the resumed ones, never before
    kept = await drain(second)
    assert kept == [float(i) for i in range(300 - buffered, 305)]


async def test_a_segment_is_deleted_only_once_its_push_is_accepted(tmp_path: Path) -> None:
    buffer = Buffer(tmp_path, cap=10_000_000, segment_bytes=2_000)
    await buffer.open()
    await buffer.append(results(0, 30))
    files = segment_files(tmp_path)
    batch = await buffer.oldest()
    assert batch is not None
    again = await buffer.oldest()  # the push failed: the same batch is offered again
    assert again is not None
    assert again.results == batch.results
    assert segment_files(tmp_path) == files
    await buffer.close()  # a crash before the answer: the next run sends it again
    resumed = Buffer(tmp_path, cap=10_000_000, segment_bytes=2_000)
    await resumed.open()
    after = await resumed.oldest()
    assert after is not None
    assert after.results == batch.results
    await resumed.accepted(after, len(after.results))
    assert segment_files(tmp_path) == files[1:]


async def test_a_discarded_batch_counts_as_dropped(tmp_path: Path) -> None:
    buffer = Buffer(tmp_path, cap=10_000_000)
    await buffer.open()
    await buffer.append(results(0, 7))
    batch = await buffer.oldest()
    assert batch is not None
    await buffer.discard(batch)
    assert (buffer.counters.dropped, buffer.counters.pushed, buffer.buffered) == (7, 0, 0)
    assert segment_files(tmp_path) == []


async def test_a_torn_last_line_is_dropped_once_and_the_rest_kept(tmp_path: Path) -> None:
    buffer = Buffer(tmp_path, cap=10_000_000)
    await buffer.open()
    await buffer.append(results(0, 3))
    await buffer.close()
    (name,) = segment_files(tmp_path)
    append_bytes(tmp_path / name, b'{"monitor": "api", "star')  # a write cut short by a crash
    resumed = Buffer(tmp_path, cap=10_000_000)
    await resumed.open()
    first = await resumed.oldest()
    second = await resumed.oldest()  # offered again (a failed push): not counted twice
    assert first is not None
    assert second is not None
    assert [r["started_at"] for r in second.results] == [0.0, 1.0, 2.0]
    assert resumed.counters.dropped == 1
