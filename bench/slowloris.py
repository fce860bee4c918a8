"""A bounded slowloris on loopback against a real ``wk up``: 500 sockets from 127.0.0.2 that
trickle header lines and never finish a request, while /healthz, a ping and an API read are
timed from 127.0.0.1; the same probes just before the attack are the baseline.

    python bench/slowloris.py [--sockets 500] [--seconds 25]

Reports how long the server let the slow sockets live (closed at the head deadline, or at
once past the per-address cap), how many were still open when the attack ended, and the
probes' p50/p99 quiet and under attack. To measure another checkout, put its ``src`` first:
``PYTHONPATH=/path/to/old/src python bench/slowloris.py``.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import signal
import statistics
import tempfile
import time
from pathlib import Path

from _support import percentile, probe, wk, wk_up, write_config

UUID = "3c2b1a09-8f7e-4d6c-9b5a-4e3f2a1b0c9d"
ATTACKER = "127.0.0.2"
PROBES = {"ping": f"/ping/{UUID}", "healthz": "/healthz", "api": "/api/v1/states"}


async def slow_socket(port: int, seconds: float) -> float | None:
    """Open, trickle, and return how long the server kept it (None: still open at the end)."""
    started = time.perf_counter()
    try:
        reader, writer = await asyncio.open_connection("127.0.0.1", port, local_addr=(ATTACKER, 0))
    except OSError:
        return 0.0
    writer.write(b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n")

    async def trickle() -> None:
        with contextlib.suppress(ConnectionError):
            for i in range(int(seconds)):
                await asyncio.sleep(1.0)
                writer.write(f"X-Slow-{i}: a\r\n".encode())
                await writer.drain()

    sender = asyncio.create_task(trickle())
    try:
        await asyncio.wait_for(reader.read(), seconds)
        return time.perf_counter() - started
    except TimeoutError:
        return None
    except ConnectionError:
        return time.perf_counter() - started
    finally:
        sender.cancel()
        writer.close()


async def run(sockets: int, seconds: float) -> dict[str, object]:
    folder = Path(tempfile.mkdtemp(prefix="wk-slowloris-"))
    write_config(
        folder / "watchkeeper.yaml",
        f"""
storage: sqlite:///wk.db
monitors:
  - name: cron
    heartbeat: {{period: 1h, grace: 1h, uuid: "{UUID}", ping_burst: 10000, ping_rate: 100}}
""",
    )
    token = json.loads(
        await wk("token", "create", "--scope", "read", "--name", "bench", "--json", cwd=folder)
    )["token"]
    auth = {"Authorization": f"Bearer {token}"}
    server, url = await wk_up(folder)
    port = int(url.rsplit(":", 1)[1])
    try:
        quiet, _ = await probe(url, PROBES, 5.0, headers=auth)
        attack = [asyncio.create_task(slow_socket(port, seconds)) for _ in range(sockets)]
        await asyncio.sleep(1.0)  # every socket open (or turned away)
        attacked, failed = await probe(url, PROBES, seconds - 2.0, headers=auth)
        held = await asyncio.gather(*attack)
    finally:
        server.send_signal(signal.SIGTERM)
        await server.wait()
    closed = [h for h in held if h is not None]
    at_once = [h for h in closed if h < 1.0]
    timed_out = [h for h in closed if h >= 1.0]
    figures: dict[str, object] = {
        "slow sockets": f"{sockets} from {ATTACKER} for {seconds:.0f} s",
        "closed at once (cap)": len(at_once),
        "closed at deadline": f"{len(timed_out)}"
        + (
            f" after median {statistics.median(timed_out):.1f} s (max {max(timed_out):.1f} s)"
            if timed_out
            else ""
        ),
        "still open at the end": sum(h is None for h in held),
        "failed probes": failed,
    }
    for name in quiet:
        figures[f"{name} quiet"] = (
            f"p50 {statistics.median(quiet[name]):.1f} ms, p99 {percentile(quiet[name], 99):.1f} ms"
        )
        figures[f"{name} attacked"] = (
            f"p50 {statistics.median(attacked[name]):.1f} ms, "
            f"p99 {percentile(attacked[name], 99):.1f} ms"
        )
        ratio = percentile(attacked[name], 99) / percentile(quiet[name], 99)
        figures[f"{name} p99 ratio"] = f"{ratio:.2f}x"
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--sockets", type=int, default=500)
    parser.add_argument("--seconds", type=float, default=25.0)
    args = parser.parse_args()
    for key, value in asyncio.run(run(args.sockets, args.seconds)).items():
        print(f"{key:>22}: {value}")


if __name__ == "__main__":
    main()
