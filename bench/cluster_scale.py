"""Cluster scale: N http monitors at a 60 s interval held by two ``wk up`` nodes sharing a
PostgreSQL store (two thirds: ``locations: [local]``) and one ``wk agent`` (a third:
``locations: [probe]``), against a local target, all on this machine. Prints each process's
scheduling lag (p99), CPU, RSS, checks per second and per core, and PostgreSQL's rows/s
and CPU over a steady window after every monitor has run.

    python bench/cluster_scale.py [--monitors 40000] [--interval 60] [--seconds 180]

Target: lag p99 < 1 s on every process at 40,000 monitors. Uses a throw-away database on
the machine's PostgreSQL (127.0.0.1:5432, trust auth).
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path
from typing import Any

import psutil
import psycopg

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _support import free_port, target_server

ADMIN = "host=127.0.0.1 port=5432 user=postgres dbname=postgres"
WK = [sys.executable, "-m", "watchkeeper"]


def _config(path: Path, database: str, node: str, port: int, monitors: int, interval: int) -> None:
    lines = [
        f"storage: postgresql://postgres@127.0.0.1:5432/{database}",
        f"engine: {{startup_spread: {interval}s, concurrency: 2000, per_host: 2000}}",
        f"cluster: {{enabled: true, name: {node}, beat: 3s, ttl: 10s}}",
        f"defaults: {{interval: {interval}s, timeout: 10s}}",
        "monitors:",
    ]
    # each monitor is checked from one place: a third of them by the agent alone
    lines += [
        f"  - {{name: svc-{i:05d}, http: 'http://127.0.0.1:{port}/health?m={i}',"
        f" expect: ['status == 200'], locations: [{'probe' if i % 3 == 0 else 'local'}]}}"
        for i in range(monitors)
    ]
    path.write_text("\n".join(lines) + "\n")


def _wk(*args: str, cwd: Path, ok: tuple[int, ...] = (0,)) -> str:
    done = subprocess.run([*WK, *args], cwd=cwd, capture_output=True, text=True, timeout=300)
    if done.returncode not in ok:
        raise SystemExit(f"wk {' '.join(args)}: {done.stderr.strip()}")
    return done.stdout


def _get(url: str, token: str) -> str:
    request = urllib.request.Request(url, headers={"Authorization": f"Bearer {token}"})
    with urllib.request.urlopen(request, timeout=30) as response:
        return str(response.read().decode())


def _health(port: int, token: str) -> dict[str, Any]:
    found: dict[str, Any] = json.loads(_get(f"http://127.0.0.1:{port}/api/v1/health", token))
    return found


def _cpu(processes: list[psutil.Process]) -> float:
    total = 0.0
    for process in processes:
        try:
            times = process.cpu_times()
            total += times.user + times.system
            for child in process.children(recursive=True):
                ctimes = child.cpu_times()
                total += ctimes.user + ctimes.system
        except psutil.Error:
            pass
    return total


def _postgres() -> list[psutil.Process]:
    return [p for p in psutil.process_iter(["name"]) if p.info["name"] in ("postgres",)]


def _inserted(database: str) -> int:
    with psycopg.connect(f"{ADMIN.replace('dbname=postgres', f'dbname={database}')}") as c:
        row = c.execute(
            "select coalesce(sum(n_tup_ins + n_tup_upd), 0) from pg_stat_user_tables"
        ).fetchone()
    return int(row[0]) if row else 0


def run(monitors: int, interval: int, seconds: float) -> dict[str, Any]:
    database = f"wk_scale_{secrets.token_hex(4)}"
    with psycopg.connect(ADMIN, autocommit=True) as admin:
        admin.execute(f"create database {database}")
    folder = Path(tempfile.mkdtemp(prefix="wk-cluster-scale-"))
    processes: dict[str, subprocess.Popen[bytes]] = {}
    try:
        with target_server(cpu=1) as target:
            ports = {"a": free_port(), "b": free_port()}
            for node in ports:
                _config(folder / f"{node}.yaml", database, node, target, monitors, interval)
            _wk("validate", "-c", "a.yaml", cwd=folder)
            token = json.loads(
                _wk("token", "create", "--scope", "read", "--json", "-c", "a.yaml", cwd=folder)
            )["token"]
            agent_token = json.loads(
                _wk("token", "create", "--scope", "agent", "--location", "probe", "--json",
                    "-c", "a.yaml", cwd=folder)
            )["token"]  # fmt: skip
            log = {name: open(folder / f"{name}.log", "wb") for name in ("a", "b", "agent")}  # noqa: SIM115
            for node, port in ports.items():
                processes[node] = subprocess.Popen(
                    [*WK, "up", "-c", f"{node}.yaml", "--listen", f"127.0.0.1:{port}"],
                    cwd=folder, stdout=log[node], stderr=subprocess.STDOUT,
                )  # fmt: skip
            deadline = time.time() + 120
            while time.time() < deadline:
                try:
                    _get(f"http://127.0.0.1:{ports['a']}/healthz", token)
                    _get(f"http://127.0.0.1:{ports['b']}/healthz", token)
                    break
                except OSError:
                    time.sleep(1)
            processes["agent"] = subprocess.Popen(
                [*WK, "agent", "--server", f"http://127.0.0.1:{ports['a']}", "--token",
                 agent_token, "--location", "probe", "--buffer", str(folder / "buffer"),
                 "--concurrency", "2000", "--per-host", "2000"],
                cwd=folder, stdout=log["agent"], stderr=subprocess.STDOUT,
            )  # fmt: skip
            # every monitor runs once within the start-up spread; then measure steady state
            time.sleep(interval * 1.5 + 15)
            watched = {name: psutil.Process(p.pid) for name, p in processes.items()}
            pg = _postgres()
            cpu0 = {name: _cpu([p]) for name, p in watched.items()}
            pg0, rows0 = _cpu(pg), _inserted(database)
            checks0 = {n: _health(port, token)["checks"] for n, port in ports.items()}
            began = time.time()
            time.sleep(seconds)
            wall = time.time() - began
            cpu1 = {name: _cpu([p]) for name, p in watched.items()}
            pg1, rows1 = _cpu(pg), _inserted(database)
            health = {n: _health(port, token) for n, port in ports.items()}
            checks = {n: health[n]["checks"] - checks0[n] for n in ports}
            agents = json.loads(_get(f"http://127.0.0.1:{ports['a']}/api/v1/agents", token))
            agent = agents["agents"][0] if agents["agents"] else {}
            rss = {name: round(p.memory_info().rss / 2**20) for name, p in watched.items()}
            # exit 1: a node holding leases has not beaten within the ttl (shown below)
            nodes = json.loads(_wk("nodes", "--json", "-c", "a.yaml", cwd=folder, ok=(0, 1)))[
                "nodes"
            ]
        expected = monitors / interval
        agent_rate = len(range(0, monitors, 3)) / interval
        figures: dict[str, Any] = {
            "monitors": monitors,
            "interval_s": interval,
            "window_s": round(wall, 1),
            "node_leases": sorted(n["leases"] for n in nodes),
            "node_heartbeat_ago_s": sorted(n["heartbeat_ago_s"] for n in nodes),
            "node_live": [n["live"] for n in nodes],
            "node_checks_per_s": round(sum(checks.values()) / wall, 1),
            "expected_checks_per_s": round(expected, 1),
            "expected_node_checks_per_s": round(expected - agent_rate, 1),
            "expected_agent_checks_per_s": round(agent_rate, 1),
            "lag_p99_s_last_minute": {
                n: (health[n]["lag_p99_ms_last_minute"] or 0) / 1000 for n in ports
            }
            | {"agent": agent.get("lag_p99_s")},
            "writer_queue": {n: health[n]["writer_queue"] for n in ports},
            "cpu_cores": {n: round((cpu1[n] - cpu0[n]) / wall, 3) for n in cpu0},
            "rss_mb": rss,
            "postgres_cpu_cores": round((pg1 - pg0) / wall, 3),
            "postgres_rows_per_s": round((rows1 - rows0) / wall, 1),
            "agent_dropped": agent.get("dropped"),
            "agent_buffered": agent.get("buffered"),
        }
        node_cpu = sum(figures["cpu_cores"][n] for n in ports)
        figures["node_checks_per_core_s"] = round(sum(checks.values()) / wall / max(node_cpu, 1e-6))
        figures["agent_checks_per_core_s"] = round(
            agent_rate / max(figures["cpu_cores"]["agent"], 1e-6)
        )
        return figures
    finally:
        for process in processes.values():
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
        for process in processes.values():
            try:
                process.wait(60)
            except subprocess.TimeoutExpired:
                process.kill()
        with psycopg.connect(ADMIN, autocommit=True) as admin:
            admin.execute(f"drop database if exists {database} with (force)")
        if os.environ.get("WK_BENCH_KEEP") is None:
            import shutil

            shutil.rmtree(folder, ignore_errors=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--monitors", type=int, default=40_000)
    parser.add_argument("--interval", type=int, default=60)
    parser.add_argument("--seconds", type=float, default=180)
    args = parser.parse_args()
    figures = run(args.monitors, args.interval, args.seconds)
    for key, value in figures.items():
        print(f"{key:>34}: {value}")


if __name__ == "__main__":
    main()
