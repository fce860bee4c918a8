"""``wk up``: the main job — engine plus HTTP server — until SIGINT/SIGTERM."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
import time
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.logging import RichHandler
from rich.text import Text

from watchkeeper import __version__
from watchkeeper.cli.common import ConfigOption, console, fail, load, open_store
from watchkeeper.cli.runfile import RunFiles
from watchkeeper.config import DEFAULT_FILE, Config, Monitor, is_loopback, parse_config
from watchkeeper.config import split_listen as _split
from watchkeeper.errors import ConfigError
from watchkeeper.model import Result, State, Transition
from watchkeeper.state import MonitorStatus
from watchkeeper.units import format_duration, plural

if TYPE_CHECKING:
    from watchkeeper.demo.targets import DemoTargets
    from watchkeeper.demo.traffic import DemoTraffic
    from watchkeeper.engine.defined import Defined
    from watchkeeper.engine.filewatch import Seen
    from watchkeeper.engine.reload import Outcome, Reloader
    from watchkeeper.engine.service import Engine
    from watchkeeper.store import Store


def up(
    config: ConfigOption = DEFAULT_FILE,
    demo: Annotated[bool, typer.Option("--demo", help="Watch built-in demo services.")] = False,
    listen: Annotated[
        str | None, typer.Option("--listen", metavar="HOST:PORT", help="Overrides server.listen.")
    ] = None,
    verbose: Annotated[bool, typer.Option("--verbose", "-v", help="Print every result.")] = False,
    watch: Annotated[
        bool,
        typer.Option(
            "--watch", help="Reload the config when it (or a ${file:...} it reads) changes."
        ),
    ] = False,
) -> None:
    """Run the engine and the web server until interrupted. SIGHUP (or wk reload) applies a
    changed config file without a restart."""
    logging.basicConfig(
        level=logging.INFO if verbose else logging.WARNING,
        format="%(message)s",
        handlers=[RichHandler(console=console, show_path=False, rich_tracebacks=False)],
    )
    if listen is not None:
        try:
            _split(listen)
        except ValueError as exc:
            fail(f"--listen: {exc}")
    loaded = None if demo else load(config)
    if loaded is None and listen is not None and not is_loopback(_split(listen)[0]):
        fail(f"refusing to listen on {listen}: the demo binds loopback only")
    with contextlib.suppress(KeyboardInterrupt):
        _run(loaded, listen, verbose=verbose or demo, watch=watch and not demo)


def _refuse_public_bind(listen: str, store: Store, config: Config) -> None:
    """A non-loopback address only once somebody can log in: until then the dashboard's
    first-run page would let anyone on the network make themselves admin."""
    from watchkeeper.auth import Auth

    host, _ = _split(listen)
    if not is_loopback(host) and not Auth(store).has_admin():
        store.close()
        fail(
            f"refusing to listen on {listen}: nobody can log in yet. Add an admin first "
            f"(wk user add NAME --role admin -c {config.path}), or listen on 127.0.0.1."
        )


def _run(config: Config | None, listen: str | None, *, verbose: bool, watch: bool) -> None:
    try:
        import uvloop
    except ImportError:  # pragma: no cover - uvloop is a dependency where it builds
        asyncio.run(_main(config, listen, verbose, watch))
    else:
        uvloop.run(_main(config, listen, verbose, watch))


async def _main(config: Config | None, listen: str | None, verbose: bool, watch: bool) -> None:
    demo_targets = None
    if config is None:
        from watchkeeper.demo.config import demo_yaml
        from watchkeeper.demo.targets import DemoTargets

        demo_targets = DemoTargets(on_notification=_print_notification)
        await demo_targets.start()
        config = _demo_config(
            demo_yaml(demo_targets.http_port, demo_targets.https_port, demo_targets.smtp_port)
        )
    try:
        await _serve(config, listen, verbose, demo=demo_targets, watch=watch)
    finally:
        if demo_targets is not None:
            await demo_targets.stop()


def _demo_config(text: str) -> Config:
    folder = Path(os.environ.get("XDG_STATE_HOME") or Path.home() / ".local" / "state")
    folder = folder / "watchkeeper"
    folder.mkdir(parents=True, exist_ok=True)
    database = folder / "demo.db"
    for stale in (database, Path(f"{database}-wal"), Path(f"{database}-shm")):
        stale.unlink(missing_ok=True)
    path = folder / "demo.yaml"
    path.write_text(text, encoding="utf-8")
    try:
        return parse_config(text, str(path))
    except ConfigError as exc:  # pragma: no cover - the demo config is tested
        fail(str(exc))


async def _serve(
    config: Config,
    listen: str | None,
    verbose: bool,
    demo: DemoTargets | None,
    watch: bool,
) -> None:
    from watchkeeper.engine.reload import Reloader
    from watchkeeper.engine.runtime import tune_for_long_run
    from watchkeeper.engine.service import Engine
    from watchkeeper.web.app import create_app
    from watchkeeper.web.connections import ConnectionLimits
    from watchkeeper.web.server import WebServer

    store = await asyncio.to_thread(open_store, config)
    host, port = _split(listen or config.server.listen)
    await asyncio.to_thread(_refuse_public_bind, listen or config.server.listen, store, config)
    defined = await asyncio.to_thread(_api_monitors, store, config)
    demo_login = await asyncio.to_thread(_demo_admin, store) if demo is not None else None
    engine = Engine(
        config,
        store,
        startup_spread=2.0 if demo is not None else config.engine.startup_spread,
        extra_monitors=tuple(defined.monitors),
        broken_monitors=tuple(defined.broken),
    )
    engine.listeners.append(_TransitionPrinter())
    if verbose:
        engine.result_listeners.append(_print_result)
    run_files = None if demo is not None else RunFiles(config.path)
    reloader = (
        None if demo is not None else Reloader(engine, on_outcome=partial(_reloaded, run_files))
    )
    app = create_app(
        engine,
        loopback=is_loopback(host),
        secure_cookies=bool(
            config.server.public_url and config.server.public_url.startswith("https")
        ),
        demo_login=demo_login,
        reloader=reloader,
    )
    server = WebServer(
        app,
        host,
        port,
        ConnectionLimits(
            per_address=config.server.connections_per_address,
            trusted=config.server.trusted_proxies,
        ),
    )
    stop = asyncio.Event()

    def on_signal() -> None:
        if stop.is_set():  # a second Ctrl-C or TERM: do not wait for anything any more
            console.print("quitting at once; results not yet written are lost")
            os._exit(130)
        stop.set()

    def on_hangup() -> None:
        if reloader is None:
            console.print("SIGHUP: the demo has no config file to reload")
        elif not stop.is_set():
            reloader.request("SIGHUP")

    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, on_signal)
    loop.add_signal_handler(signal.SIGHUP, on_hangup)  # asked before we serve: served after
    watched: dict[str, Seen] | None = None
    if watch:  # the files as read, before anyone can see the server up and change them
        from watchkeeper.engine.filewatch import snapshot
        from watchkeeper.lanes import RELOAD

        watched = await RELOAD.run(snapshot, list(config.files or (config.path,)))
    await engine.start()  # states are restored before the API can be asked about them
    tune_for_long_run()
    try:
        await server.start()
    except OSError as exc:
        await engine.stop(grace=0.5)
        await asyncio.to_thread(store.close)
        fail(f"cannot listen on {host}:{port}: {exc}")
    _banner(
        config,
        store.url,
        host,
        port,
        demo is not None,
        demo_login,
        len(defined.monitors),
        demo_site_port=demo.http_port if demo is not None else 0,
    )
    tasks = [asyncio.create_task(_tick(engine))]
    traffic = await _demo_traffic(engine, demo, host, port) if demo is not None else None
    if reloader is not None and run_files is not None:
        tasks += _reloading(engine, reloader, watched)
        await asyncio.to_thread(_announce, run_files)
    try:
        await stop.wait()
    finally:
        console.print(
            "stopping: finishing checks in flight and flushing results "
            "(interrupt again to quit at once)…"
        )
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        if traffic is not None:
            await traffic.stop()
        if run_files is not None:
            await asyncio.to_thread(run_files.withdraw)
        await server.stop()
        running = engine.config  # as the last reload left it
        await engine.stop(
            grace=min(10.0, max((m.timeout for m in running.monitors), default=1.0)),
            flush_timeout=running.engine.flush_timeout,
        )
        written = engine.writer.written if engine.writer else 0
        unwritten = engine.writer.unwritten if engine.writer else 0
        await asyncio.to_thread(store.close)
        lost = f"; {unwritten} could not be written (the store did not answer)" if unwritten else ""
        console.print(f"stopped; {plural(written, 'result')} written this run{lost}.")


async def _demo_traffic(
    engine: Engine, demo: DemoTargets, host: str, port: int
) -> DemoTraffic | None:
    """The demo shop's simulated users: errors from its app, web vitals from its pages."""
    from watchkeeper.demo.traffic import DemoTraffic

    project = engine.errors.by_name("shop")
    if project is None:  # pragma: no cover - the demo config has the project
        return None
    demo.watchkeeper_url = f"http://{host}:{port}"
    site = f"http://127.0.0.1:{demo.http_port}"
    traffic = DemoTraffic(demo.watchkeeper_url, project.id, site, demo.checkout_failures)
    await traffic.start()
    return traffic


def _reloading(
    engine: Engine, reloader: Reloader, watched: dict[str, Seen] | None
) -> list[asyncio.Task[None]]:
    """Serve reloads (SIGHUP, wk reload, the API), and with ``watched`` (``--watch``: the
    config's files as they were at the start) ask for one whenever they change."""
    from watchkeeper.engine.filewatch import watch_files

    tasks = [asyncio.create_task(reloader.serve(), name="reload")]
    if watched is not None:
        files = watch_files(
            lambda: engine.config.files or (engine.config.path,),
            partial(reloader.request, "file changed"),
            start=watched,
        )
        tasks.append(asyncio.create_task(files, name="config-watch"))
    return tasks


def _announce(run_files: RunFiles) -> None:
    """Let ``wk reload`` find this process; without it, SIGHUP still reloads."""
    try:
        run_files.announce()
    except OSError as exc:
        console.print(
            f"wk reload will not find this server ({run_files.process_file}: "
            f"{exc.strerror or exc}); SIGHUP still reloads",
            markup=False,
        )


async def _reloaded(run_files: RunFiles | None, outcome: Outcome) -> None:
    """Say what a reload did, here and to ``wk reload``."""
    for line in outcome.lines():
        console.print(Text(f"{time.strftime('%H:%M:%S')}  {line}"))
    if run_files is not None:
        try:
            await asyncio.to_thread(run_files.record, outcome.to_json())
        except OSError as exc:
            console.print(f"cannot tell wk reload what the reload did: {exc}", markup=False)


def _api_monitors(store: Store, config: Config) -> Defined:
    """The monitors defined through the API; each one left out is said once, here."""
    from watchkeeper.engine.defined import api_monitors

    defined = api_monitors(store, config)
    for line in defined.lines():
        console.print(line, markup=False)
    return defined


def _demo_admin(store: Store) -> tuple[str, str]:
    """The demo's admin, with a fresh password each run (the demo's store is new too)."""
    import secrets

    from watchkeeper.auth import Auth

    password = secrets.token_urlsafe(12)
    Auth(store).add_user("demo", password, "admin")
    return "demo", password


def _banner(
    config: Config,
    store_url: str,
    host: str,
    port: int,
    demo: bool,
    demo_login: tuple[str, str] | None = None,
    through_api: int = 0,
    demo_site_port: int = 0,
) -> None:
    shown = f"[{host}]" if ":" in host else host
    store_url = store_url.removeprefix("sqlite:///")  # a SQLite store is a file: show its path
    counted = plural(len(config.monitors), "monitor") + (
        f" (+{through_api} defined through the API)" if through_api else ""
    )
    console.print(
        f"[bold]Watchkeeper {__version__}[/] — {counted}, "
        f"http://{shown}:{port}/  (store: {store_url})",
        markup=True,
        highlight=False,
    )
    if demo:
        from watchkeeper.demo.config import EXPLAINED

        name, password = demo_login or ("", "")
        console.print(
            f"demo: watching {plural(len(config.monitors), 'service')} started in this process.\n"
            f"  dashboard: http://{shown}:{port}/  (log in as {name}, password {password})\n"
            f"  status page: http://{shown}:{port}/status\n"
            f"  the shop's errors (Sentry SDK events): http://{shown}:{port}/errors, "
            f"wk errors -c {config.path}\n"
            f"  its visitors' Core Web Vitals: http://{shown}:{port}/vitals "
            f"(open the shop, http://127.0.0.1:{demo_site_port}/, to add yours)\n"
            f"  wk status -c {config.path}\n"
            f"  wk token create --scope read -c {config.path}   (then curl -H "
            f"'Authorization: Bearer …' http://{shown}:{port}/api/v1/monitors)\n"
            + "".join(f"  {name} is {why}\n" for name, why in EXPLAINED.items())
            + "Ctrl-C stops.",
            markup=False,
        )


_STYLE = {
    State.UP: "green",
    State.DOWN: "bold red",
    State.DEGRADED: "yellow",
    State.FLAPPING: "magenta",
    State.UNKNOWN: "dim",
    State.PAUSED: "dim",
}


class _TransitionPrinter:
    """Print state changes as they come, but not a first sighting that is up (nothing to
    tell) and at most ``PER_SECOND`` a second: at tens of thousands of monitors a storm of
    lines would hold up the event loop. What is left out is counted in one line."""

    PER_SECOND = 20

    def __init__(self) -> None:
        self.second = 0
        self.shown = 0
        self.held = 0

    def __call__(self, monitor: Monitor, transition: Transition, status: MonitorStatus) -> None:
        if transition.from_state is State.UNKNOWN and transition.to_state is State.UP:
            return
        second = int(time.monotonic())
        if second != self.second:
            if self.held:
                console.print(f"… and {self.held:,} more state changes (wk status shows them)")
            self.second, self.shown, self.held = second, 0, 0
        if self.shown >= self.PER_SECOND:
            self.held += 1
            return
        self.shown += 1
        _print_transition(monitor, transition)


def _print_transition(monitor: Monitor, transition: Transition) -> None:
    stamp = time.strftime("%H:%M:%S", time.localtime(transition.at))
    line = Text(f"{stamp}  ")
    line.append(
        f"{monitor.name} {transition.from_state} → {transition.to_state}",
        style=_STYLE.get(transition.to_state, ""),
    )
    if transition.reason:
        line.append(f"  {transition.reason}")
    console.print(line)


def _print_notification(document: dict[str, Any]) -> None:
    """The demo inbox got a notification: show it as a chat would."""
    stamp = time.strftime("%H:%M:%S")
    line = Text(f"{stamp}  ")
    line.append(f"📨 inbox: {document.get('title', '')}", style="bold magenta")
    console.print(line)
    for text in str(document.get("text", "")).splitlines():
        if text.strip():
            console.print(Text(f"          {text}", style="magenta"))


def _print_result(monitor: Monitor, result: Result) -> None:
    stamp = time.strftime("%H:%M:%S", time.localtime(result.started_at))
    latency = format_duration(result.latency) if result.latency is not None else "-"
    line = Text(f"{stamp}  ", style="dim")
    line.append("✓ " if result.ok else "✗ ", style="green" if result.ok else "red")
    line.append(f"{monitor.name:<12} {latency:>7}", style="dim" if result.ok else "")
    if result.reason:
        line.append(f"  {result.reason}", style="red")
    console.print(line)


async def _tick(engine: Engine, every: float = 60.0) -> None:
    while True:
        await asyncio.sleep(every)
        counts: dict[str, int] = {}
        for status in engine.status.values():
            counts[str(status.state)] = counts.get(str(status.state), 0) + 1
        scheduler = engine.scheduler
        states = ", ".join(f"{n} {s}" for s, n in sorted(counts.items()))
        if scheduler:
            console.print(
                f"[dim]{time.strftime('%H:%M:%S')}  {states}; {scheduler.stats.completed} "
                f"checks, lag p99 {format_duration(scheduler.stats.lag_seconds(99))}[/]"
            )
