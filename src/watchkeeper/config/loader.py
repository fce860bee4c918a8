"""Load ``watchkeeper.yaml`` into a validated Config, or fail with located, one-line errors."""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from pathlib import Path as FilePath
from typing import Any, Literal, TypeVar

from pydantic import BaseModel

from watchkeeper import checks
from watchkeeper.config.experiments import load_experiments
from watchkeeper.config.interpolate import InterpolationError, interpolate, redact
from watchkeeper.config.maintenance import load_maintenance
from watchkeeper.config.messages import closest, unknown, unknown_key
from watchkeeper.config.models import (
    LOCAL,
    MACHINE_KINDS,
    AgentsConfig,
    ClusterConfig,
    Config,
    Defaults,
    EngineConfig,
    MaintenanceWindow,
    Monitor,
    MonitorFields,
    RetentionConfig,
    Route,
    ServerConfig,
    StatusPage,
)
from watchkeeper.config.projects import load_projects
from watchkeeper.config.reporting import Reporter
from watchkeeper.config.routes import load_routes
from watchkeeper.config.yamlsource import Path, line_of, load_with_lines
from watchkeeper.errors import ConfigError, ExpectationError
from watchkeeper.expect import PHASE_SUBJECTS, Expectation, compile_expectation
from watchkeeper.redact import mask_url
from watchkeeper.rum.pages import OTHER
from watchkeeper.rum.settings import RumConfig
from watchkeeper.units import format_duration

DEFAULT_FILE = "watchkeeper.yaml"
LOCAL_ONLY = frozenset({"heartbeat", "slo", "backup", "drill", "host", "rum"})
"""Kinds that look at what only the nodes have (their pings, store, files, machine): never
checked from an agent's location."""
_SECTIONS: dict[str, type[BaseModel] | None] = {
    "storage": None,
    "server": ServerConfig,
    "engine": EngineConfig,
    "defaults": Defaults,
    "retention": RetentionConfig,
    "notify": None,
    "monitors": None,
    "maintenance": None,
    "status_pages": None,
    "slos": None,
    "cluster": ClusterConfig,
    "projects": None,
    "rum": None,
    "agents": AgentsConfig,
    "experiments": None,
}
_SLO_KEYS = ("monitor", "objective", "window", "latency")
_MAX_CONFIG = 32 * 1024 * 1024


def load_config(path: str | os.PathLike[str], env: Mapping[str, str] | None = None) -> Config:
    """Read and validate a config file. Raises ConfigError (with every problem found)."""
    filename = os.fspath(path)
    try:
        with open(filename, "rb") as handle:
            raw = handle.read(_MAX_CONFIG + 1)
    except OSError as exc:
        raise ConfigError(f"cannot read config ({exc.strerror or exc})", file=filename) from None
    if len(raw) > _MAX_CONFIG:
        raise ConfigError("config file larger than 32 MiB", file=filename)
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ConfigError(f"config is not UTF-8 text (byte {exc.start})", file=filename) from None
    return parse_config(text, filename, env=os.environ if env is None else env)


def parse_config(text: str, filename: str, env: Mapping[str, str] | None = None) -> Config:
    """Validate config ``text``; ``filename`` locates errors and relative storage paths."""
    loader = _Loader(filename, os.environ if env is None else env)
    return loader.load(text)


def load_api_monitor(spec: Any, config: Config, others: Iterable[Monitor]) -> Monitor:
    """Validate a monitor sent to the API: the JSON form of one ``monitors:`` entry, with the
    config's defaults and routes. ``others`` are the monitors it may depend on. ``${...}``
    is refused: secrets live in the config file, not in what the API stores. Raises
    ConfigError; its problems name the monitor (their file is ``api``)."""
    loader = _Loader("api", {})
    loader.raw = {"monitors": [spec]}
    nul = _nul_at(spec)
    if nul is not None:
        loader.problem(f"{nul}: text cannot hold a NUL character (U+0000)", ("monitors", 0), "")
        raise ConfigError.collect(loader.problems)
    if _has_substitution(spec):
        loader.problem(
            "${...} substitution is only for the config file: put secrets there",
            ("monitors", 0),
        )
        raise ConfigError.collect(loader.problems)
    monitor = loader.load_monitor(spec, ("monitors", 0), config.defaults)
    if monitor is not None:
        known = [m for m in others if m.name != monitor.name]
        loader.check_references([*known, monitor], {r.name for r in config.routes}, [spec])
    if loader.problems or monitor is None:
        raise ConfigError.collect(loader.problems or [ConfigError("not a monitor", file="api")])
    return monitor


def load_agent_monitors(entries: Any) -> list[Monitor]:
    """The monitors an agent is sent (``/api/v1/agent/assignment``): ``monitors:`` entries
    as the server loaded them, secrets already substituted, so nothing is interpolated
    again. Raises ConfigError (file ``assignment``) with every problem."""
    loader = _Loader("assignment", {})
    loader.raw = {"monitors": entries}
    if not isinstance(entries, list):
        raise ConfigError("the assignment's monitors are not a list", file="assignment")
    monitors: list[Monitor] = []
    for index, item in enumerate(entries):
        monitor = loader.load_monitor(item, ("monitors", index), Defaults())
        if monitor is not None:
            monitors.append(monitor)
    if loader.problems:
        raise ConfigError.collect(loader.problems)
    return monitors


def load_api_maintenance(spec: Any, monitors: Iterable[str]) -> MaintenanceWindow:
    """Validate a maintenance window sent to the API (the JSON form of one ``maintenance:``
    entry). Raises ConfigError (file ``api``)."""
    loader = _Loader("api", {})
    loader.raw = {"maintenance": [spec]}
    nul = _nul_at(spec)
    if nul is not None:
        loader.problem(f"{nul}: text cannot hold a NUL character (U+0000)", ("maintenance", 0))
        raise ConfigError.collect(loader.problems)
    windows = load_maintenance(loader, [spec])
    if windows:
        loader.check_windows(windows, set(monitors))
    if loader.problems or not windows:
        raise ConfigError.collect(loader.problems or [ConfigError("not a window", file="api")])
    return windows[0]


def uuid_taken(uuid: str, holder: str, line: int | None = None) -> str:
    """The one line for a heartbeat UUID another monitor has."""
    where = f" (line {line})" if line else ""
    return (
        f"heartbeat uuid {uuid} is already used by monitor '{holder}'{where}: "
        "each heartbeat needs its own (leave uuid out to get a new one)"
    )


def _nul_at(value: Any, where: str = "") -> str | None:
    """Where in an API document a text holds a NUL (no store can keep one; PostgreSQL
    refuses it), e.g. ``http.headers``; None when none does."""
    if isinstance(value, str):
        return (where or "the value") if "\x00" in value else None
    items: Iterable[tuple[Any, Any]] = ()
    if isinstance(value, dict):
        items = value.items()
    elif isinstance(value, list):
        items = ((f"[{index}]", item) for index, item in enumerate(value))
    for key, item in items:
        here = f"{where}{key}" if str(key).startswith("[") or not where else f"{where}.{key}"
        if "\x00" in str(key):
            return where or "a key"
        found = _nul_at(item, here)
        if found is not None:
            return found
    return None


def _has_substitution(value: Any) -> bool:
    if isinstance(value, str):
        return "${" in value
    if isinstance(value, dict):
        return any(_has_substitution(v) for v in value.values())
    if isinstance(value, list):
        return any(_has_substitution(v) for v in value)
    return False


class _Loader(Reporter):
    def __init__(self, filename: str, env: Mapping[str, str]) -> None:
        super().__init__(filename)
        self.env = env
        self.compiled: dict[tuple[str, str, bool], Expectation] = {}
        self.files: set[str] = set()

    # -- the whole file ----------------------------------------------------------------------
    def load(self, text: str) -> Config:
        data, self.lines = load_with_lines(text, self.filename)
        if data is None:
            data = {}
        self.raw = data
        if not isinstance(data, dict):
            raise ConfigError(
                "the config must be a mapping of sections (monitors:, ...)",
                file=self.filename,
                line=1,
            )
        data = self.interpolate(data, ())
        for key in data:
            if key not in _SECTIONS:
                self.problem(unknown_key(str(key), list(_SECTIONS)), (key,))
        sections = {
            name: self.validate(model, data.get(name) or {}, (name,))
            for name, model in _SECTIONS.items()
            if model is not None
        }
        storage = data.get("storage", "sqlite:///watchkeeper.db")
        if not isinstance(storage, str):
            self.problem("storage must be a URL like sqlite:///watchkeeper.db", ("storage",))
            storage = "sqlite:///watchkeeper.db"
        defaults: Defaults = sections["defaults"] or Defaults()
        routes = load_routes(self, data.get("notify"))
        names = {route.name for route in routes}
        self.check_routes(defaults.notify, names, ("defaults", "notify"))
        if defaults.escalate:
            self.check_routes(defaults.escalate.to, names, ("defaults", "escalate", "to"))
        monitors = self.load_monitors(data.get("monitors"), defaults, routes)
        monitors += self.load_slos(data.get("slos"), defaults, routes, monitors)
        rum = self.load_rum(data.get("rum"), monitors)
        maintenance = load_maintenance(self, data.get("maintenance"))
        self.check_windows(maintenance, {m.name for m in monitors})
        pages = self.load_status_pages(data.get("status_pages"), monitors)
        raw = self.raw.get("projects") if isinstance(self.raw, dict) else None
        projects = load_projects(self, data.get("projects"), raw, names)
        experiments = load_experiments(self, data.get("experiments"), monitors)
        if self.problems:
            raise ConfigError.collect(self.problems)
        return Config(
            path=os.path.abspath(self.filename),
            storage=resolve_storage(storage, self.filename),
            server=sections["server"],
            engine=sections["engine"],
            defaults=defaults,
            retention=sections["retention"],
            routes=tuple(routes),
            monitors=tuple(monitors),
            secrets=frozenset(self.secrets),
            maintenance=tuple(maintenance),
            status_pages=tuple(pages),
            files=(os.path.abspath(self.filename), *sorted(self.files)),
            cluster=sections["cluster"] or ClusterConfig(),
            projects=tuple(projects),
            rum=rum,
            agents=sections["agents"] or AgentsConfig(),
            experiments=tuple(experiments),
        )

    def interpolate(self, value: Any, path: Path) -> Any:
        if isinstance(value, str):
            try:
                return interpolate(value, self.env, self.secrets, self.files)
            except InterpolationError as exc:
                self.problem(str(exc), path)
                return value
        if isinstance(value, dict):
            return {k: self.interpolate(v, (*path, k)) for k, v in value.items()}
        if isinstance(value, list):
            return [self.interpolate(v, (*path, i)) for i, v in enumerate(value)]
        return value

    # -- monitors ----------------------------------------------------------------------------
    def load_monitors(self, data: Any, defaults: Defaults, routes: list[Route]) -> list[Monitor]:
        if data is None:
            return []
        if not isinstance(data, list):
            self.problem(
                "monitors must be a list, e.g. - {name: api, http: https://...}", ("monitors",)
            )
            return []
        monitors: list[Monitor] = []
        first_line: dict[str, int | None] = {}
        uuids: dict[str, Monitor] = {}
        for index, item in enumerate(data):
            path: Path = ("monitors", index)
            monitor = self.load_monitor(item, path, defaults)
            if monitor is None:
                continue
            if monitor.name in first_line:
                self.problem(
                    f"duplicate monitor name (first defined at line {first_line[monitor.name]})",
                    (*path, "name"),
                    monitor.name,
                )
                continue
            uuid = monitor.heartbeat_uuid
            if uuid is not None and uuid in uuids:
                self.problem(
                    uuid_taken(uuid, uuids[uuid].name, uuids[uuid].line),
                    (*path, "heartbeat", "uuid"),
                    monitor.name,
                )
                continue
            if uuid is not None:
                uuids[uuid] = monitor
            first_line[monitor.name] = monitor.line
            monitors.append(monitor)
            drill = drill_monitor(monitor)
            if drill is not None:
                if drill.name in first_line:
                    self.problem(
                        f"its drill is named '{drill.name}', which is taken "
                        f"(line {first_line[drill.name]})",
                        (*path, "backup", "drill"),
                        monitor.name,
                    )
                    continue
                first_line[drill.name] = monitor.line
                monitors.append(drill)
        self.check_references(monitors, {route.name for route in routes}, data)
        return monitors

    def load_slos(
        self, data: Any, defaults: Defaults, routes: list[Route], monitors: list[Monitor]
    ) -> list[Monitor]:
        """``slos:`` entries, as monitors of kind ``slo`` (evaluated every 30 s by default),
        and the checks every SLO monitor (from either section) must pass: it watches a
        monitor that exists and is not an SLO."""
        found: list[Monitor] = []
        names = {m.name: m for m in monitors}
        if data is not None and not isinstance(data, list):
            self.problem(
                "slos must be a list, e.g. - {name: api-slo, monitor: api, objective: 99.9%}",
                ("slos",),
            )
            data = None
        for index, item in enumerate(data or []):
            path: Path = ("slos", index)
            if not isinstance(item, dict):
                self.problem("an SLO must be a mapping: {name, monitor, objective}", path)
                continue
            spec = {key: item[key] for key in _SLO_KEYS if key in item}
            rest = {key: value for key, value in item.items() if key not in _SLO_KEYS}
            rest.setdefault("interval", "30s")
            rest.setdefault("timeout", rest["interval"])  # it reads memory: instant
            monitor = self.load_monitor({**rest, "slo": spec}, path, defaults)
            if monitor is None:
                continue
            if monitor.name in names:
                self.problem(
                    f"the name '{monitor.name}' is taken by a monitor "
                    f"(line {names[monitor.name].line})",
                    (*path, "name"),
                    monitor.name,
                )
                continue
            names[monitor.name] = monitor
            found.append(monitor)
        self.check_references(found, {route.name for route in routes}, data or [], "slos")
        where: dict[str, Path] = {}
        for index, item in enumerate(self.raw.get("monitors") or []):
            if isinstance(item, dict) and isinstance(item.get("slo"), dict):
                where[str(item.get("name"))] = ("monitors", index, "slo", "monitor")
        for index, item in enumerate(data or []):
            if isinstance(item, dict):
                where[str(item.get("name"))] = ("slos", index, "monitor")
        for monitor in [*monitors, *found]:
            if monitor.kind != "slo":
                continue
            watched = str(getattr(monitor.settings, "monitor", ""))
            target = names.get(watched)
            if target is None or target.kind == "slo":
                others = sorted(n for n, m in names.items() if m.kind != "slo")
                self.problem(
                    unknown("monitor", watched, others)
                    if target is None
                    else "an SLO watches a monitor's checks, not another SLO",
                    where.get(monitor.name, ()),
                    monitor.name,
                )
        return found

    def load_rum(self, data: Any, monitors: list[Monitor]) -> RumConfig | None:
        """The ``rum:`` section (None: real-user monitoring is off), and the check that each
        ``rum`` monitor names one of its page groups."""
        rum: RumConfig | None = None
        if data is not None:
            rum = self.validate(RumConfig, data, ("rum",))
        where = {
            str(item.get("name")): ("monitors", index, "rum", "page")
            for index, item in enumerate(self.raw.get("monitors") or [])
            if isinstance(item, dict) and isinstance(item.get("rum"), dict)
        }
        for monitor in monitors:
            if monitor.kind != "rum":
                continue
            page = str(getattr(monitor.settings, "page", ""))
            if data is None:
                self.problem(
                    "a rum monitor judges what /rum.js collects: add a rum: section "
                    "(rum: {origins: [https://your.site]})",
                    where.get(monitor.name, ()),
                    monitor.name,
                )
            elif rum is not None and page != OTHER and page not in rum.page_names():
                self.problem(
                    unknown("page group", page, [*rum.page_names(), OTHER]),
                    where.get(monitor.name, ()),
                    monitor.name,
                )
        return rum

    def load_monitor(self, item: Any, path: Path, defaults: Defaults) -> Monitor | None:
        if not isinstance(item, dict):
            self.problem("a monitor must be a mapping, e.g. {name: api, http: https://...}", path)
            return None
        raw_name = item.get("name")
        who = f"monitors[{path[1]}]"
        if isinstance(raw_name, str) and raw_name and raw_name.isprintable():
            who = raw_name
        kinds = [key for key in item if key in checks.KINDS]
        common = {key: value for key, value in item.items() if key not in checks.KINDS}
        fields: MonitorFields | None = self.validate(
            MonitorFields, common, path, who, extra_keys=tuple(checks.KINDS)
        )
        if not kinds:
            if not any(
                closest(str(k), list(checks.WRITTEN))
                for k in common
                if k not in MonitorFields.model_fields
            ):
                self.problem(
                    f"no check kind: add one of {', '.join(checks.WRITTEN)} "
                    "(e.g. http: https://example.com/health)",
                    path,
                    who,
                )
            return None
        if len(kinds) > 1:
            self.problem(
                f"more than one check kind ({', '.join(kinds)}): a monitor has one",
                (*path, kinds[1]),
                who,
            )
            return None
        kind = kinds[0]
        if kind == "drill":
            self.problem(
                "drill: goes inside a backup monitor: backup: {path: ..., drill: {every: 7d}}",
                (*path, kind),
                who,
            )
            return None
        check = checks.get(kind)
        short = (check.settings.shorthand_field, kind) if isinstance(item[kind], str) else None
        settings = self.validate(
            check.settings, check.settings.expand(item[kind]), (*path, kind), who, shorthand=short
        )
        expectations = self.compile_expectations(
            _texts(item.get("expect")), check, path, who, user=True
        )
        soft = self.compile_expectations(
            _texts(item.get("warn")), check, path, who, user=True, key="warn"
        )
        if fields is None or settings is None or soft is None:
            return None
        defaults_for_kind = (
            self.compile_expectations(check.default_expect, check, path, who, user=False) or []
        )
        if expectations is not None:
            seen = {e.subject.key for e in expectations}
            expectations += [e for e in defaults_for_kind if e.subject.key not in seen]
        # the monitor's own, else its kind's (an audit runs daily, not every 30 s), else defaults
        interval = _first(fields.interval, check.interval, defaults.interval)
        timeout = _first(fields.timeout, check.timeout, defaults.timeout)
        retry = (
            fields.retry_interval
            if fields.retry_interval is not None
            else (defaults.retry_interval)
        )
        if interval < 0.05:
            self.problem(
                f"interval {format_duration(interval)} is too short (minimum 50ms)",
                (*path, "interval"),
                who,
            )
        if timeout <= 0:
            self.problem("timeout must be above zero", (*path, "timeout"), who)
        elif timeout > interval:
            self.problem(
                f"timeout {format_duration(timeout)} exceeds the interval "
                f"{format_duration(interval)}",
                (*path, "timeout" if fields.timeout else "interval"),
                who,
            )
        elif (problem := settings.timeout_problem(timeout)) is not None:
            self.problem(problem, (*path, kind), who)
        if expectations is None:
            return None
        locations = fields.locations or defaults.locations
        if locations != (LOCAL,) and kind in LOCAL_ONLY:
            self.problem(
                f"a {kind} monitor is checked where Watchkeeper runs: locations can only be "
                "[local]",
                (*path, "locations") if fields.locations else path,
                who,
            )
            return None
        instance = self.check_machine(fields, kind, path, who)
        wants = frozenset(e.subject.key for e in (*expectations, *soft))
        if kind == "prometheus" and (fields.instance or fields.cost is not None):
            from watchkeeper.checks.prometheus import MACHINE_SERIES

            wants |= {f"metric.{selector}" for selector in MACHINE_SERIES}
        quorum = fields.quorum or defaults.quorum or len(locations) // 2 + 1
        if quorum > len(locations):
            self.problem(
                f"quorum {quorum} is more than its {len(locations)} location(s)",
                (*path, "quorum") if fields.quorum else path,
                who,
            )
            return None
        return Monitor(
            name=fields.name,
            kind=kind,
            check=check,
            settings=settings,
            interval=interval,
            timeout=timeout,
            confirm=fields.confirm or check.confirm or defaults.confirm,
            recover=fields.recover or check.confirm or defaults.recover,
            retry_interval=max(0.05, min(retry, interval)),
            expectations=tuple(expectations),
            tags=fields.tags if fields.tags is not None else defaults.tags,
            public=fields.public if fields.public is not None else defaults.public,
            paused=fields.paused,
            depends_on=fields.depends_on,
            notify=fields.notify if fields.notify is not None else defaults.notify,
            description=fields.description,
            target=mask_url(redact(settings.target(), self.secrets)),
            line=line_of(self.lines, path),
            wants=wants,
            host_key=settings.host_key(),
            expect_texts=tuple(redact(e.text, self.secrets) for e in expectations),
            warnings=tuple(soft),
            warn_texts=tuple(redact(e.text, self.secrets) for e in soft),
            runbook=fields.runbook,
            severity=fields.severity or defaults.severity,
            repeat=_inherit(fields.repeat, defaults.repeat),
            escalate=_inherit(fields.escalate, defaults.escalate),
            flapping=_inherit(fields.flapping, defaults.flapping),
            anomaly=_anomaly(fields.anomaly if fields.anomaly is not None else defaults.anomaly),
            locations=locations,
            quorum=quorum if len(locations) > 1 else 1,
            spec=item if locations != (LOCAL,) else None,
            instance=instance,
            monthly_cost=fields.cost,
        )

    def check_machine(
        self, fields: MonitorFields, kind: str, path: Path, who: str
    ) -> tuple[str, str] | None:
        """``instance:`` as the price catalog spells it (a problem when it lists no such
        provider or type); None without one."""
        if fields.instance is None and fields.cost is None:
            return None
        key = "instance" if fields.instance is not None else "cost"
        if kind not in MACHINE_KINDS:
            self.problem(
                f"{key}: prices a machine; only {', '.join(MACHINE_KINDS)} monitors have one",
                (*path, key),
                who,
            )
            return None
        if fields.instance is None:
            return None
        from watchkeeper.cost import catalog

        where = None if self.filename in ("api", "assignment") else self.filename
        try:
            prices = catalog.current(where)
        except catalog.CatalogError as exc:
            self.problem(f"instance: the price catalog is unusable: {exc}", (*path, key), who)
            return None
        provider, type_ = fields.instance.provider, fields.instance.type
        providers = prices.providers()
        if provider.lower() not in providers:
            close = closest(provider.lower(), providers)
            hint = f"did you mean '{close}'?" if close else f"known: {', '.join(providers)}"
            self.problem(
                f"instance: provider '{provider}' is not in the price catalog ({hint})",
                (*path, key),
                who,
            )
            return None
        found = prices.find(provider, type_)
        if found is None:
            types = [p.type for p in prices.of(provider)]
            close = closest(type_, types)
            hint = f" (did you mean '{close}'?)" if close else ""
            self.problem(
                f"instance: the price catalog of {provider.lower()} has no type '{type_}'"
                f"{hint}; add it with wk cost catalog update FILE.csv",
                (*path, key),
                who,
            )
            return None
        return found.provider, found.type

    def compile_expectations(
        self,
        texts: tuple[str, ...],
        check: checks.CheckKind[Any],
        path: Path,
        who: str,
        user: bool,
        key: str = "expect",
    ) -> list[Expectation] | None:
        table = {**PHASE_SUBJECTS, **check.subjects}
        compiled: list[Expectation] = []
        ok = True
        soft = key == "warn"
        for index, text in enumerate(texts):
            known = self.compiled.get((check.name, text, soft))
            if known is not None:  # fleets repeat the same few expectations: compile once
                compiled.append(known)
                continue
            try:
                compiled.append(compile_expectation(text, table, soft=soft))
                self.compiled[(check.name, text, soft)] = compiled[-1]
            except ExpectationError as exc:
                ok = False
                where: Path = (*path, key, index) if user else path
                self.problem(
                    f"{key}[{index}] '{text}': {exc.message} (column {exc.position + 1})",
                    where,
                    who,
                )
        return compiled if ok else None

    def load_status_pages(self, data: Any, monitors: list[Monitor]) -> list[StatusPage]:
        if data is None:
            return []
        if not isinstance(data, list):
            self.problem(
                "status_pages must be a list, e.g. - {path: /status, title: Acme, components: "
                "[{name: Website, monitors: [www]}]}",
                ("status_pages",),
            )
            return []
        names = sorted(m.name for m in monitors)
        tags = {t for m in monitors for t in m.tags}
        pages: list[StatusPage] = []
        seen: dict[str, int] = {}
        for index, item in enumerate(data):
            path: Path = ("status_pages", index)
            page: StatusPage | None = self.validate(StatusPage, item, path)
            if page is None:
                continue
            if page.path in seen:
                self.problem(
                    f"duplicate status page path '{page.path}' (first at line "
                    f"{line_of(self.lines, ('status_pages', seen[page.path]))})",
                    (*path, "path"),
                )
                continue
            seen[page.path] = index
            for number, component in enumerate(page.components):
                where: Path = (*path, "components", number)
                for name in component.monitors:
                    if name not in names:
                        self.problem(unknown("monitor", name, names), (*where, "monitors"))
                for tag in component.tags:
                    if tag not in tags:
                        self.problem(f"no monitor has the tag '{tag}'", (*where, "tags"))
            pages.append(page)
        return pages

    def check_windows(self, windows: list[MaintenanceWindow], names: set[str]) -> None:
        for index, window in enumerate(windows):
            for name in window.monitors:
                if name not in names:
                    self.problem(
                        unknown("monitor", name, sorted(names)),
                        ("maintenance", index, "monitors"),
                    )

    def check_routes(
        self, named: Iterable[str], routes: set[str], path: Path, monitor: str | None = None
    ) -> None:
        """One located problem for each route ``named`` (once each) that the config does not
        define, whether it defines routes or none at all."""
        known = sorted(routes)
        for route in dict.fromkeys(named):
            if route not in routes:
                self.problem(
                    unknown("notify route", route, known)
                    if known
                    else f"notify route '{route}' is not defined: add it under notify:",
                    path,
                    monitor,
                )

    def check_references(
        self, monitors: list[Monitor], routes: set[str], data: Any, section: str = "monitors"
    ) -> None:
        names = {m.name for m in monitors}
        index_of = {item.get("name"): i for i, item in enumerate(data) if isinstance(item, dict)}
        graph: dict[str, tuple[str, ...]] = {}
        for monitor in monitors:
            index = index_of.get(monitor.name, 0)
            path: Path = (section, index)
            for parent in monitor.depends_on:
                if parent == monitor.name:
                    self.problem(
                        "a monitor cannot depend on itself", (*path, "depends_on"), monitor.name
                    )
                elif parent not in names:
                    self.problem(
                        unknown("depends_on", parent, sorted(names)),
                        (*path, "depends_on"),
                        monitor.name,
                    )
            own = data[index] if monitor.name in index_of else {}  # only those written here
            if "notify" in own:  # else they are the defaults', checked once there
                self.check_routes(monitor.notify, routes, (*path, "notify"), monitor.name)
            if "escalate" in own and monitor.escalate:
                self.check_routes(
                    monitor.escalate.to, routes, (*path, "escalate", "to"), monitor.name
                )
            graph[monitor.name] = monitor.depends_on
        cycle = _find_cycle(graph)
        if cycle:
            first = cycle[0]
            self.problem(
                "dependency cycle: " + " → ".join([*cycle, first]),
                ("monitors", index_of.get(first, 0), "depends_on"),
                first,
            )


# -- helpers ----------------------------------------------------------------------------------
def _texts(value: Any) -> tuple[str, ...]:
    """The expectation texts under ``expect``/``warn`` (one text or a list), as written."""
    if isinstance(value, str):
        return (value,)
    if isinstance(value, list | tuple):
        return tuple(text for text in value if isinstance(text, str))
    return ()


T = TypeVar("T")


def _inherit(own: T | Literal[False] | None, default: T | Literal[False] | None) -> T | None:
    """A monitor's setting, else the default; ``false`` switches it off."""
    chosen = default if own is None else own
    return None if chosen is False else chosen


def drill_monitor(backup: Monitor) -> Monitor | None:
    """The drill monitor a ``backup:`` monitor with ``drill:`` settings brings: named
    ``<name> drill``, run every ``drill.every`` with the drill's timeout (and a minute to
    clean up), notifying where the backup monitor does."""
    plan = getattr(backup.settings, "drill", None) if backup.kind == "backup" else None
    if plan is None:
        return None
    from dataclasses import replace

    from watchkeeper.checks.drill import CLEANUP_MARGIN, DrillSettings

    check = checks.get("drill")
    settings = DrillSettings(monitor=backup.name, backup=backup.settings)
    return replace(
        backup,
        name=f"{backup.name} drill",
        kind="drill",
        check=check,
        settings=settings,
        interval=plan.every,
        timeout=min(plan.every, plan.timeout + CLEANUP_MARGIN),
        confirm=1,
        recover=1,
        retry_interval=plan.every,
        expectations=(),
        expect_texts=(),
        warnings=(),
        warn_texts=(),
        wants=frozenset(),
        host_key=settings.host_key(),
        target=mask_url(settings.target()),
        description=f"Restore drill of {backup.name}",
        anomaly=(),
        depends_on=(),
    )


def resolve_storage(storage: str, filename: str) -> str:
    """Make a relative SQLite path relative to the config file; pick psycopg for PostgreSQL."""
    if storage.startswith("sqlite:///") and not storage.startswith("sqlite:////"):
        relative = storage[len("sqlite:///") :]
        if relative and relative != ":memory:":
            base = FilePath(os.path.abspath(filename)).parent
            return "sqlite:///" + str(base / relative)
    for prefix in ("postgresql://", "postgres://"):
        if storage.startswith(prefix):
            return "postgresql+psycopg://" + storage[len(prefix) :]
    return storage


def _find_cycle(graph: dict[str, tuple[str, ...]]) -> list[str] | None:
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        stack.append(node)
        for parent in graph.get(node, ()):
            if parent not in graph:
                continue
            if state.get(parent) == 1:
                return stack[stack.index(parent) :]
            if parent not in state:
                found = visit(parent)
                if found:
                    return found
        stack.pop()
        state[node] = 2
        return None

    for node in graph:
        if node not in state:
            found = visit(node)
            if found:
                return found
    return None


def _anomaly(value: bool | tuple[str, ...]) -> tuple[str, ...]:
    """``anomaly: on`` watches the latency; a list names the series."""
    if value is True:
        return ("latency",)
    if value is False:
        return ()
    return tuple(dict.fromkeys(s.strip() for s in value))


def _first(*values: float | None) -> float:
    """The first value that is not None (the last one never is)."""
    return next(value for value in values if value is not None)
