"""``wk chaos run`` against a real app: an aiohttp service (``redis_app.py``) that the
experiment starts and that reads the machine's Redis through the fault proxy (served by this
test's event loop). The hypothesis breaks as designed when Redis is made slow under an app
that waits for it, and holds when the app has a timeout and a fallback; a stopped process is
detected and comes back; Ctrl-C and ``kill -9`` both end with every fault rolled back."""

from __future__ import annotations

import asyncio
import contextlib
import json
import signal
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import psutil
import pytest
import yaml
from tests.helpers.cli import WK, wk
from tests.helpers.ports import free_port
from tests.helpers.receivers import HookReceiver

from watchkeeper.chaos.api import ChaosServer

APP = Path(__file__).with_name("redis_app.py")


def _config(tmp_path: Path, app_port: int, hook: HookReceiver, **extra: Any) -> Path:
    config = {
        "storage": f"sqlite:///{tmp_path / 'wk.db'}",
        "engine": {"startup_spread": "0s"},
        "notify": [{"name": "ops", "webhook": hook.url(), "group_wait": "1s"}],
        "monitors": [
            {
                "name": "api",
                "http": f"http://127.0.0.1:{app_port}/",
                "interval": "1s",
                "timeout": "800ms",
                "expect": ["status == 200"],
                "notify": ["ops"],
            }
        ],
        "slos": [{"name": "api-slo", "monitor": "api", "objective": "99%"}],
        **extra,
    }
    path = tmp_path / "watchkeeper.yaml"
    path.write_text(yaml.safe_dump(config, sort_keys=False))
    return path


def _experiment(
    chaos: ChaosServer, app_port: int, proxy_port: int, mode: str, **extra: Any
) -> dict[str, Any]:
    experiment = {
        "name": f"redis-slow-{mode}",
        "description": "Redis answers 1.5 s late",
        "proxy_api": chaos.url,
        "proxies": [
            {"name": "redis", "listen": f"127.0.0.1:{proxy_port}", "upstream": "127.0.0.1:6379"}
        ],
        "processes": [
            {
                "name": "app",
                "command": [sys.executable, str(APP), str(app_port), str(proxy_port)],
                "ready": f"127.0.0.1:{app_port}",
                "env": {"MODE": mode},
            }
        ],
        "steady_state": {
            "monitors": ["api"],
            "slos": ["api-slo"],
            "expect": {"api": ["latency < 600ms"]},
        },
        "method": [
            {
                "toxic": {"proxy": "redis", "type": "latency", "attributes": {"latency": 1500}},
                "duration": "4s",
            }
        ],
        "fail_fast": [{"monitor": "api", "latency": "600ms", "recover_within": "5s"}],
        "interval": "1s",  # the SLO's too (30 s of its own)
        "after": "3s",
    }
    experiment.update(extra)
    return experiment


def _long_plan(tmp_path: Path, chaos: ChaosServer, app_port: int, proxy_port: int) -> Path:
    """An experiment whose fault lasts ten minutes: it is still on when the test acts."""
    experiment = _experiment(chaos, app_port, proxy_port, "plain")
    experiment["method"][0]["duration"] = "10m"
    plan = tmp_path / "experiment.yaml"
    plan.write_text(yaml.safe_dump(experiment))
    return plan


@contextlib.asynccontextmanager
async def _started(*args: str, output: int) -> AsyncIterator[asyncio.subprocess.Process]:
    """``wk chaos run ARGS`` in the background, killed if the test leaves it running."""
    process = await asyncio.create_subprocess_exec(
        *WK, "chaos", "run", *args, stdout=output, stderr=output
    )
    try:
        yield process
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()


def _port_open(port: int) -> bool:
    return any(
        c.laddr and c.laddr.port == port and c.status == psutil.CONN_LISTEN
        for c in psutil.net_connections("tcp")
    )


async def _toxics(chaos: ChaosServer) -> list[str]:
    return [t.name for p in chaos.proxies.all() for t in p.toxics.values()]


async def test_latency_breaks_the_steady_state_of_an_app_that_waits_for_redis(
    tmp_path: Path, chaos: ChaosServer
) -> None:
    app_port, proxy_port = free_port(), free_port()
    async with HookReceiver() as hook:
        config = _config(tmp_path, app_port, hook)
        plan = tmp_path / "experiment.yaml"
        plan.write_text(yaml.safe_dump(_experiment(chaos, app_port, proxy_port, "plain")))
        done = await wk("chaos", "run", str(plan), "-c", str(config), "--format", "json")
        assert done.code == 1, done.stderr
        found = json.loads(done.stdout)
        assert found["steady_state_before"] is True
        assert found["held"] is False
        api = found["monitors"]["api"]
        assert api["phases"]["before"]["failed"] == 0
        assert api["phases"]["during"]["failed"] >= 2  # confirm: 2 took it down
        # detected after the first failed check was seen, within the fault's 4 s
        assert 0 < api["first_failure_after"] <= api["detected_after"] < 4.0
        assert api["recovered_after"] is not None and api["state_at_end"] == "up"
        assert any(d.startswith("api went down") for d in found["deviations"])
        # the SLO burns: 1 % budget, and a share of the checks failing
        assert any(
            d.startswith("api-slo: slo.burn_5m < 14.4 failed") for d in found["deviations"]
        ), found["deviations"]
        breaker = found["fail_fast"][0]
        assert breaker["fails_fast"] is False and breaker["latency_max_ms"] > 600
        # the dry run: the DOWN would have gone to ops, and nothing reached the webhook
        firing = [n for n in found["notifications"] if n["event"] == "firing"]
        assert firing and firing[0]["route"] == "ops" and firing[0]["dry_run"] is True
        assert "api" in firing[0]["monitors"]
        assert firing[0]["after_run"] or firing[0]["at"] >= api["detected_after"]
        assert hook.requests == []
        assert [f["rule"] for f in found["findings"]][:1] == ["steady-state-broken"]
    # everything rolled back: no toxic, the experiment's proxy removed, the app stopped
    assert await _toxics(chaos) == []
    assert [p.name for p in chaos.proxies.all()] == []
    assert not _port_open(app_port)
    assert not (tmp_path / ".watchkeeper-chaos.json").exists()


async def test_a_timeout_and_fallback_hold_the_steady_state_from_the_configs_experiments(
    tmp_path: Path, chaos: ChaosServer
) -> None:
    app_port, proxy_port = free_port(), free_port()
    async with HookReceiver() as hook:
        experiment = _experiment(chaos, app_port, proxy_port, "fallback")
        config = _config(tmp_path, app_port, hook, experiments=[experiment])
        done = await wk("chaos", "run", "redis-slow-fallback", "-c", str(config))
        assert done.code == 0, done.stdout + done.stderr
        assert "the steady state HELD" in done.stdout
        assert "circuit breaker api: held" in done.stdout
        assert "no notification would have gone out" in done.stdout
        assert "injecting: latency (latency=1500) on proxy redis" in done.stderr
        done = await wk(
            "chaos", "run", "redis-slow-fallback", "-c", str(config), "--format", "json"
        )
        found = json.loads(done.stdout)
        assert found["held"] is True, found["deviations"]
        during = found["monitors"]["api"]["phases"]["during"]
        assert during["checks"] >= 3 and during["failed"] == 0
        assert found["monitors"]["api-slo"]["phases"]["during"]["checks"] >= 3
        breaker = found["fail_fast"][0]
        assert breaker["ok"] and breaker["latency_max_ms"] < 600
        # the fallback answered within its budget while Redis was 1.5 s late
        assert during["latency_max_ms"] >= 200
        assert found["notifications"] == [] and hook.requests == []
    assert await _toxics(chaos) == [] and chaos.proxies.all() == []


async def test_a_stopped_process_is_detected_notified_with_send_and_restarted(
    tmp_path: Path, chaos: ChaosServer
) -> None:
    app_port, proxy_port = free_port(), free_port()
    async with HookReceiver() as hook:
        config = _config(tmp_path, app_port, hook)
        experiment = _experiment(
            chaos,
            app_port,
            proxy_port,
            "plain",
            method=[{"stop": "app", "duration": "4s"}],
            fail_fast=[],
            after="4s",
        )
        experiment["steady_state"] = {"monitors": ["api"]}
        plan = tmp_path / "experiment.yaml"
        plan.write_text(yaml.safe_dump(experiment))
        done = await wk("chaos", "run", str(plan), "-c", str(config), "--send", "--format", "json")
        assert done.code == 1, done.stderr
        found = json.loads(done.stdout)
        api = found["monitors"]["api"]
        assert "connect" in (api["changes"][1]["reason"] or ""), api["changes"]
        assert api["detected_after"] is not None and api["state_at_end"] == "up"
        assert api["recovered_after"] is not None
        sent = [n for n in found["notifications"] if not n["dry_run"]]
        assert {n["event"] for n in sent} >= {"firing"}
        # --send: the route's real webhook got the DOWN
        received = await hook.wait(lambda r: len(r) >= 1)
        assert received[0].json()["alerts"][0]["monitor"] == "api"
    assert not _port_open(app_port)


async def test_ctrl_c_rolls_every_fault_back(tmp_path: Path, chaos: ChaosServer) -> None:
    app_port, proxy_port = free_port(), free_port()
    async with HookReceiver() as hook:
        config = _config(tmp_path, app_port, hook)
        plan = _long_plan(tmp_path, chaos, app_port, proxy_port)
        args = (str(plan), "-c", str(config), "--format", "json")
        async with _started(*args, output=asyncio.subprocess.PIPE) as process:
            await _until(lambda: _toxics_now(chaos) != [])
            assert _port_open(app_port)
            process.send_signal(signal.SIGINT)
            out, err = await asyncio.wait_for(process.communicate(), 60)
        assert process.returncode == 130, err.decode()
        found = json.loads(out)
        assert found["interrupted"] is True and found["held"] is False
        assert found["steps"][0]["ended_at"] is not None
    assert await _toxics(chaos) == [] and chaos.proxies.all() == []
    assert not _port_open(app_port)
    assert not (tmp_path / ".watchkeeper-chaos.json").exists()


def _toxics_now(chaos: ChaosServer) -> list[str]:
    return [t.name for p in chaos.proxies.all() for t in p.toxics.values()]


async def _until(condition: Any, timeout: float = 60.0) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not condition():
        assert loop.time() < deadline, "timed out waiting"
        await asyncio.sleep(0.1)


async def test_a_killed_run_is_rolled_back_from_its_journal(
    tmp_path: Path, chaos: ChaosServer
) -> None:
    app_port, proxy_port = free_port(), free_port()
    async with HookReceiver() as hook:
        config = _config(tmp_path, app_port, hook)
        plan = _long_plan(tmp_path, chaos, app_port, proxy_port)
        async with _started(
            str(plan), "-c", str(config), output=asyncio.subprocess.DEVNULL
        ) as process:
            await _until(lambda: _toxics_now(chaos) != [])
            # while it runs, a second run is refused: one experiment per journal
            second = await wk("chaos", "run", str(plan), "-c", str(config))
            assert second.code == 2 and "is running (pid" in second.stderr, second.stderr
            process.kill()  # SIGKILL: no finally runs
            await process.wait()
        journal = json.loads((tmp_path / ".watchkeeper-chaos.json").read_text())
        app_pid = next(f["pid"] for f in journal["faults"] if f["kind"] == "process")
        assert _toxics_now(chaos) != [] and psutil.pid_exists(app_pid)  # left behind

        done = await wk("chaos", "rollback", "-c", str(config))
        assert done.code == 0, done.stderr
        assert "removed toxic wk-chaos-latency-downstream from proxy redis" in done.stdout
        assert "removed proxy redis" in done.stdout
        assert f"stopped process app (pid {app_pid})" in done.stdout
    assert _toxics_now(chaos) == [] and chaos.proxies.all() == []
    assert not psutil.pid_exists(app_pid) or psutil.Process(app_pid).status() == "zombie"
    assert not (tmp_path / ".watchkeeper-chaos.json").exists()
    again = await wk("chaos", "rollback", "-c", str(config))
    assert again.code == 0 and "nothing to roll back" in again.stdout


async def test_no_fault_goes_in_when_the_steady_state_does_not_hold_before(
    tmp_path: Path, chaos: ChaosServer
) -> None:
    app_port, proxy_port = free_port(), free_port()
    async with HookReceiver() as hook:
        config = _config(tmp_path, app_port, hook)
        experiment = _experiment(chaos, app_port, proxy_port, "plain", before="3s")
        experiment["processes"] = []  # nothing listens on the app's port
        plan = tmp_path / "experiment.yaml"
        plan.write_text(yaml.safe_dump(experiment))
        seen: list[list[str]] = []

        async def watch() -> None:
            while True:
                seen.append(_toxics_now(chaos))
                await asyncio.sleep(0.05)

        watcher = asyncio.create_task(watch())
        try:
            done = await wk("chaos", "run", str(plan), "-c", str(config))
        finally:
            watcher.cancel()
        assert done.code == 1, done.stderr
        assert "did not hold before; nothing was injected" in done.stdout
        assert "not steady before: api is" in done.stdout
        assert all(t == [] for t in seen) and seen
    assert chaos.proxies.all() == []


@pytest.mark.parametrize(
    ("change", "said"),
    [
        (
            {"steady_state": {"monitors": ["apj"]}},
            "experiment.yaml:{line}: monitor 'apj' is not defined (did you mean 'api'?)",
        ),
        (
            {"method": [{"stop": "worker", "duration": "1s"}]},
            "experiment.yaml:{line}: method[0]: stop 'worker' is not one of the experiment's",
        ),
        (
            {"method": [{"toxic": {"proxy": "redis", "type": "latency",
                                    "attributes": {"latency": -5}}, "duration": "1s"}]},
            "latency attribute latency=-5 is out of range",
        ),
    ],
)  # fmt: skip
async def test_bad_experiments_are_one_line_each(
    tmp_path: Path, chaos: ChaosServer, change: dict[str, Any], said: str
) -> None:
    app_port = free_port()
    async with HookReceiver() as hook:
        config = _config(tmp_path, app_port, hook)
        experiment = _experiment(chaos, app_port, free_port(), "plain")
        experiment.update(change)
        plan = tmp_path / "experiment.yaml"
        plan.write_text(yaml.safe_dump(experiment, sort_keys=False))
        done = await wk("chaos", "run", str(plan), "-c", str(config))
    assert done.code == 2
    assert "Traceback" not in done.stderr
    lines = [line for line in done.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, done.stderr
    text = plan.read_text().splitlines()
    key = next(k for k in change)
    line = next(i for i, t in enumerate(text, 1) if t.startswith(f"{key}:"))
    assert said.split("{line}")[-1] in lines[0]
    if "{line}" in said:
        number = int(lines[0].split(":")[1])
        assert line <= number <= line + 3, (lines[0], line)
    assert chaos.proxies.all() == []


async def test_an_unreachable_proxy_api_is_one_line(tmp_path: Path, chaos: ChaosServer) -> None:
    app_port, proxy_port = free_port(), free_port()
    async with HookReceiver() as hook:
        config = _config(tmp_path, app_port, hook)
        experiment = _experiment(chaos, app_port, proxy_port, "plain")
        experiment["proxy_api"] = f"http://127.0.0.1:{free_port()}"
        plan = tmp_path / "experiment.yaml"
        plan.write_text(yaml.safe_dump(experiment))
        done = await wk("chaos", "run", str(plan), "-c", str(config))
    assert done.code == 2, done.stdout + done.stderr
    assert "could not run: fault proxy API http://127.0.0.1:" in done.stdout
    assert "Traceback" not in done.stderr
    assert not _port_open(app_port)  # the app it had started is stopped again


async def test_the_proxy_api_answers_what_the_experiment_uses(chaos: ChaosServer) -> None:
    """The experiment's client speaks the API as Toxiproxy's own clients do (they are the
    oracle in test_api.py / test_node_client.py): create, add, remove, delete."""
    from watchkeeper.chaos.client import ToxiproxyClient

    async with ToxiproxyClient(chaos.url) as client, aiohttp.ClientSession() as session:
        listen = f"127.0.0.1:{free_port()}"
        await client.create_proxy("db", listen, "127.0.0.1:5432")
        await client.add_toxic("db", {"name": "slow", "type": "latency",
                                      "attributes": {"latency": 10}})  # fmt: skip
        async with session.get(f"{chaos.url}/proxies/db/toxics") as response:
            assert [t["name"] for t in await response.json()] == ["slow"]
        assert await client.remove_toxic("db", "slow") is True
        assert await client.remove_toxic("db", "slow") is False
        await client.delete_proxy("db")
        assert await client.proxies() == {}
