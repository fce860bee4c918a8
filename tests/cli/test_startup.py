"""``wk`` starts without importing what the command does not use.

Every command used to import the web server, the store, the probes' drivers and numpy before
doing anything (1.4–2.4 s). These tests run the real entry point in a fresh interpreter and
look at ``sys.modules`` when it is done: no timing, so they hold on a loaded machine. The
speed itself is measured by ``bench/cli_startup.py``.
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from watchkeeper.store import Store

# runs ``wk ARGS...`` as the console script does, then writes the names of the modules loaded
_PROBE = textwrap.dedent(
    """
    import json, sys
    out, sys.argv = sys.argv[1], ["wk", *sys.argv[2:]]
    from watchkeeper.cli import main
    try:
        main()
    except SystemExit:
        pass
    with open(out, "w") as handle:
        json.dump(sorted(sys.modules), handle)
    """
)

SERVER = {"fastapi", "uvicorn", "starlette"}
"""The web layer: only ``wk up`` serves."""
ANALYSIS = {"numpy", "scipy"}
MIGRATIONS = {"alembic", "mako"}
DRIVERS = {
    *("aiohttp", "dns", "redis", "psycopg", "pymysql", "cryptography", "prometheus_client"),
    *("websockets", "grpc", "grpc_health", "google"),  # google: protobuf, under gRPC's stubs
}
"""What the probes talk with: a config names them, loading it must not import them."""

# one monitor of each kind whose settings need no driver to validate, and each HTTP route kind
CONFIG = """\
storage: sqlite:///wk.db
notify:
  - {name: hook, webhook: "http://127.0.0.1:9/hook"}
  - {name: am, alertmanager: "http://127.0.0.1:9093"}
monitors:
  - {name: web, http: "https://127.0.0.1:9/", expect: ["status == 200"], notify: [hook]}
  - {name: port, tcp: "127.0.0.1:9", expect: ["tcp.banner contains 'ESMTP'"]}
  - {name: names, dns: {name: example.com, resolver: "127.0.0.1:53"}}
  - {name: cert, tls: "127.0.0.1:9", expect: ["cert.expires_in > 14d"]}
  - {name: cache, redis: "redis://127.0.0.1:6379"}
  - {name: scrape, prometheus: "http://127.0.0.1:9/metrics", expect: ["metric.up.value == 1"]}
  - {name: cron, heartbeat: {period: 1d, grace: 1h}}
  - {name: ping, icmp: {host: 127.0.0.1, count: 2}, expect: ["icmp.loss_pct < 50"]}
  - {name: socket, websocket: {url: "wss://127.0.0.1:9/", send: hi}}
  - {name: health, grpc: {address: "127.0.0.1:9", tls: true, service: api}}
"""


def loaded_by(tmp_path: Path, *args: str) -> set[str]:
    """The top-level packages (and the ``watchkeeper.*`` modules) ``wk ARGS...`` loaded."""
    out = tmp_path / "modules.json"
    done = subprocess.run(
        [sys.executable, "-c", _PROBE, str(out), *args],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert out.exists(), done.stderr
    names: list[str] = json.loads(out.read_text())
    return {n.split(".")[0] for n in names} | {n for n in names if n.startswith("watchkeeper.")}


@pytest.fixture
def config(tmp_path: Path) -> Path:
    path = tmp_path / "watchkeeper.yaml"
    path.write_text(CONFIG)
    return path


def test_help_imports_no_command(tmp_path: Path) -> None:
    loaded = loaded_by(tmp_path, "--help")

    assert "watchkeeper.cli.app" in loaded
    heavy = SERVER | ANALYSIS | MIGRATIONS | DRIVERS | {"sqlalchemy", "pydantic", "yaml"}
    assert loaded & heavy == set()
    assert {m for m in loaded if m.startswith("watchkeeper.cli.")} == {
        "watchkeeper.cli.app",
        "watchkeeper.cli.help",
    }


def test_validate_loads_the_config_and_nothing_that_runs_it(tmp_path: Path, config: Path) -> None:
    loaded = loaded_by(tmp_path, "validate", "-c", str(config))

    assert "watchkeeper.config.loader" in loaded  # it did validate
    heavy = SERVER | ANALYSIS | MIGRATIONS | DRIVERS | {"sqlalchemy", "apprise", "jinja2"}
    assert loaded & heavy == set()
    assert loaded & {"rich", "asyncio"} == set(), "one plain line needs no console or loop"
    assert not {
        m
        for m in loaded
        if m.startswith(("watchkeeper.store", "watchkeeper.engine", "watchkeeper.web"))
    }


def test_status_reads_the_store_without_migrations_or_analysis(
    tmp_path: Path, config: Path
) -> None:
    Store.open(f"sqlite:///{tmp_path / 'wk.db'}").close()

    loaded = loaded_by(tmp_path, "status", "-c", str(config), "--json")

    assert "watchkeeper.store.store" in loaded
    heavy = SERVER | ANALYSIS | MIGRATIONS | {"aiohttp", "apprise", "psycopg"}
    assert loaded & heavy == set()
    assert "watchkeeper.engine.scheduler" not in loaded


def test_check_imports_the_probes_but_not_the_server_or_the_store(
    tmp_path: Path, config: Path
) -> None:
    loaded = loaded_by(tmp_path, "check", "-c", str(config), "-m", "port", "--json")

    assert "watchkeeper.engine.once" in loaded
    # the store is read (SQLAlchemy): monitors defined through the API and heartbeats' pings
    assert loaded & (SERVER | ANALYSIS | MIGRATIONS | {"apprise"}) == set()
