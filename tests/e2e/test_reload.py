"""Live reload of a real ``wk up`` process: SIGHUP, ``wk reload`` and ``wk up --watch`` apply a
rewritten config file without a restart, and an invalid one leaves it running as it was."""

from __future__ import annotations

import asyncio
import inspect
import signal
import time
from pathlib import Path
from typing import Any

from tests.e2e.conftest import write
from tests.helpers.cli import Running, wk
from tests.helpers.web_app import ProbeTargetServer

from watchkeeper.cli.runfile import RunFiles


def config_text(web: ProbeTargetServer, *monitors: str) -> str:
    """``keep`` is checked once an hour: after its first check (soon after start, with the
    short start-up spread) any other check of it would come from the reload."""
    lines = "".join(
        f'  - {{name: {name}, http: "{web.url(f"/health?m={name}")}"{extra}}}\n'
        for name, extra in (
            {
                "keep": ("keep", ", interval: 1h, timeout: 5s"),
                "gone": ("gone", ""),
                "added": ("added", ""),
            }[m]
            for m in monitors
        )
    )
    return (
        "storage: sqlite:///wk.db\n"
        "engine: {startup_spread: 200ms}\n"
        "defaults: {interval: 200ms, timeout: 190ms, confirm: 1, recover: 1}\n"
        f"monitors:\n{lines}"
    )


def hits(web: ProbeTargetServer, name: str) -> int:
    return sum(1 for r in web.requests if r.path.endswith(f"?m={name}"))


async def until(check: Any, timeout: float = 30.0) -> Any:
    """Wait for ``check()`` (a value, or an awaitable of one) to be true."""
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        value = check()
        if inspect.isawaitable(value):
            value = await value
        if value:
            return value
        assert asyncio.get_running_loop().time() < deadline, "still not true"
        await asyncio.sleep(0.05)
    return value


async def monitors(running: Running) -> dict[str, Any]:
    return {m["name"]: m for m in (await running.get("/api/v1/monitors"))["items"]}


async def signalled_outcome(running: Running, env: dict[str, str], config: Path) -> dict[str, Any]:
    """Send SIGHUP and wait for what the reload it asked for did (as ``wk reload`` does)."""
    assert running.process is not None
    sent = time.time()
    running.process.send_signal(signal.SIGHUP)

    async def answer() -> dict[str, Any] | None:
        found = await asyncio.to_thread(_outcome, env, config)
        return found if found and found["started_at"] >= sent else None

    outcome: dict[str, Any] = await until(answer)
    return outcome


def run_files(env: dict[str, str], config: Path) -> RunFiles:
    return RunFiles(str(config), Path(env["XDG_STATE_HOME"]) / "watchkeeper" / "run")


def _outcome(env: dict[str, str], config: Path) -> dict[str, Any] | None:
    return run_files(env, config).outcome()


async def test_sighup_adds_removes_and_keeps_monitors_and_an_invalid_file_changes_nothing(
    tmp_path: Path, web: ProbeTargetServer
) -> None:
    env = {"XDG_STATE_HOME": str(tmp_path / "state")}
    config = write(tmp_path / "wk.yaml", config_text(web, "keep", "gone"))
    running = await Running("-c", str(config), env=env).start()
    try:
        await until(
            lambda: _ready(running, lambda m: m["keep"]["state"] == "up" and hits(web, "gone") > 2)
        )
        keep_since = (await monitors(running))["keep"]["since"]
        assert hits(web, "keep") == 1

        config.write_text(config_text(web, "added", "keep"))
        outcome = await signalled_outcome(running, env, config)
        assert outcome["ok"] and outcome["trigger"] == "SIGHUP"
        assert outcome["changes"]["monitors"]["added"] == ["added"]
        assert outcome["changes"]["monitors"]["removed"] == ["gone"]
        assert outcome["changes"]["monitors"]["changed"] == []
        gone = hits(web, "gone")
        await until(lambda: _ready(running, lambda m: "gone" not in m and m["added"]["last"]))
        await until(lambda: hits(web, "added") >= 5)
        assert hits(web, "gone") <= gone + 1, "a removed monitor stops (one may be in flight)"
        assert hits(web, "keep") == 1, "the unchanged monitor kept its hourly slot"
        assert (await monitors(running))["keep"]["since"] == keep_since

        config.write_text(config_text(web, "added", "keep") + "  - {name: bad, htp: x}\n")
        refused = await signalled_outcome(running, env, config)
        assert not refused["ok"]
        assert refused["errors"][0].startswith(f"{config}:7: monitor 'bad': ")
        assert set(await monitors(running)) == {"added", "keep"}
        assert (await running.get("/healthz"))["status"] == "ok"
    finally:
        code = await running.stop()
    assert code == 0, running.stderr
    assert "Traceback" not in running.stdout + running.stderr
    assert "reloaded wk.yaml (SIGHUP):" in running.stdout
    assert "monitors: +added, -gone" in running.stdout
    refusal = [line for line in running.stdout.splitlines() if "refused" in line]
    assert len(refusal) == 1 and f"{config}:7: monitor 'bad': " in refusal[0]
    assert not run_files(env, config).process_file.exists(), "withdrawn at the stop"


async def test_wk_reload_says_what_changed_or_why_not_and_watch_needs_no_asking(
    tmp_path: Path, web: ProbeTargetServer
) -> None:
    env = {"XDG_STATE_HOME": str(tmp_path / "state")}
    config = write(tmp_path / "wk.yaml", config_text(web, "keep"))
    nobody = await wk("reload", "-c", str(config), env=env)
    assert nobody.code == 1 and "no wk up is running" in nobody.stderr, nobody.stderr

    running = await Running("-c", str(config), env=env).start()
    try:
        config.write_text(config_text(web, "keep", "added"))
        done = await wk("reload", "-c", str(config), env=env)
        assert done.code == 0, done.stderr
        assert "reloaded wk.yaml (SIGHUP):" in done.stdout
        assert "monitors: +added" in done.stdout
        await until(lambda: _ready(running, lambda m: "added" in m))

        config.write_text(config_text(web, "keep") + "  - {name: added, http: 1}\n")
        refused = await wk("reload", "-c", str(config), "--json", env=env)
        assert refused.code == 2
        document = refused.json()
        assert document["ok"] is False
        assert document["errors"][0].startswith(f"{config}:6: monitor 'added': ")
        assert "added" in await monitors(running), "the running config stays"
    finally:
        assert await running.stop() == 0, running.stderr

    config.write_text(config_text(web, "keep"))
    watching = await Running("-c", str(config), "--watch", env=env).start()
    try:
        await until(lambda: _ready(watching, lambda m: set(m) == {"keep"}))
        config.write_text(config_text(web, "keep", "added"))
        await until(lambda: _ready(watching, lambda m: "added" in m))
    finally:
        assert await watching.stop() == 0, watching.stderr
    assert "reloaded wk.yaml (file changed):" in watching.stdout


async def _ready(running: Running, predicate: Any) -> bool:
    return bool(predicate(await monitors(running)))
