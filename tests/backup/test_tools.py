"""The restore tools' pipeline: real processes chained by pipes, killed at the limit, and
the line that says which one failed and why."""

from __future__ import annotations

from pathlib import Path

import pytest

from watchkeeper.backup import tools


async def test_a_pipeline_passes_data_between_tools_and_keeps_the_tail(tmp_path: Path) -> None:
    source = tmp_path / "lines"
    source.write_text("".join(f"line {i}\n" for i in range(100_000)))
    run = await tools.pipeline(
        [["cat", "--", str(source)], ["grep", "-c", "line"]], limit=30, capture=True
    )
    assert run.ok and run.stdout.strip() == b"100000"


async def test_the_tool_that_stopped_reading_is_blamed_not_the_one_it_cut_off(
    tmp_path: Path,
) -> None:
    """psql stops at an error; sed, still writing to it, dies of SIGPIPE. The line names
    psql and what it said."""
    source = tmp_path / "big"
    source.write_bytes(b"x" * (4 * 1024 * 1024))
    run = await tools.pipeline(
        [["cat", "--", str(source)], ["sh", "-c", "echo 'ERROR: no such table' >&2; exit 3"]],
        limit=30,
    )
    assert not run.ok
    assert run.outcomes[0].code == -13  # cat: SIGPIPE
    assert run.failure() == "sh exited with 3: ERROR: no such table"


async def test_a_tool_past_the_limit_is_killed_with_its_session() -> None:
    run = await tools.pipeline([["sh", "-c", "sleep 30 & sleep 30; wait"]], limit=0.5)
    assert run.timed_out and run.failure() == "timed out after 1s (sh)"
    assert run.outcomes[0].code is None


async def test_a_missing_tool_is_one_line() -> None:
    with pytest.raises(tools.ToolMissing, match="nonexistent_tool is not installed"):
        await tools.pipeline([["nonexistent_tool"]], limit=5)
