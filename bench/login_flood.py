"""A login flood against a real ``wk up``: ping, /healthz and API latency while 200 wrong
logins arrive at once, against the same process's quiet latency measured just before (the ratio is
the figure; absolute milliseconds depend on the machine).

    python bench/login_flood.py [--flood 200] [--rounds 3] [--spread]

``--spread`` sends every login from an address of its own (through a trusted proxy's
X-Forwarded-For), so no per-address limit stops it and only the hashing threads' cap does;
without it they all come from one address, as the review's flood did. The process also
runs a host, a MySQL (127.0.0.1:3306) and a Redis (127.0.0.1:6379) monitor with 2 s timeouts;
the bench counts their state changes, which must stay 0. The flood itself runs in a process
of its own so that its client work does not slow the probe that measures.

To measure another checkout (the figures before a change), put its ``src`` first:
``PYTHONPATH=/path/to/old/src python bench/login_flood.py``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import re
import signal
import statistics
import sys
import tempfile
from collections import Counter
from pathlib import Path

import aiohttp

from _support import percentile, probe, wk, wk_up, write_config

UUID = "0f4d9a51-2c6e-4b7a-8d3f-5e6a7b8c9d0e"


async def flood(url: str, count: int, spread: bool) -> dict[str, int]:
    """``count`` wrong logins at once; their answers by status."""
    jar = aiohttp.CookieJar(unsafe=True)
    connector = aiohttp.TCPConnector(limit=0)
    async with aiohttp.ClientSession(cookie_jar=jar, connector=connector) as browser:
        async with browser.get(f"{url}/login") as page:
            found = re.search(r'name="csrf" value="([^"]*)"', await page.text())
        assert found is not None

        async def one(i: int) -> int:
            headers = {"X-Forwarded-For": f"10.2.{i // 250}.{i % 250 + 1}"} if spread else {}
            try:
                async with browser.post(
                    f"{url}/login",
                    data={"name": "admin", "password": f"guess {i}", "csrf": found[1]},
                    headers=headers,
                    allow_redirects=False,
                ) as answer:
                    await answer.read()
                    return answer.status
            except aiohttp.ClientError:
                return 0

        statuses = await asyncio.gather(*(one(i) for i in range(count)))
    return {str(status): n for status, n in Counter(statuses).items()}


PROBES = {"ping": f"/ping/{UUID}", "healthz": "/healthz", "api": "/api/v1/states"}


async def states(url: str, token: str) -> dict[str, str]:
    async with (
        aiohttp.ClientSession(headers={"Authorization": f"Bearer {token}"}) as session,
        session.get(f"{url}/api/v1/monitors") as answer,
    ):
        return {m["name"]: m["state"] for m in (await answer.json())["items"]}


async def run(count: int, rounds: int, spread: bool) -> dict[str, object]:
    folder = Path(tempfile.mkdtemp(prefix="wk-flood-"))
    write_config(
        folder / "watchkeeper.yaml",
        f"""
storage: sqlite:///wk.db
server: {{trusted_proxies: [127.0.0.1]}}
defaults: {{interval: 2s, timeout: 2s, confirm: 1, recover: 1}}
monitors:
  - {{name: box, host: {{}}}}
  - {{name: shop-db, mysql: "mysql://root@127.0.0.1:3306/test"}}
  - {{name: cache, redis: "redis://127.0.0.1:6379/0"}}
  - name: cron
    heartbeat: {{period: 1h, grace: 1h, uuid: "{UUID}", ping_burst: 1000, ping_rate: 100}}
""",
    )
    await wk("user", "add", "admin", "--role", "admin", "--password-stdin", cwd=folder,
             stdin=b"the right password\n")  # fmt: skip
    token = json.loads(
        await wk("token", "create", "--scope", "read", "--name", "bench", "--json", cwd=folder)
    )["token"]
    auth = {"Authorization": f"Bearer {token}"}
    server, url = await wk_up(folder)
    quiet: dict[str, list[float]] = {name: [] for name in PROBES}
    flooded: dict[str, list[float]] = {name: [] for name in PROBES}
    answers: Counter[str] = Counter()
    bad = 0
    changed = 0
    try:
        for _ in range(300):
            try:
                if set((await states(url, token)).values()) - {"unknown"} == {"up"}:
                    break
            except (aiohttp.ClientError, KeyError, ValueError):
                pass
            await asyncio.sleep(0.2)
        async with aiohttp.ClientSession() as session:
            await (await session.get(f"{url}/ping/{UUID}")).read()
        await asyncio.sleep(2)
        before = await states(url, token)
        for _ in range(rounds):
            latencies, _bad = await probe(url, PROBES, 3.0, headers=auth)
            for name, values in latencies.items():
                quiet[name] += values
            flooder = await asyncio.create_subprocess_exec(
                sys.executable,
                __file__,
                "--flood-only",
                url,
                "--flood",
                str(count),
                *(["--spread"] if spread else []),
                stdout=asyncio.subprocess.PIPE,
            )
            measured = asyncio.create_task(probe(url, PROBES, 6.0, headers=auth))
            out, _ = await flooder.communicate()
            latencies, bad_now = await measured
            for name, values in latencies.items():
                flooded[name] += values
            bad += bad_now
            answers.update(json.loads(out))
            await asyncio.sleep(4)  # two more check intervals
            after = await states(url, token)
            changed += sum(before[name] != after.get(name) for name in before)
    finally:
        server.send_signal(signal.SIGTERM)
        await server.wait()

    def summary(values: list[float]) -> str:
        return f"p50 {statistics.median(values):.1f} ms, p99 {percentile(values, 99):.1f} ms"

    figures: dict[str, object] = {
        "flood": f"{count} wrong logins at once x {rounds}, "
        + ("each from its own address" if spread else "all from one address"),
        "answers": dict(sorted(answers.items())),
    }
    for name in PROBES:
        figures[f"{name} quiet"] = summary(quiet[name])
        figures[f"{name} flood"] = summary(flooded[name])
        ratio = percentile(flooded[name], 99) / percentile(quiet[name], 99)
        figures[f"{name} p99 ratio"] = f"{ratio:.2f}x"
    figures["non-200 probes"] = bad
    figures["monitor state changes"] = changed
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--flood", type=int, default=200)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--spread", action="store_true")
    parser.add_argument("--flood-only", metavar="URL", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.flood_only:
        print(json.dumps(asyncio.run(flood(args.flood_only, args.flood, args.spread))))
        return
    for key, value in asyncio.run(run(args.flood, args.rounds, args.spread)).items():
        print(f"{key:>22}: {value}")


if __name__ == "__main__":
    main()
