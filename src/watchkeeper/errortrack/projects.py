"""The projects events may be sent to, as the tracker holds them: the config's and those
made at run time (in the store), each with its id, key and settings."""

from __future__ import annotations

import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from pydantic import ValidationError

from watchkeeper.config import Config
from watchkeeper.config.messages import describe, unknown
from watchkeeper.config.projects import (
    ProjectConfig,
    ProjectFields,
    project_from_fields,
)
from watchkeeper.errors import WatchkeeperError
from watchkeeper.errortrack import keys
from watchkeeper.store import Store
from watchkeeper.store.projects import API, CONFIG, ProjectTaken, StoredProject


class ProjectError(WatchkeeperError):
    """A project that cannot be made as asked: one line saying why; ``taken`` when its
    name is."""

    def __init__(self, message: str, *, taken: bool = False) -> None:
        super().__init__(message)
        self.taken = taken


@dataclass(frozen=True, slots=True)
class Project:
    id: int
    name: str
    key: str
    source: str
    """``config`` or ``api``."""
    settings: ProjectConfig
    key_is_secret: bool = False
    """The key comes from a ``${...}`` of the config: never shown, not even to writers."""
    created_at: float = 0.0
    created_by: str | None = None

    def dsn(self, base_url: str) -> str:
        return keys.dsn(base_url, self.key, self.id)

    def shown_dsn(self, base_url: str) -> str:
        """The DSN as it may be shown to a writer: the key masked when it is a secret (then
        as the config writes it, ``${SHOP_KEY}``)."""
        if not self.key_is_secret:
            return self.dsn(base_url)
        return keys.dsn(base_url, self.settings.key_reference or "***", self.id)


def build(config: Config, stored: Iterable[StoredProject]) -> dict[int, Project]:
    """Every project that can take events, by id: the config's (settings and, when given,
    key from the config) and the store's own. A stored config project that is no longer in
    the config takes no events."""
    configured = {project.name: project for project in config.projects}
    found: dict[int, Project] = {}
    for row in stored:
        if row.source == CONFIG:
            settings = configured.get(row.name)
            if settings is None:
                continue
            key = settings.key or row.public_key
            if key is None:
                continue  # registered by a node that read an older config: its next sync
            found[row.id] = Project(
                row.id,
                row.name,
                key,
                CONFIG,
                settings,
                key_is_secret=settings.key is not None and settings.key_reference is not None,
                created_at=row.created_at,
            )
        elif row.source == API and row.public_key and row.name not in configured:
            found[row.id] = Project(
                row.id,
                row.name,
                row.public_key,
                API,
                stored_settings(row.name, row.settings),
                created_at=row.created_at,
                created_by=row.created_by,
            )
    return found


def stored_settings(name: str, settings: Mapping[str, object]) -> ProjectConfig:
    """An API project's settings as stored; defaults for what does not validate (it did
    when it was stored)."""
    try:
        return project_from_fields(ProjectFields.model_validate({"name": name, **settings}))
    except ValueError:
        return ProjectConfig(name=name)


def register_config(store: Store, config: Config) -> list[StoredProject]:
    """Register the config's projects in the store (blocking); every stored project."""
    wanted = {project.name: project.key is not None for project in config.projects}
    if wanted:
        store.ensure_error_projects(wanted, time.time(), keys.new_key)
    return store.error_projects()


def create(
    store: Store,
    config: Config,
    spec: Mapping[str, object],
    by: str | None = None,
) -> StoredProject:
    """Make a project at run time (``wk project add``, ``POST /api/v1/projects``) from
    ``spec`` (``name``, and optionally ``rate_limit``, ``origins``, ``notify``), with a new
    key. Blocking. ProjectError: the spec does not validate, a route it names is not in the
    config, or the name is taken (by the config or the store)."""
    if "key" in spec:
        raise ProjectError("a project made here gets a new key: give keys in the config")
    try:
        fields = ProjectFields.model_validate(dict(spec))
    except ValidationError as exc:
        error = exc.errors()[0]
        raise ProjectError(describe(error, ProjectFields, (), spec)) from None
    routes = sorted(route.name for route in config.routes)
    for route in fields.notify:
        if route not in routes:
            raise ProjectError(unknown("notify route", route, routes))
    if any(project.name == fields.name for project in config.projects):
        raise ProjectError(f"project '{fields.name}' is defined in the config", taken=True)
    settings = project_from_fields(fields).settings_json()
    try:
        return store.add_error_project(fields.name, keys.new_key(), settings, time.time(), by)
    except ProjectTaken as exc:
        raise ProjectError(str(exc), taken=True) from None
