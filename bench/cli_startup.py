"""How long ``wk`` takes to start: ``--help``, ``validate``, ``status`` and ``check`` as whole
processes, against a bare ``python -c pass`` measured in the same rounds (the ratio is the
figure; absolute times depend on the machine and its load).

    python bench/cli_startup.py [--rounds 15]

Each round runs every command once, in turn, so a change in the machine's load touches them
all alike; the medians of wall and CPU time (the child's user + system) are printed. The
config has a monitor of the common kinds and a webhook route; the store is a fresh SQLite
file. ``check`` probes one refused local port, so it measures start-up plus one probe.

To measure another checkout (the figures before a change), put its ``src`` first:
``PYTHONPATH=/path/to/old/src python bench/cli_startup.py``.
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from _support import free_port

CONFIG = """\
storage: sqlite:///wk.db
notify:
  - {{name: hook, webhook: "http://127.0.0.1:{port}/hook"}}
monitors:
  - {{name: web, http: "http://127.0.0.1:{port}/", expect: ["status == 200"], notify: [hook]}}
  - {{name: port, tcp: "127.0.0.1:{port}"}}
  - {{name: cert, tls: "127.0.0.1:{port}", expect: ["cert.expires_in > 14d"]}}
  - {{name: names, dns: {{name: example.com, resolver: "127.0.0.1:{port}"}}}}
  - {{name: cron, heartbeat: {{period: 1d, grace: 1h}}}}
"""


def timed(command: list[str], cwd: Path) -> tuple[float, float]:
    """Wall and CPU seconds of one run of ``command``."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    subprocess.run(command, cwd=cwd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    wall = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return wall, cpu


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=15)
    rounds = parser.parse_args().rounds
    wk = [sys.executable, "-m", "watchkeeper"]
    with tempfile.TemporaryDirectory() as scratch:
        here = Path(scratch)
        (here / "watchkeeper.yaml").write_text(CONFIG.format(port=free_port()))
        create = "from watchkeeper.store import Store; Store.open('sqlite:///wk.db').close()"
        subprocess.run([sys.executable, "-c", create], cwd=here, check=True)
        commands = {
            "python -c pass": [sys.executable, "-c", "pass"],
            "wk --help": [*wk, "--help"],
            "wk validate": [*wk, "validate"],
            "wk status": [*wk, "status"],
            "wk check -m port": [*wk, "check", "-m", "port"],
        }
        for command in commands.values():  # warm the page cache and any bytecode cache
            timed(command, here)
        walls: dict[str, list[float]] = {name: [] for name in commands}
        cpus: dict[str, list[float]] = {name: [] for name in commands}
        for _ in range(rounds):
            for name, command in commands.items():
                wall, cpu = timed(command, here)
                walls[name].append(wall)
                cpus[name].append(cpu)
    base_wall = statistics.median(walls["python -c pass"])
    base_cpu = statistics.median(cpus["python -c pass"])
    source = os.environ.get("PYTHONPATH") or "this checkout"
    print(f"wk start-up, {rounds} rounds, medians ({source}; {os.cpu_count()} CPUs)")
    print(f"{'command':<18} {'wall ms':>8} {'× python':>9} {'cpu ms':>8} {'× python':>9}")
    for name in commands:
        wall, cpu = statistics.median(walls[name]), statistics.median(cpus[name])
        print(
            f"{name:<18} {wall * 1000:8.0f} {wall / base_wall:9.1f} "
            f"{cpu * 1000:8.0f} {cpu / base_cpu:9.1f}"
        )


if __name__ == "__main__":
    main()
