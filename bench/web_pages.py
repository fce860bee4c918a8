"""Web speed at fleet size: 1,000 monitors and 30 days of rollups in a SQLite store, the
engine checking all of them (every 30 s, against a local target) while the pages are timed.

    python bench/web_pages.py [--monitors 1000] [--requests 200]

Times, from a client on the same machine, over real HTTP with a session token:
- the overview page (its first page of monitors: state, uptime 24 h / 7 d / 30 d, a
  sparkline; every monitor counted and filtered);
- a monitor page (uptime, 90-day bar, recent results, incidents);
- the 30-day series query (``/api/v1/monitors/{name}/series?since=30d``, 1-hour rollups);
and, as the baseline in the same run, ``/healthz`` through the same server and gate.
Targets: overview p95 < 150 ms, monitor page p95 < 150 ms, 30-day query p95 < 100 ms. The
overview keeps each row as drawn until something in it changes; ``overview_cold_ms`` draws
every row afresh for each request (timed inside the server process, so conservatively).
The web server runs pinned to one core, the target and the client on the other.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _support import pin, target_server

DAY = 86400


def build_store(url: str, monitors: int, now: float) -> None:
    """1-hour rollups for 30 days and 1-minute rollups for the last day for every monitor,
    written straight into the tables (as 30 days of wk up would have left them)."""
    import sqlalchemy as sa

    from watchkeeper.store import Store, packed_minutes, schema
    from watchkeeper.store.ingest import set_meta

    store = Store.open(url)
    ids = store.ensure_monitors((f"svc-{i:04d}", "http", "") for i in range(monitors))
    rng = random.Random(1)
    hour_mark = int(now // 3600) * 3600 - 3600
    minute_mark = int(now // 60) * 60 - 120
    names = [c.name for c in schema.rollup_1h.columns]

    def rows(width: int, start: int, end: int) -> list[dict[str, object]]:
        out = []
        for monitor_id in ids.values():
            base = rng.uniform(20, 200)
            for bucket in range(start, end, width):
                checks = width // 30 or 1
                failures = 1 if rng.random() < 0.01 else 0
                p50 = base * rng.uniform(0.9, 1.1)
                values = {
                    f"{phase}_{stat}": p50 * share * factor
                    for phase, share in (
                        ("total", 1.0),
                        ("dns", 0.05),
                        ("connect", 0.1),
                        ("tls", 0.2),
                        ("ttfb", 0.6),
                    )
                    for stat, factor in (("p50", 1), ("p95", 1.6), ("p99", 2.2), ("max", 3))
                }
                out.append(
                    dict(
                        zip(
                            names,
                            [monitor_id, bucket, checks, failures] + [values[n] for n in names[4:]],
                            strict=True,
                        )
                    )
                )
        return out

    def packed(minutes: list[dict[str, object]], mark: int) -> list[dict[str, object]]:
        """Minute rows as the store keeps them: packed, a row per monitor and hour."""
        hours: dict[tuple[object, int], list[tuple[object, ...]]] = {}
        for row in minutes:
            key = (row["monitor_id"], int(row["bucket"]) // 3600 * 3600)  # type: ignore[call-overload]
            hours.setdefault(key, []).append(tuple(row[n] for n in names))
        return [
            {
                "monitor_id": monitor_id,
                "hour": hour,
                "data": packed_minutes.pack_check_rows(found, hour, min(60, (mark - hour) // 60)),
            }
            for (monitor_id, hour), found in hours.items()
        ]

    with store.transaction() as connection:
        hourly = rows(3600, hour_mark - 30 * DAY, hour_mark)
        for first in range(0, len(hourly), 20_000):
            connection.execute(schema.rollup_1h.insert(), hourly[first : first + 20_000])
        minutely = packed(rows(60, minute_mark - DAY, minute_mark), minute_mark)
        for first in range(0, len(minutely), 20_000):
            connection.execute(schema.rollup_1m.insert(), minutely[first : first + 20_000])
        set_meta(connection, "rollup_1h_watermark", str(hour_mark))
        set_meta(connection, "rollup_1m_watermark", str(minute_mark))
        connection.execute(sa.text("ANALYZE")) if store.dialect == "sqlite" else None
    store.close()


async def timed(session: object, path: str, count: int) -> list[float]:
    import aiohttp

    assert isinstance(session, aiohttp.ClientSession)
    times = []
    for _ in range(count):
        started = time.perf_counter()
        async with session.get(path) as answer:
            body = await answer.read()
            assert answer.status == 200, (path, answer.status, body[:200])
        times.append((time.perf_counter() - started) * 1000)
    return times


def quantiles(values: list[float]) -> dict[str, float]:
    ordered = sorted(values)
    return {
        "p50": round(statistics.median(ordered), 2),
        "p95": round(ordered[int(0.95 * (len(ordered) - 1))], 2),
        "max": round(ordered[-1], 2),
    }


async def cold_overview(port: int, token: str, count: int = 30) -> list[float]:
    """The overview drawn from scratch (its per-row cache emptied before each request),
    timed from inside the server process: what the first visitor after a change waits."""
    import aiohttp

    from watchkeeper.web.pages import overview

    headers = {"Authorization": f"Bearer {token}"}
    async with aiohttp.ClientSession(f"http://127.0.0.1:{port}", headers=headers) as session:
        times = []
        for _ in range(count):
            overview._ROWS.clear()
            times += await timed(session, "/", 1)
        return times


def serve(folder: str, port: int, monitors: int, ready: object) -> None:
    """The server process: the engine, the app, uvicorn; pinned to core 0."""
    pin(0)

    async def main() -> None:
        from watchkeeper.auth import Auth
        from watchkeeper.config import parse_config
        from watchkeeper.engine.runtime import tune_for_long_run
        from watchkeeper.engine.service import Engine
        from watchkeeper.store import Store
        from watchkeeper.web.app import create_app
        from watchkeeper.web.server import WebServer

        lines = ["defaults: {interval: 30s, timeout: 5s}", "monitors:"]
        lines += [
            f"  - {{name: svc-{i:04d}, http: 'http://127.0.0.1:{port}/health?m={i}', "
            f"tags: [team-{i % 8}]}}"
            for i in range(monitors)
        ]
        config = parse_config("\n".join(lines), f"{folder}/wk.yaml", env={})
        store = Store.open(f"sqlite:///{folder}/wk.db")
        started = time.perf_counter()
        engine = Engine(config, store, startup_spread=10.0)
        await engine.start()
        seeded = time.perf_counter() - started
        tune_for_long_run()
        auth = Auth(store)
        auth.add_user("bench", "bench password", "admin")
        _, token = auth.create_token("bench", "read")
        server = WebServer(create_app(engine, auth=auth), "127.0.0.1", 0)
        await server.start()
        await asyncio.sleep(12)  # every monitor has had its first check
        cold = await cold_overview(server.port, token)
        ready.send((server.port, token, seeded, cold))  # type: ignore[attr-defined]
        await asyncio.Event().wait()  # serve until terminated

    import uvloop

    uvloop.run(main())  # as wk up runs


async def client(web_port: int, token: str, monitors: int, requests: int) -> dict[str, object]:
    import aiohttp

    rng = random.Random(2)
    headers = {"Authorization": f"Bearer {token}"}
    async with aiohttp.ClientSession(f"http://127.0.0.1:{web_port}", headers=headers) as session:
        await timed(session, "/", 5)  # warm up
        baseline = await timed(session, "/healthz", requests)
        overview = await timed(session, "/", requests)
        pages: list[float] = []
        series: list[float] = []
        for _ in range(requests):
            name = f"svc-{rng.randrange(monitors):04d}"
            pages += await timed(session, f"/monitors/{name}", 1)
            series += await timed(session, f"/api/v1/monitors/{name}/series?since=30d", 1)
        async with session.get("/api/v1/monitors/svc-0001/series?since=30d") as answer:
            points = len((await answer.json())["points"])
        async with session.get("/", headers={"Accept-Encoding": "identity"}) as answer:
            size = len(await answer.read())
        async with session.get(
            "/", headers={"Accept-Encoding": "gzip"}, auto_decompress=False
        ) as answer:
            compressed = len(await answer.read())
    return {
        "baseline_healthz_ms": quantiles(baseline),
        "overview_ms": quantiles(overview),
        "monitor_page_ms": quantiles(pages),
        "series_30d_ms": quantiles(series),
        "series_points": points,
        "overview_bytes": size,
        "overview_gzip_bytes": compressed,
    }


def main() -> None:
    import multiprocessing

    parser = argparse.ArgumentParser()
    parser.add_argument("--monitors", type=int, default=1000)
    parser.add_argument("--requests", type=int, default=200)
    args = parser.parse_args()
    folder = tempfile.mkdtemp(prefix="wk-web-")
    now = time.time()
    started = time.perf_counter()
    build_store(f"sqlite:///{folder}/wk.db", args.monitors, now)
    built = time.perf_counter() - started
    with target_server(cpu=1) as port:
        receive, send = multiprocessing.Pipe(duplex=False)
        server = multiprocessing.Process(
            target=serve, args=(folder, port, args.monitors, send), daemon=True
        )
        server.start()
        web_port, token, seeded, cold = receive.recv()
        pin(1)
        try:
            figures = asyncio.run(client(web_port, token, args.monitors, args.requests))
        finally:
            server.terminate()
            server.join(5)
    figures["overview_cold_ms"] = quantiles(cold)
    figures.update(
        monitors=args.monitors,
        store_build_s=round(built, 1),
        ledger_seed_s=round(seeded, 2),
    )
    targets = {
        "overview_ms": 150,
        "overview_cold_ms": 150,
        "monitor_page_ms": 150,
        "series_30d_ms": 100,
    }
    base = figures["baseline_healthz_ms"]["p95"]  # type: ignore[index]
    for key, limit in targets.items():
        p95 = figures[key]["p95"]  # type: ignore[index]
        figures[key]["target_p95"] = limit  # type: ignore[index]
        figures[key]["vs_target"] = round(p95 / limit, 3)  # type: ignore[index]
        figures[key]["vs_healthz"] = round(p95 / base, 1)  # type: ignore[index]
    print(json.dumps(figures, indent=2))


if __name__ == "__main__":
    main()
