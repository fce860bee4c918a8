"""The store goes away under a running ``wk up`` (a private PostgreSQL, stopped mid-run):
checking goes on, and stopping is still prompt."""

from __future__ import annotations

import asyncio
import signal
from pathlib import Path

from tests.e2e.conftest import write
from tests.helpers.cli import Running
from tests.helpers.postgres import PrivatePostgres
from tests.helpers.web_app import ProbeTargetServer


def config_for(tmp_path: Path, store: str, web: ProbeTargetServer) -> Path:
    return write(
        tmp_path / "wk.yaml",
        f"""
storage: {store}
engine: {{flush_timeout: 2s}}
defaults: {{interval: 200ms, timeout: 190ms}}
monitors:
  - {{name: api, http: "{web.url("/health")}"}}
""",
    )


async def checks_done(running: Running) -> int:
    return int((await running.get("/api/v1/health"))["checks"])


async def test_checks_go_on_and_shutdown_is_prompt_while_the_store_is_down(
    tmp_path: Path, web: ProbeTargetServer, private_postgres: PrivatePostgres
) -> None:
    running = await Running("-c", str(config_for(tmp_path, private_postgres.url, web))).start()
    try:
        await asyncio.sleep(1)
        await checks_done(running)  # its token has been seen: it works on while the store is down
        await asyncio.to_thread(private_postgres.stop, "immediate")
        before = await checks_done(running)
        await asyncio.sleep(2)
        assert await checks_done(running) >= before + 5  # still checking on schedule
        monitor = await running.get("/api/v1/monitors/api")
        assert monitor["state"] == "up"  # (confirm 2: one check a loaded machine stalls is no
        # outage; whatever the last check saw, it was the target, never the store)
        assert monitor["last"]["ok"] or "timeout" in (monitor["last"]["error"] or "")
        started = asyncio.get_running_loop().time()
        code = await running.stop(timeout=30)
        took = asyncio.get_running_loop().time() - started
    finally:
        await running.kill()
    assert code == 0, running.stderr
    assert took < 15, f"stopping took {took:.1f}s with flush_timeout 2s"
    assert "could not be written (the store did not answer)" in running.stdout


async def test_a_second_signal_quits_at_once(
    tmp_path: Path, web: ProbeTargetServer, private_postgres: PrivatePostgres
) -> None:
    config = config_for(tmp_path, private_postgres.url, web)
    config.write_text(config.read_text().replace("flush_timeout: 2s", "flush_timeout: 1h"))
    running = await Running("-c", str(config)).start()
    try:
        await asyncio.sleep(0.5)
        await asyncio.to_thread(private_postgres.stop, "immediate")
        await asyncio.sleep(0.5)
        assert running.process is not None
        running.process.send_signal(signal.SIGTERM)
        await asyncio.sleep(1)
        assert running.process.returncode is None  # waiting for the store (for up to 1 h)
        code = await running.stop(timeout=10)  # the second signal
    finally:
        await running.kill()
    assert code == 130
    assert "quitting at once" in running.stdout
