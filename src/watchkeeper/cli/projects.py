"""``wk project add|list``: error-tracking projects and their Sentry DSNs.

A DSN is ``http(s)://<key>@<host:port>/<project id>``; its address is ``--url``, else the
config's ``server.public_url``, else ``http://`` and ``server.listen``. Whoever can read the
store can read a project's key, so the DSNs are printed in full, except a key the config
takes from ``${VAR}``, which reads as that reference.
"""

from __future__ import annotations

import getpass
import json
from typing import Annotated

import typer
from rich.table import Table
from rich.text import Text

from watchkeeper.activity import record_cli
from watchkeeper.cli.common import ConfigOption, JsonOption, console, fail, load, open_store
from watchkeeper.config import DEFAULT_FILE, Config
from watchkeeper.errors import StoreError
from watchkeeper.errortrack import projects as registry
from watchkeeper.errortrack.projects import Project, ProjectError

project_app = typer.Typer(
    help="Error-tracking projects and their Sentry DSNs.", no_args_is_help=True
)

UrlOption = Annotated[
    str | None,
    typer.Option(
        "--url",
        metavar="URL",
        help="The address SDKs reach Watchkeeper at (default: server.public_url or .listen).",
    ),
]


def base_url(config: Config, url: str | None) -> str:
    """The address a DSN names (see the module)."""
    if url is not None:
        if not url.startswith(("http://", "https://")) or len(url) < 10 or "@" in url:
            fail(f"--url: '{url}' is not an address like https://wk.example.com")
        return url.rstrip("/")
    if config.server.public_url:
        return config.server.public_url
    host, port = config.server.host, config.server.port
    shown = f"[{host}]" if ":" in host else host
    return f"http://{shown}:{port}"


def _unspecified(base: str) -> bool:
    return "://0.0.0.0:" in base or "://[::]:" in base


def _projects(config: Config) -> list[Project]:
    store = open_store(config)  # registers the config's projects: they get their ids here
    try:
        stored = registry.register_config(store, config)
    except StoreError as exc:
        fail(f"{config.path}: {exc}")
    finally:
        store.close()
    return sorted(registry.build(config, stored).values(), key=lambda p: p.id)


def _json(project: Project, base: str) -> dict[str, object]:
    return {
        "id": project.id,
        "name": project.name,
        "source": project.source,
        "dsn": project.shown_dsn(base),
        "rate_limit": str(project.settings.rate_limit),
        "origins": list(project.settings.origins),
        "notify": list(project.settings.notify),
    }


@project_app.command("add")
def add_project(
    name: Annotated[str, typer.Argument(metavar="NAME")],
    rate_limit: Annotated[
        str | None,
        typer.Option("--rate-limit", metavar="N/DURATION", help="e.g. 600/m (default 1000/m)."),
    ] = None,
    origin: Annotated[
        list[str] | None,
        typer.Option(
            "--origin", metavar="ORIGIN", help="A browser origin that may send (any if none)."
        ),
    ] = None,
    notify: Annotated[
        list[str] | None,
        typer.Option("--notify", metavar="ROUTE", help="A route told of new issues."),
    ] = None,
    url: UrlOption = None,
    config: ConfigOption = DEFAULT_FILE,
    as_json: JsonOption = False,
) -> None:
    """Make a project with a new key and print its DSN (a running wk up takes it within
    seconds)."""
    loaded = load(config)
    base = base_url(loaded, url)
    spec: dict[str, object] = {"name": name, "origins": origin or [], "notify": notify or []}
    if rate_limit is not None:
        spec["rate_limit"] = rate_limit
    store = open_store(loaded)
    try:
        registry.register_config(store, loaded)
        made = registry.create(store, loaded, spec, by=getpass.getuser())
        project = registry.build(loaded, [made])[made.id]
        record_cli(store, "project.create", name, detail=spec)
    except (ProjectError, StoreError) as exc:
        fail(f"project '{name}': {exc}")
    finally:
        store.close()
    if as_json:
        print(json.dumps(_json(project, base)))
        return
    console.print(f"project '{project.name}' (id {project.id}); its DSN:", markup=False)
    print(project.dsn(base))
    if _unspecified(base):
        console.print(
            "that address is where wk up listens, not where SDKs reach it: pass --url", markup=False
        )


@project_app.command("list")
def list_projects(
    url: UrlOption = None, config: ConfigOption = DEFAULT_FILE, as_json: JsonOption = False
) -> None:
    """Projects with their ids and DSNs (the config's are registered first)."""
    loaded = load(config)
    base = base_url(loaded, url)
    found = _projects(loaded)
    if as_json:
        print(json.dumps([_json(p, base) for p in found], indent=2))
        return
    if not found:
        console.print("no projects yet: wk project add NAME (or projects: in the config)")
        return
    table = Table(box=None, pad_edge=False, header_style="bold")
    for column in ("id", "name", "source", "rate limit", "origins", "dsn"):
        table.add_column(column, no_wrap=column == "dsn")
    for project in found:
        table.add_row(
            str(project.id),
            Text(project.name),
            project.source,
            str(project.settings.rate_limit),
            Text(", ".join(project.settings.origins) or "any"),
            Text(project.shown_dsn(base)),
        )
    console.print(table)
