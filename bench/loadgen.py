"""Load generator speed: requests per second from one generator core against Debian's nginx
(one worker, on the other core) on loopback — Watchkeeper against Locust FastHttpUser and
wrk, same connections and duration, in one run. And with ``--soak``: the generator's RSS over
a long open-model run (default 10 minutes at 5,000 req/s) must stay flat.

    python bench/loadgen.py [--connections 50] [--seconds 10] [--rounds 3]
    python bench/loadgen.py --soak [--soak-seconds 600] [--soak-rate 5000]

Locust is installed into bench/out/locust-venv on first use (it is not a project dependency).
Target: Watchkeeper ≥ 3× Locust; the ratio to wrk is reported.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
OUT = HERE / "out"
NGINX_CONF = """
worker_processes 1;
daemon off;
error_log {folder}/error.log warn;
pid {folder}/nginx.pid;
events {{ worker_connections 4096; }}
http {{
  access_log off;
  keepalive_requests 10000000;
  server {{
    listen 127.0.0.1:{port} backlog=4096;
    location / {{ return 200 "ok\\n"; }}
  }}
}}
"""


def free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def start_nginx(folder: Path, port: int) -> subprocess.Popen[bytes]:
    conf = folder / "nginx.conf"
    conf.write_text(NGINX_CONF.format(folder=folder, port=port))
    process = subprocess.Popen(
        ["taskset", "-c", "1", "nginx", "-c", str(conf), "-p", str(folder)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    for _ in range(50):
        try:
            import urllib.request

            urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=1).read()
            return process
        except OSError:
            time.sleep(0.1)
    raise RuntimeError("nginx did not start")


def watchkeeper(port: int, connections: int, seconds: int) -> float:
    """Closed model, one worker pinned to core 0 (the same shape as wrk -t1 and Locust)."""
    code = textwrap.dedent(
        f"""
        import os, uvloop, json
        os.sched_setaffinity(0, {{0}})
        from watchkeeper.loadtest.generator import Generator, Settings
        from watchkeeper.loadtest.target import from_url
        async def main():
            target = from_url("http://127.0.0.1:{port}/")
            g = Generator(target, Settings(connections={connections}))
            t = await g.run_closed({connections}, {seconds})
            rps = t.completed / t.wall_seconds
            print(json.dumps({{"rps": rps, "errors": sum(t.errors.values())}}))
        uvloop.run(main())
        """
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return float(json.loads(out.stdout.strip().splitlines()[-1])["rps"])


def wrk(port: int, connections: int, seconds: int) -> float:
    out = subprocess.run(
        ["taskset", "-c", "0", "wrk", "-t1", f"-c{connections}", f"-d{seconds}s",
         f"http://127.0.0.1:{port}/"],
        capture_output=True, text=True, check=True,
    ).stdout  # fmt: skip
    found = re.search(r"Requests/sec:\s+([\d.]+)", out)
    assert found, out
    return float(found.group(1))


def locust_python() -> Path:
    venv = OUT / "locust-venv"
    python = venv / "bin" / "python"
    if not python.exists():
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
        subprocess.run([str(python), "-m", "pip", "install", "-q", "locust"], check=True)
    return python


def locust(port: int, connections: int, seconds: int, folder: Path) -> float:
    script = folder / "locustfile.py"
    script.write_text(
        textwrap.dedent(
            """
            from locust import FastHttpUser, constant, task

            class Probe(FastHttpUser):
                wait_time = constant(0)

                @task
                def root(self):
                    self.client.get("/")
            """
        )
    )
    python = locust_python()
    prefix = folder / "locust"
    subprocess.run(
        ["taskset", "-c", "0", str(python), "-m", "locust", "-f", str(script), "--headless",
         "-u", str(connections), "-r", str(connections), "-t", f"{seconds}s",
         "--host", f"http://127.0.0.1:{port}", "--csv", str(prefix), "--only-summary"],
        capture_output=True, text=True, check=True,
    )  # fmt: skip
    lines = (folder / "locust_stats.csv").read_text().splitlines()
    header = lines[0].split(",")
    for line in lines[1:]:
        row = dict(zip(header, line.split(","), strict=False))
        if row.get("Name") == "Aggregated":
            # the ramp-up is instant (-r = -u); requests over the whole run
            return float(row["Requests/s"])
    raise RuntimeError("no Aggregated row in Locust's stats")


def speed(args: argparse.Namespace) -> dict[str, object]:
    if not shutil.which("nginx") or not shutil.which("wrk"):
        raise SystemExit("needs Debian's nginx and wrk: apt-get install nginx-light wrk")
    folder = Path(tempfile.mkdtemp(prefix="wk-loadgen-"))
    port = free_port()
    server = start_nginx(folder, port)
    figures: dict[str, list[float]] = {"watchkeeper": [], "locust": [], "wrk": []}
    try:
        for _ in range(args.rounds):  # alternate, so drift on a shared machine hits all alike
            figures["watchkeeper"].append(watchkeeper(port, args.connections, args.seconds))
            figures["locust"].append(locust(port, args.connections, args.seconds, folder))
            figures["wrk"].append(wrk(port, args.connections, args.seconds))
    finally:
        server.terminate()
        server.wait(5)
    median = {name: statistics.median(values) for name, values in figures.items()}
    return {
        "connections": args.connections,
        "seconds": args.seconds,
        "rounds": args.rounds,
        "rps": {name: [round(v) for v in values] for name, values in figures.items()},
        "median_rps": {name: round(v) for name, v in median.items()},
        "watchkeeper_vs_locust": round(median["watchkeeper"] / median["locust"], 2),
        "watchkeeper_vs_wrk": round(median["watchkeeper"] / median["wrk"], 3),
        "target_vs_locust": 3.0,
    }


def soak(args: argparse.Namespace) -> dict[str, object]:
    """An open-model run at a steady rate, sampling the generator's RSS every 10 s."""
    folder = Path(tempfile.mkdtemp(prefix="wk-soak-"))
    port = free_port()
    server = start_nginx(folder, port)
    code = textwrap.dedent(
        f"""
        import asyncio, json, os, resource, sys, uvloop, psutil
        os.sched_setaffinity(0, {{0}})
        from watchkeeper.loadtest.generator import Generator, Settings
        from watchkeeper.loadtest.plan import constant
        from watchkeeper.loadtest.target import from_url
        process = psutil.Process()
        samples = []
        async def sample():
            while True:
                samples.append(process.memory_info().rss)
                await asyncio.sleep(10)
        async def main():
            task = asyncio.get_running_loop().create_task(sample())
            g = Generator(from_url("http://127.0.0.1:{port}/"), Settings(connections=64))
            t = await g.run_open(constant({args.soak_rate}, {args.soak_seconds}))
            task.cancel()
            print(json.dumps({{"rss": samples, "completed": t.completed,
                               "errors": sum(t.errors.values()), "late": t.late}}))
        uvloop.run(main())
        """
    )
    try:
        out = subprocess.run(
            [sys.executable, "-c", code], capture_output=True, text=True, check=True
        ).stdout
    finally:
        server.terminate()
        server.wait(5)
    result = json.loads(out.strip().splitlines()[-1])
    rss = [r / 2**20 for r in result["rss"]]
    after_warmup = rss[len(rss) // 10 :] or rss  # the first minute fills pools and caches
    return {
        "seconds": args.soak_seconds,
        "rate": args.soak_rate,
        "completed": result["completed"],
        "errors": result["errors"],
        "late": result["late"],
        "rss_mb_first": round(rss[0], 1),
        "rss_mb_after_warmup": round(after_warmup[0], 1),
        "rss_mb_last": round(rss[-1], 1),
        "rss_mb_max": round(max(rss), 1),
        "growth_after_warmup_mb": round(after_warmup[-1] - after_warmup[0], 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--connections", type=int, default=50)
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--soak", action="store_true")
    parser.add_argument("--soak-seconds", type=int, default=600)
    parser.add_argument("--soak-rate", type=int, default=5000)
    args = parser.parse_args()
    OUT.mkdir(exist_ok=True)
    if os.cpu_count() and os.cpu_count() < 2:  # type: ignore[operator]
        print("note: one core only: the target and the generator share it")
    print(json.dumps(soak(args) if args.soak else speed(args), indent=2))


if __name__ == "__main__":
    main()
