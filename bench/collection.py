"""CPU for watching a host: what a real ``wk up`` spends to run a ``host`` monitor and a
``prometheus`` monitor scraping a real node_exporter (the whole exposition parsed, a dozen
series judged and stored), both every 10 s — as a percentage of one core, measured from the
processes' own CPU time over a steady stretch.

Baselines measured in the same run, side by side: the same ``wk up`` with no monitors (what
the server costs idle), and Debian's Prometheus scraping the same node_exporter every 10 s
(storing every one of its series: more work, but the job people run for this).

    python bench/collection.py [--seconds 120]
"""

from __future__ import annotations

import argparse
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

import psutil


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def wait_http(url: str, seconds: float = 30) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(url, timeout=1):
                return
        except OSError:
            time.sleep(0.2)
    raise SystemExit(f"{url} did not answer")


def watchkeeper(folder: Path, monitors: str) -> tuple[subprocess.Popen[bytes], int]:
    folder.mkdir(parents=True, exist_ok=True)
    port = free_port()
    (folder / "wk.yaml").write_text(
        f"storage: sqlite:///{folder}/wk.db\nserver: {{listen: 127.0.0.1:{port}}}\n"
        f"monitors:{monitors}\n"
    )
    process = subprocess.Popen(
        [sys.executable, "-m", "watchkeeper", "up", "-c", str(folder / "wk.yaml")],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    wait_http(f"http://127.0.0.1:{port}/healthz")
    return process, port


def cpu_seconds(process: psutil.Process) -> float:
    times = process.cpu_times()
    total = times.user + times.system
    for child in process.children(recursive=True):
        try:
            child_times = child.cpu_times()
        except psutil.NoSuchProcess:
            continue
        total += child_times.user + child_times.system
    return total


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=120.0)
    parser.add_argument("--warmup", type=float, default=25.0)
    args = parser.parse_args()
    exporter_bin = shutil.which("prometheus-node-exporter")
    prometheus_bin = shutil.which("prometheus")
    if exporter_bin is None or prometheus_bin is None:
        raise SystemExit("needs Debian's prometheus-node-exporter and prometheus")
    folder = Path(tempfile.mkdtemp(prefix="wk-collection-"))
    exporter_port = free_port()
    exporter = subprocess.Popen(
        [exporter_bin, f"--web.listen-address=127.0.0.1:{exporter_port}"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    scrape = f"http://127.0.0.1:{exporter_port}/metrics"
    wait_http(scrape)
    series = len(
        [
            line
            for line in urllib.request.urlopen(scrape).read().decode().splitlines()
            if line and not line.startswith("#")
        ]
    )
    monitors = f"""
  - name: box
    host: local
    interval: 10s
    expect: ["disk./.used_pct < 95", "memory.used_pct < 95", "cpu.steal_pct < 20",
             "load.per_cpu < 4"]
  - name: node
    prometheus:
      url: "{scrape}"
      series: [node_memory_MemAvailable_bytes, node_load1, node_load5,
               'node_network_receive_bytes_total{{device!="lo"}}']
    interval: 10s
    expect:
      - 'metric.node_cpu_seconds_total{{mode="idle"}}.rate > 0'
      - 'metric.node_cpu_seconds_total{{mode="iowait"}}.rate < 1'
      - 'metric.node_filesystem_avail_bytes{{mountpoint="/"}}.value > 1GiB'
      - "metric.node_memory_MemAvailable_bytes.value > 100MiB"
      - 'metric.node_disk_io_time_seconds_total.rate < 2'
"""
    busy, _ = watchkeeper(folder / "busy", monitors)
    idle, _ = watchkeeper(folder / "idle", " []")
    prom_port = free_port()
    (folder / "prometheus.yml").write_text(
        "global: {scrape_interval: 10s}\nscrape_configs:\n"
        f"  - job_name: node\n    static_configs: [{{targets: ['127.0.0.1:{exporter_port}']}}]\n"
    )
    prometheus = subprocess.Popen(
        [
            prometheus_bin,
            f"--config.file={folder / 'prometheus.yml'}",
            f"--storage.tsdb.path={folder / 'tsdb'}",
            f"--web.listen-address=127.0.0.1:{prom_port}",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    wait_http(f"http://127.0.0.1:{prom_port}/-/ready")
    watched = {
        "wk up, host + prometheus @10s": psutil.Process(busy.pid),
        "wk up, no monitors (idle)": psutil.Process(idle.pid),
        "Prometheus scraping node_exporter @10s": psutil.Process(prometheus.pid),
    }
    try:
        time.sleep(args.warmup)  # startup, first scrapes, Prometheus's own head setup
        before = {name: cpu_seconds(p) for name, p in watched.items()}
        started = time.monotonic()
        time.sleep(args.seconds)
        elapsed = time.monotonic() - started
        after = {name: cpu_seconds(p) for name, p in watched.items()}
    finally:
        for process in (busy, idle, prometheus, exporter):
            process.terminate()
        for process in (busy, idle, prometheus, exporter):
            try:
                process.wait(10)
            except subprocess.TimeoutExpired:
                process.kill()
        shutil.rmtree(folder, ignore_errors=True)
    share = {name: 100 * (after[name] - before[name]) / elapsed for name in watched}
    print(f"node_exporter exposition: {series} series; measured over {elapsed:.0f} s")
    for name, value in share.items():
        print(f"  {name:42s} {value:6.2f} % of one core")
    collection = share["wk up, host + prometheus @10s"] - share["wk up, no monitors (idle)"]
    print(f"  {'collection itself (busy - idle)':42s} {collection:6.2f} % of one core")
    prom = share["Prometheus scraping node_exporter @10s"]
    if prom > 0:
        print(
            "  ratio wk up (busy) / Prometheus: "
            f"{share['wk up, host + prometheus @10s'] / prom:.2f}"
        )


if __name__ == "__main__":
    main()
