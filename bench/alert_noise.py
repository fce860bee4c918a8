"""Noise: replay a 24 h day of trouble through Watchkeeper's real alerting code at
accelerated time, and count the notifications against the ideal — one per real problem, one
per recovery — with a naive pager (a message on every failed check and every recovery, as
an uptime tool that alerts on one failure does) as the baseline measured in the same run.

    python bench/alert_noise.py

The day, 60 monitors checked every 30 s:
- 6 real outages of 4-40 minutes on separate monitors (12 notifications ideally);
- 40 one-check blips on healthy monitors (0 ideally);
- a target flapping for an hour, up two checks, down two (1 problem: 2 ideally);
- a dependency storm: the database and its 50 dependants down 20 minutes (1 problem: 2);
- an outage entirely inside a maintenance window (0 ideally).

Results come from the state machine exactly as ``wk up`` computes them; transitions go
through ``Alerting`` (incidents, alert events, planner, outbox) on a SQLite store with a
simulated clock. Nothing is delivered: notifications are counted in the outbox.
"""

from __future__ import annotations

import asyncio
import json
import random
import sys
import tempfile
from collections import Counter
from pathlib import Path

BASE = 1_800_000_000.0  # the simulated day starts here
DAY = 86_400
STEP = 30.0
CHILDREN = 50


def scenario(rng: random.Random) -> tuple[dict[str, set[int]], dict[str, str]]:
    """Failed check indexes per monitor, and what each troubled monitor's trouble is."""
    failing: dict[str, set[int]] = {}
    kinds: dict[str, str] = {}
    checks = int(DAY / STEP)

    def outage(name: str, start_min: int, minutes: int, kind: str) -> None:
        first = int(start_min * 60 / STEP)
        failing.setdefault(name, set()).update(range(first, first + int(minutes * 60 / STEP)))
        kinds[name] = kind

    for index, (start, length) in enumerate(
        [(60, 12), (240, 4), (410, 25), (700, 40), (1000, 8), (1300, 15)]
    ):
        outage(f"svc-{index}", start, length, "outage")
    blippy = [f"quiet-{i}" for i in range(8)]
    for _ in range(40):
        name = rng.choice(blippy)
        failing.setdefault(name, set()).add(rng.randrange(10, checks - 10))
    flap_start = int(500 * 60 / STEP)
    failing["flappy"] = {flap_start + i for i in range(120) if i % 4 in (2, 3)}
    kinds["flappy"] = "flapping"
    outage("db", 900, 20, "storm")
    for child in range(CHILDREN):
        # the dependants notice a few seconds to a check later than the database
        first = int(900 * 60 / STEP) + rng.choice([0, 0, 1])
        failing.setdefault(f"app-{child}", set()).update(range(first, first + 40))
        kinds[f"app-{child}"] = "child"
    outage("maint", 1100, 30, "maintenance")
    return failing, kinds


def config_text() -> str:
    names = [f"svc-{i}" for i in range(6)] + [f"quiet-{i}" for i in range(8)]
    lines = [
        "defaults: {interval: 30s, timeout: 5s, confirm: 2, recover: 2, notify: [ops]}",
        "notify:",
        "  - {name: ops, webhook: 'http://127.0.0.1:9/never-called', group_wait: 30s}",
        "maintenance:",
        f"  - {{name: upgrade, start: '{_iso(BASE + 1090 * 60)}', "
        f"end: '{_iso(BASE + 1140 * 60)}', monitors: [maint]}}",
        "monitors:",
    ]
    lines += [f"  - {{name: {n}, tcp: '127.0.0.1:9'}}" for n in [*names, "flappy", "db", "maint"]]
    lines += [
        f"  - {{name: app-{c}, tcp: '127.0.0.1:9', depends_on: [db]}}" for c in range(CHILDREN)
    ]
    return "\n".join(lines)


def _iso(epoch: float) -> str:
    from datetime import UTC, datetime

    return datetime.fromtimestamp(epoch, UTC).isoformat()


async def replay() -> dict[str, object]:
    from watchkeeper.alerts.service import Alerting
    from watchkeeper.config import parse_config
    from watchkeeper.model import Phases, Result, State
    from watchkeeper.state import FlapPolicy, MonitorStatus, advance
    from watchkeeper.store import Store
    from watchkeeper.store import alerts as db

    rng = random.Random(7)
    failing, kinds = scenario(rng)
    folder = tempfile.mkdtemp(prefix="wk-noise-")
    config = parse_config(config_text(), str(Path(folder, "wk.yaml")), env={})
    store = Store.open(f"sqlite:///{folder}/wk.db")
    store.ensure_monitors((m.name, m.kind, m.target) for m in config.monitors)
    now = [BASE]
    status: dict[str, MonitorStatus] = {m.name: MonitorStatus(m.name) for m in config.monitors}
    alerting = Alerting(config, store, status.get, clock=lambda: now[0], notifiers={})
    naive = 0
    for step in range(int(DAY / STEP)):
        now[0] = BASE + step * STEP
        batch = []
        for monitor in config.monitors:
            ok = step not in failing.get(monitor.name, ())
            previous = status[monitor.name].last_result
            if previous is not None and previous.ok != ok:
                naive += 1  # a pager that reports every failed check and every recovery
            result = Result(
                monitor.name,
                monitor.kind,
                now[0],
                ok,
                Phases(total=0.01),
                [] if ok else ["connection refused"],
            )
            cause = next((p for p in monitor.depends_on if status[p].state is State.DOWN), None)
            flap = monitor.flapping
            updated, transition = advance(
                status[monitor.name],
                result,
                confirm=monitor.confirm,
                recover=monitor.recover,
                flapping=FlapPolicy(flap.transitions, flap.window) if flap else None,
                cause=cause,
            )
            status[monitor.name] = updated
            if transition is not None:
                batch.append((monitor, transition, updated))
        if batch:
            await asyncio.to_thread(alerting._persist, batch)
        await alerting.plan_once()
    for _ in range(4):  # let the last groups wait out their group_wait
        now[0] += STEP
        await alerting.plan_once()
    with store.read() as connection:
        sent = db.notifications(connection, limit=100_000)
    store.close()
    return score(sent, kinds, naive)


def score(sent: list[object], kinds: dict[str, str], naive: int) -> dict[str, object]:
    problems = {name for name, kind in kinds.items() if kind in ("outage", "flapping")} | {"db"}
    expected = {(name, event) for name in problems for event in ("firing", "resolved")}
    announced: set[tuple[str, str]] = set()
    told: Counter[str] = Counter()
    useful = 0
    for notification in sent:
        message = notification.message  # type: ignore[attr-defined]
        items = message["items"]
        about = {
            (i["monitor"], "resolved" if i["event"] == "resolved" else "firing") for i in items
        }
        # useful: it tells of a problem (or a recovery) nobody has been told of yet; a second
        # DOWN for the same problem (the flapping target before it is seen to flap) is noise
        if (about & expected) - announced:
            useful += 1
        told.update(f"{m}:{e}" for m, e in about & expected)
        announced |= about
    recall = len(expected & announced) / len(expected)
    precision = useful / len(sent) if sent else 0.0
    return {
        "notifications": len(sent),
        "ideal": len(expected),
        "naive_pager": naive,
        "precision": round(precision, 3),
        "recall": round(recall, 3),
        "missed": sorted(f"{m}:{e}" for m, e in expected - announced),
        "noise": sorted(f"{m}:{e}" for m, e in announced - expected if not m.startswith("app-")),
        "repeated": {pair: n for pair, n in sorted(told.items()) if n > 1},
        "children_alone": sorted({m for m, _ in announced if m.startswith("app-")}),
        "titles": [n.message["title"] for n in sent],  # type: ignore[attr-defined]
    }


def main() -> None:
    figures = asyncio.run(replay())
    if "--json" in sys.argv:
        print(json.dumps(figures, indent=2))
        return
    for title in figures["titles"]:  # type: ignore[attr-defined]
        print("  ", title)
    print(
        f"notifications sent: {figures['notifications']} (ideal {figures['ideal']}, "
        f"a pager on every failed check: {figures['naive_pager']})"
    )
    print(f"precision {figures['precision']}, recall {figures['recall']}")
    print(
        f"missed: {figures['missed'] or 'none'}; noise: {figures['noise'] or 'none'}; "
        f"told more than once: {figures['repeated'] or 'none'}; "
        f"dependants announced alone: {len(figures['children_alone'])}"
    )  # type: ignore[arg-type]


if __name__ == "__main__":
    main()
