"""Failover: how long a cluster of ``wk up`` nodes on one PostgreSQL store takes to recover
from the alert leader's death, and whether any notification is lost or sent twice.

How to run (from the repository, with the ``test`` extra installed; it makes and drops a
throw-away database on the machine's PostgreSQL, 127.0.0.1:5432, trust auth):

    python bench/failover.py [--kills 10] [--nodes 3] [--monitors 60] [--group 10]
                             [--beat 1] [--ttl 5] [--kill-after 0] [--confirm 1]
                             [--group-wait 1] [--route-timeout 10] [--wait 60]
                             [--json FILE]

``WK_BENCH_KEEP=1`` keeps the nodes' configs and logs (their folder is printed).

What it does: ``--nodes`` nodes share ``--monitors`` http monitors (1 s interval) of a local
aiohttp target, which also serves the webhook every monitor notifies. Then ``--kills``
rounds, each:

1. the current alert leader is read from ``wk nodes --json``;
2. a fresh group of ``--group`` monitors starts failing (the target answers 500 for them),
   and ``--kill-after`` seconds later (default: at once) the leader gets SIGKILL — the kill
   time is PostgreSQL's ``clock_timestamp()`` read just before, with the leases it held;
3. measured, every time on the server's clock or the results' own (same machine):
   - **takeover**: the max over the killed node's monitors of (its first stored result
     started after the kill − the kill): until then some monitor went unchecked;
   - **election**: from the kill until another node holds the leader lease (its claim time,
     ``expires_at − ttl`` of the lease row at first sight; polled every 0.1 s);
   - **notifications** of the failing group at the webhook: ``down`` (firing) alert items per
     monitor — lost = monitors with none, duplicated = items beyond one per (monitor,
     incident); the same for ``resolved`` once the group recovers; ``resent`` counts
     deliveries that repeat an Idempotency-Key (a receiver that honours it drops them), and
     ``stray`` firing items of monitors outside the group (false alarms of the move);
     ``notif_s`` is from the kill until the group's last monitor was first notified
     (negative: everything went out before the kill). Counted at the end of the run, over
     every delivery: a notification the dead leader had claimed goes out again only once
     its outbox lease runs out (the route's ``timeout`` + 10 s after the claim);
4. the group recovers, a node is started in the dead one's place, and the next round waits
   until every node holds its share again.

A per-round table and a summary (min / median / max, totals) are printed. Expected bounds:
takeover ≲ ttl + beat + one interval, election ≲ ttl + beat.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import secrets
import shutil
import signal
import statistics
import sys
import tempfile
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import IO, Any

import aiohttp
import psycopg
from aiohttp import web

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _support import free_port

ADMIN = "host=127.0.0.1 port=5432 user=postgres dbname=postgres"
WK = [sys.executable, "-m", "watchkeeper"]


# -- the target and the webhook, in this process ----------------------------------------------
@dataclass(frozen=True)
class Delivery:
    at: float
    key: str
    body: dict[str, Any]


@dataclass
class Site:
    """``GET /m/{name}`` answers 500 for the names in ``failing``; ``POST /hook`` records."""

    failing: set[str] = field(default_factory=set)
    deliveries: list[Delivery] = field(default_factory=list)
    port: int = 0
    runner: web.AppRunner | None = None

    async def start(self) -> None:
        app = web.Application()
        app.router.add_get("/m/{name}", self._target)
        app.router.add_post("/hook", self._hook)
        self.runner = web.AppRunner(app, access_log=None, shutdown_timeout=0.2)
        await self.runner.setup()
        self.port = free_port()
        await web.TCPSite(self.runner, "127.0.0.1", self.port).start()

    async def stop(self) -> None:
        if self.runner is not None:
            await self.runner.cleanup()

    async def _target(self, request: web.Request) -> web.Response:
        failing = request.match_info["name"] in self.failing
        return web.Response(status=500 if failing else 200, text="no" if failing else "ok")

    async def _hook(self, request: web.Request) -> web.Response:
        body = await request.content.read(1 << 20)
        try:
            document = json.loads(body)
        except ValueError:
            document = {}
        key = request.headers.get("Idempotency-Key", "")
        self.deliveries.append(Delivery(time.time(), key, document))
        return web.Response(text="ok")

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"


@dataclass(frozen=True)
class Item:
    """One alert item of one delivery."""

    monitor: str
    incident: Any
    key: str
    """The delivery's Idempotency-Key (the same on every resend of a notification)."""
    changed_at: float
    """When the monitor changed state (the item's ``at``, the checking node's clock)."""
    received_at: float


def items_of(deliveries: list[Delivery], event: str) -> list[Item]:
    """Every alert item with ``event`` (``firing`` of a ``down`` state, or ``resolved``)."""
    found = []
    for delivery in deliveries:
        for alert in delivery.body.get("alerts") or []:
            if alert.get("event") != event:
                continue
            if event == "firing" and alert.get("state") != "down":
                continue
            found.append(
                Item(
                    str(alert.get("monitor")),
                    alert.get("incident"),
                    delivery.key,
                    float(alert.get("at") or 0.0),
                    delivery.at,
                )
            )
    return found


@dataclass
class Tally:
    expected: int = 0
    received: int = 0
    lost: int = 0
    duplicated: int = 0
    """Items beyond one per (monitor, incident)."""
    resent: int = 0
    """Of the duplicates, those repeating an Idempotency-Key already delivered."""
    stray: int = 0
    """Items of monitors outside the group (false alarms)."""
    last_s: float | None = None
    """From the reference time until the last monitor of the group got its first item."""


def tally(
    items: list[Item], group: list[str], window: tuple[float, float], reference: float
) -> Tally:
    """The items about state changes within ``window`` (whenever they arrived: a resend may
    come long after), against one per monitor of ``group``."""
    wanted = set(group)
    inside = [i for i in items if window[0] <= i.changed_at < window[1]]
    mine = [i for i in inside if i.monitor in wanted]
    per: dict[tuple[str, Any], int] = {}
    keys: dict[tuple[str, Any, str], int] = {}
    first: dict[str, float] = {}
    for item in sorted(mine, key=lambda i: i.received_at):
        per[(item.monitor, item.incident)] = per.get((item.monitor, item.incident), 0) + 1
        key = (item.monitor, item.incident, item.key)
        keys[key] = keys.get(key, 0) + 1
        first.setdefault(item.monitor, item.received_at)
    return Tally(
        expected=len(group),
        received=len(first),
        lost=len(wanted - set(first)),
        duplicated=sum(count - 1 for count in per.values()),
        resent=sum(count - 1 for count in keys.values()),
        stray=len(inside) - len(mine),
        last_s=(max(first.values()) - reference) if len(first) == len(wanted) else None,
    )


# -- the store, read directly (blocking: called through asyncio.to_thread) ---------------------
def _connect(database: str) -> psycopg.Connection[Any]:
    return psycopg.connect(f"host=127.0.0.1 user=postgres dbname={database}", autocommit=True)


NOW = "extract(epoch from clock_timestamp())"


def leases_now(database: str, node: str) -> tuple[float, list[str], bool]:
    """Server time, the monitors ``node`` holds, and whether it leads — in one statement."""
    with _connect(database) as c:
        row = c.execute(
            f"select {NOW}, array(select monitor from cluster_leases "
            f"where node = %(n)s and expires_at > {NOW} order by monitor), "
            f"exists(select 1 from cluster_leader where node = %(n)s and expires_at > {NOW})",
            {"n": node},
        ).fetchone()
    assert row is not None
    return float(row[0]), list(row[1]), bool(row[2])


def leader_row(connection: psycopg.Connection[Any]) -> tuple[str | None, float, float]:
    row = connection.execute(
        f"select node, expires_at, {NOW} from cluster_leader where id = 1"
    ).fetchone()
    assert row is not None
    return row[0], float(row[1]), float(row[2])


def wait_new_leader(database: str, victim: str, ttl: float, timeout: float) -> float | None:
    """When (server clock) another node claimed the leader lease after ``victim`` died."""
    deadline = time.monotonic() + timeout
    with _connect(database) as c:
        while time.monotonic() < deadline:
            node, expires, now = leader_row(c)
            if node is not None and node != victim and expires > now:
                return expires - ttl
            time.sleep(0.1)
    return None


def first_results(database: str, names: list[str], since: float) -> dict[str, float]:
    """Per monitor, the start of its first stored result started after ``since``."""
    with _connect(database) as c:
        rows = c.execute(
            "select m.name, min(r.ts) from results r join monitors m on m.id = r.monitor_id "
            "where m.name = any(%s) and r.ts > %s group by m.name",
            (names, since),
        ).fetchall()
    return {str(name): float(ts) for name, ts in rows}


# -- the nodes -----------------------------------------------------------------------------
def write_config(folder: Path, database: str, site: Site, name: str, args: Any) -> Path:
    monitors = "\n".join(
        f'  - {{name: m{i:03d}, http: "{site.url(f"/m/m{i:03d}")}", interval: 1s, '
        f"timeout: 1s, confirm: {args.confirm}, notify: [hook]}}"
        for i in range(args.monitors)
    )
    path = folder / f"{name}.yaml"
    path.write_text(
        f"""storage: postgresql://postgres@127.0.0.1:5432/{database}
engine: {{startup_spread: 0.5s}}
cluster: {{enabled: true, name: {name}, beat: {args.beat:g}s, ttl: {args.ttl:g}s}}
notify:
  - {{name: hook, webhook: "{site.url("/hook")}", group_wait: {args.group_wait:g}s,
     timeout: {args.route_timeout:g}s}}
monitors:
{monitors}
"""
    )
    return path


def _log(path: Path) -> IO[bytes]:
    return path.open("ab")


@dataclass
class NodeProcess:
    name: str
    process: asyncio.subprocess.Process
    port: int


async def start_node(folder: Path, name: str, generation: int) -> NodeProcess:
    port = free_port()
    log = await asyncio.to_thread(_log, folder / f"{name}-{generation}.log")
    try:
        process = await asyncio.create_subprocess_exec(
            *WK, "up", "-c", f"{name}.yaml", "--listen", f"127.0.0.1:{port}",
            cwd=folder, stdout=log, stderr=asyncio.subprocess.STDOUT,
        )  # fmt: skip
    finally:
        log.close()
    deadline = time.monotonic() + 120
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=5)) as session:
        while time.monotonic() < deadline:
            if process.returncode is not None:
                raise SystemExit(f"node {name} exited {process.returncode}: see {folder}")
            with contextlib.suppress(aiohttp.ClientError, TimeoutError):
                async with session.get(f"http://127.0.0.1:{port}/healthz") as answer:
                    if answer.status == 200:
                        return NodeProcess(name, process, port)
            await asyncio.sleep(0.2)
    process.kill()
    raise SystemExit(f"node {name} did not answer within 120 s: see {folder}")


async def wk_nodes(config: Path) -> list[dict[str, Any]]:
    """``wk nodes --json``'s nodes (it exits 1 while a dead node still holds leases)."""
    process = await asyncio.create_subprocess_exec(
        *WK, "nodes", "--json", "-c", str(config),
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    out, err = await asyncio.wait_for(process.communicate(), 120)
    if process.returncode not in (0, 1) or not out:
        raise SystemExit(f"wk nodes failed: {err.decode().strip()}")
    nodes: list[dict[str, Any]] = json.loads(out)["nodes"]
    return nodes


async def balanced(config: Path, count: int, monitors: int, within: float = 120) -> list[Any]:
    """Wait until ``count`` live nodes hold every monitor in even shares and one leads."""
    base, extra = divmod(monitors, count)
    wanted = sorted([base + 1] * extra + [base] * (count - extra))
    deadline = time.monotonic() + within
    while True:
        nodes = await wk_nodes(config)
        live = [n for n in nodes if n["live"]]
        if sorted(n["leases"] for n in live) == wanted and sum(n["leader"] for n in live) == 1:
            return live
        if time.monotonic() > deadline:
            raise SystemExit(f"not balanced after {within:g} s: {live}")
        await asyncio.sleep(0.5)


# -- one round -----------------------------------------------------------------------------
@dataclass
class Round:
    number: int
    victim: str
    victim_leases: int
    group_on_victim: int
    takeover_s: float | None
    takeover_median_s: float | None
    unchecked: int
    """Of the victim's monitors, those with no result after the kill within ``--wait``."""
    election_s: float | None
    group: list[str]
    failed_at: float
    killed_at: float
    recovered_at: float
    down: Tally = field(default_factory=Tally)
    resolved: Tally = field(default_factory=Tally)


async def wait_until(predicate: Any, within: float) -> bool:
    deadline = time.monotonic() + within
    while not predicate():
        if time.monotonic() > deadline:
            return False
        await asyncio.sleep(0.2)
    return True


async def one_round(
    number: int,
    group: list[str],
    nodes: dict[str, NodeProcess],
    site: Site,
    database: str,
    config: Path,
    args: Any,
) -> Round:
    listed = await wk_nodes(config)
    leader = next(n for n in listed if n["live"] and n["leader"])
    victim = next(p for p in nodes.values() if p.process.pid == leader["pid"])
    since = time.time()
    site.failing.update(group)
    if args.kill_after:
        await asyncio.sleep(args.kill_after)
    killed_at, held, leads = await asyncio.to_thread(leases_now, database, leader["node"])
    victim.process.send_signal(signal.SIGKILL)
    killed = time.monotonic()
    await victim.process.wait()
    if not leads:
        print(f"  round {number}: {victim.name} no longer led at the kill", file=sys.stderr)

    election = asyncio.create_task(
        asyncio.to_thread(wait_new_leader, database, leader["node"], args.ttl, args.wait)
    )
    firsts: dict[str, float] = {}
    deadline = time.monotonic() + args.wait
    while time.monotonic() < deadline:
        firsts = await asyncio.to_thread(first_results, database, held, killed_at)
        if len(firsts) == len(held):
            break
        await asyncio.sleep(0.5)
    elected_at = await election
    gaps = sorted(ts - killed_at for ts in firsts.values())

    def notified(event: str, since: float) -> set[str]:
        found = items_of(site.deliveries, event)
        return {i.monitor for i in found if i.changed_at >= since - EARLY}

    await wait_until(
        lambda: set(group) <= notified("firing", since),
        max(0.0, killed + args.wait - time.monotonic()),
    )
    recovered = time.time()
    site.failing.difference_update(group)
    await wait_until(lambda: set(group) <= notified("resolved", recovered), args.wait)

    del nodes[victim.name]
    return Round(
        number=number,
        victim=victim.name,
        victim_leases=len(held),
        group_on_victim=len(set(group) & set(held)),
        takeover_s=gaps[-1] if gaps and len(firsts) == len(held) else None,
        takeover_median_s=statistics.median(gaps) if gaps else None,
        unchecked=len(held) - len(firsts),
        election_s=None if elected_at is None else elected_at - killed_at,
        group=group,
        failed_at=since,
        killed_at=killed_at,
        recovered_at=recovered,
    )


def account(rounds: list[Round], deliveries: list[Delivery]) -> None:
    """Each round's notifications, from every delivery of the run: a round's are those about
    changes from its failures' start (its down ones) or its recovery (its resolved ones) to
    the next round's start. A change's time is its check's start, which may come a check's
    timeout before the target switched: hence ``EARLY``."""
    firing, resolved = items_of(deliveries, "firing"), items_of(deliveries, "resolved")
    for index, r in enumerate(rounds):
        end = rounds[index + 1].failed_at - EARLY if index + 1 < len(rounds) else float("inf")
        r.down = tally(firing, r.group, (r.failed_at - EARLY, end), r.killed_at)
        r.resolved = tally(resolved, r.group, (r.recovered_at - EARLY, end), r.recovered_at)


EARLY = 2.0
"""Seconds a state change's time may precede the switch of the target that caused it."""


# -- report ---------------------------------------------------------------------------------
def _s(value: float | None) -> str:
    return "-" if value is None else f"{value:.2f}"


def print_round(r: Round) -> None:
    print(
        f"{r.number:>5} {r.victim:>6} {r.victim_leases:>6} {r.group_on_victim:>5} "
        f"{_s(r.takeover_s):>9} {_s(r.takeover_median_s):>8} {r.unchecked:>5} "
        f"{_s(r.election_s):>9} "
        f"{r.down.received:>3}/{r.down.expected:<3} {r.down.lost:>4} {r.down.duplicated:>4} "
        f"{r.down.resent:>6} {r.down.stray:>5} {_s(r.down.last_s):>8} "
        f"{r.resolved.received:>3}/{r.resolved.expected:<3} {r.resolved.lost:>4} "
        f"{r.resolved.duplicated:>4}",
        flush=True,
    )


HEADER = (
    "round victim leases group takeover takeov50 unchk  election  down/exp lost  dup "
    "resent stray  notif_s  res/exp lost  dup\n"
    "                  held  on_it   max (s)  med (s)        (s)                          "
    "             (s)"
)


def spread(values: list[float]) -> str:
    if not values:
        return "n/a"
    return (
        f"min {min(values):.2f}  median {statistics.median(values):.2f}  "
        f"max {max(values):.2f}  (n={len(values)})"
    )


def summary(rounds: list[Round]) -> dict[str, Any]:
    def total(kind: str, name: str) -> int:
        return sum(getattr(getattr(r, kind), name) for r in rounds)

    return {
        "rounds": len(rounds),
        "takeover_s (kill → every monitor of the dead node checked again)": spread(
            [r.takeover_s for r in rounds if r.takeover_s is not None]
        ),
        "monitors never checked again within --wait": sum(r.unchecked for r in rounds),
        "election_s (kill → another node holds the leader lease)": spread(
            [r.election_s for r in rounds if r.election_s is not None]
        ),
        "down notified_s (kill → last group monitor's down item)": spread(
            [r.down.last_s for r in rounds if r.down.last_s is not None]
        ),
        "down notifications expected / received / lost / duplicated (resent)": (
            f"{total('down', 'expected')} / {total('down', 'received')} / "
            f"{total('down', 'lost')} / {total('down', 'duplicated')} "
            f"({total('down', 'resent')})"
        ),
        "stray down notifications (monitors not failing)": total("down", "stray"),
        "resolved notifications expected / received / lost / duplicated (resent)": (
            f"{total('resolved', 'expected')} / {total('resolved', 'received')} / "
            f"{total('resolved', 'lost')} / {total('resolved', 'duplicated')} "
            f"({total('resolved', 'resent')})"
        ),
    }


# -- the whole run --------------------------------------------------------------------------
def _create_database() -> str:
    name = f"wk_failover_{secrets.token_hex(4)}"
    with psycopg.connect(ADMIN, autocommit=True) as admin:
        admin.execute(f"create database {name}")
    return name


def _drop_database(name: str) -> None:
    with psycopg.connect(ADMIN, autocommit=True) as admin:
        admin.execute(f"drop database if exists {name} with (force)")


def _folder() -> Path:
    return Path(tempfile.mkdtemp(prefix="wk-failover-"))


async def run(args: Any, site: Site) -> list[Round]:
    database = await asyncio.to_thread(_create_database)
    folder = await asyncio.to_thread(_folder)
    await site.start()
    nodes: dict[str, NodeProcess] = {}
    names = [chr(ord("a") + i) for i in range(args.nodes)]
    rounds: list[Round] = []
    try:
        for name in names:
            await asyncio.to_thread(write_config, folder, database, site, name, args)
        config = folder / f"{names[0]}.yaml"
        for name in names:
            nodes[name] = await start_node(folder, name, 0)
        await balanced(config, args.nodes, args.monitors)
        await asyncio.sleep(args.settle)  # every monitor checked and up before the first kill
        print(
            f"{args.nodes} nodes, {args.monitors} monitors at 1 s, beat {args.beat:g} s, "
            f"ttl {args.ttl:g} s, groups of {args.group}, kill {args.kill_after:g} s after "
            f"the failures start, confirm {args.confirm}, group_wait {args.group_wait:g} s"
        )
        groups = args.monitors // args.group
        for number in range(1, args.kills + 1):
            # every ``groups``-th monitor: spread over the nodes' lease ranges
            offset = (number - 1) % groups
            group = [f"m{offset + groups * i:03d}" for i in range(args.group)]
            result = await one_round(number, group, nodes, site, database, config, args)
            rounds.append(result)
            print(
                f"round {number}: killed {result.victim}, takeover {_s(result.takeover_s)} s, "
                f"election {_s(result.election_s)} s",
                file=sys.stderr,
                flush=True,
            )
            nodes[result.victim] = await start_node(folder, result.victim, number)
            await balanced(config, args.nodes, args.monitors)
            await asyncio.sleep(args.settle)
        # a notification the dead leader claimed goes out again once its outbox lease runs
        # out (the route's timeout + 10 s after the claim): wait for the last copies
        await asyncio.sleep(args.route_timeout + 12.0)
        account(rounds, site.deliveries)
        print(HEADER)
        for result in rounds:
            print_round(result)
    finally:
        for node in nodes.values():
            if node.process.returncode is None:
                node.process.send_signal(signal.SIGTERM)
        for node in nodes.values():
            try:
                await asyncio.wait_for(node.process.wait(), 30)
            except TimeoutError:
                node.process.kill()
                await node.process.wait()
        await site.stop()
        await asyncio.to_thread(_drop_database, database)
        if os.environ.get("WK_BENCH_KEEP"):
            print(f"configs and logs kept in {folder}")
        else:
            await asyncio.to_thread(shutil.rmtree, folder, True)
    return rounds


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--kills", type=int, default=10)
    parser.add_argument("--nodes", type=int, default=3)
    parser.add_argument("--monitors", type=int, default=60)
    parser.add_argument("--group", type=int, default=10, help="monitors failing per round")
    parser.add_argument("--beat", type=float, default=1.0)
    parser.add_argument("--ttl", type=float, default=5.0)
    parser.add_argument("--kill-after", type=float, default=0.0,
                        help="seconds from the failures' start to the kill")  # fmt: skip
    parser.add_argument("--confirm", type=int, default=1)
    parser.add_argument("--group-wait", type=float, default=1.0)
    parser.add_argument("--route-timeout", type=float, default=10.0,
                        help="the webhook's timeout (its outbox lease: this + 10 s)")  # fmt: skip
    parser.add_argument("--wait", type=float, default=60.0,
                        help="longest wait for a takeover or the notifications")  # fmt: skip
    parser.add_argument("--settle", type=float, default=5.0,
                        help="seconds every monitor runs up between rounds")  # fmt: skip
    parser.add_argument(
        "--json", type=Path, help="also write the rounds, summary and every delivery here"
    )
    args = parser.parse_args()
    if args.nodes < 2 or args.kills < 1 or args.group < 1 or args.monitors < args.group:
        parser.error("need --nodes >= 2, --kills >= 1 and --monitors >= --group >= 1")
    site = Site()
    rounds = asyncio.run(run(args, site))
    print()
    figures = summary(rounds)
    for key, value in figures.items():
        print(f"{key:>74}: {value}")
    if args.json:
        args.json.write_text(
            json.dumps(
                {
                    "rounds": [asdict(r) for r in rounds],
                    "summary": figures,
                    "deliveries": [asdict(d) for d in site.deliveries],
                },
                indent=1,
            )
        )


if __name__ == "__main__":
    main()
