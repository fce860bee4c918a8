"""``wk heartbeat url NAME``: the address a cron job pings (paste it into the crontab)."""

from __future__ import annotations

import time
from typing import Annotated

import typer

from watchkeeper.checks.heartbeat import HeartbeatSettings
from watchkeeper.cli.common import ConfigOption, console, fail, load, open_store
from watchkeeper.config import DEFAULT_FILE, Config, Monitor, split_listen
from watchkeeper.errors import StoreError
from watchkeeper.store import Store, pings

heartbeat_app = typer.Typer(help="Heartbeat monitors (cron jobs that ping).", no_args_is_help=True)


@heartbeat_app.command("url")
def url(
    name: Annotated[str, typer.Argument(metavar="NAME")],
    config: ConfigOption = DEFAULT_FILE,
) -> None:
    """Print the ping URL of heartbeat monitor NAME (of the config, or defined through the
    API), and a crontab line to use it."""
    loaded = load(config)
    monitor = loaded.monitor(name) or _api_defined(loaded, name)
    if monitor is None:
        fail(f"no monitor named '{name}'")
    if monitor.kind != "heartbeat":
        fail(f"'{name}' is a {monitor.kind} monitor, not a heartbeat")
    settings = monitor.settings
    assert isinstance(settings, HeartbeatSettings)
    store = open_store(loaded)  # the UUID is made once and kept, here or by wk up
    try:
        monitor_id = store.monitor_id(monitor.name, monitor.kind)
        with store.transaction() as connection:
            uuid, _ = pings.ensure_uuid(connection, monitor_id, settings.uuid, time.time())
    finally:
        store.close()
    if loaded.server.public_url:
        base = loaded.server.public_url
    else:
        host, port = split_listen(loaded.server.listen)
        base = f"http://{'[' + host + ']' if ':' in host else host}:{port}"
    address = f"{base}/ping/{uuid}"
    print(address)
    console.print(
        f"e.g. in a crontab: ... && curl -fsS -m 10 --retry 5 -o /dev/null {address}\n"
        f"     start / fail / exit code: {address}/start  {address}/fail  {address}/$?",
        markup=False,
        style="dim",
    )


def _api_defined(config: Config, name: str) -> Monitor | None:
    """The monitor ``name`` defined through the API, if the store holds one ``wk up``
    watches (no store yet: none)."""
    from watchkeeper.engine.defined import api_monitors
    from watchkeeper.store.database import StoreMissingError

    try:
        store = Store.open(config.storage, existing=True)
    except StoreMissingError:
        return None
    except StoreError as exc:
        fail(f"{config.path}: {exc}")
    try:
        return next((m for m in api_monitors(store, config).monitors if m.name == name), None)
    finally:
        store.close()
