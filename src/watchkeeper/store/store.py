"""The Store: durable results, state, rollups and retention behind one synchronous object.

Methods block (they are database calls); async code runs them in a thread — the
:class:`~watchkeeper.store.writer.StoreWriter` does so for writes. A Store is safe to share
between threads: each call takes its own pooled connection. Database failures surface as
:class:`~watchkeeper.errors.StoreError` with one line naming the store, never its password.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa
from sqlalchemy.engine import URL

from watchkeeper.errors import StoreError
from watchkeeper.model import Result, StoredState, Transition, series_name
from watchkeeper.store import agents as agent_rows
from watchkeeper.store import database, events, ingest, migrate, queries
from watchkeeper.store.codec import result_row

if TYPE_CHECKING:
    # the series, rollups and summaries work on numpy arrays: imported by the methods that
    # use them, so reading states (``wk status``) does not pay for numpy
    from watchkeeper.rum.rows import Sample as RumSample
    from watchkeeper.rum.rows import Tally
    from watchkeeper.store import issue_batches
    from watchkeeper.store import issues as issue_rows
    from watchkeeper.store import projects as project_rows
    from watchkeeper.store import samples as sample_queries
    from watchkeeper.store.reports import Report
    from watchkeeper.store.series import Point
    from watchkeeper.store.summary import HistorySummary


class Store:
    """Results, state changes and rollups in SQLite (default) or PostgreSQL."""

    url: str
    """The store's URL as it is safe to show: backend name, no password."""
    dialect: str
    """``sqlite`` or ``postgresql``."""

    def __init__(self, engine: sa.Engine, url: URL) -> None:
        self._engine = engine
        self._writing = database.writing(engine)
        self._url = url
        self._reader = database.reading(engine)
        self._ids = ingest.MonitorIds()
        self._compacted_after = 0
        self._closed = False
        self.url = database.display_url(url)
        self.dialect = engine.dialect.name

    @classmethod
    def open(cls, url: str, *, existing: bool = False) -> Store:
        """Connect, create SQLite's directory, migrate to the newest schema (keeping data).

        ``existing`` (for commands other than wk up) creates and migrates nothing: a missing
        store, or one whose schema is not this Watchkeeper's, is a StoreError saying so.
        """
        parsed = database.parse_url(url)
        shown = database.display_url(parsed)
        if existing:
            path = database.sqlite_path(parsed) if parsed.get_backend_name() == "sqlite" else None
            if path is not None and not path.exists():
                raise database.StoreMissingError(f"no store at {path} yet: wk up creates it")
        engine: sa.Engine | None = None
        try:
            engine = database.create_engine(parsed)
            with database.writing(engine).connect() as connection:
                current = _check_revision(connection)
                if existing:
                    _check_current(connection, shown)
                elif current != migrate.head_revision():
                    migrate.upgrade(connection)  # Alembic only when there is work for it
        except Exception as exc:
            if engine is not None:
                engine.dispose()
            if isinstance(exc, StoreError) and (
                str(exc).startswith("cannot open store") or existing
            ):
                raise
            raise StoreError(
                f"cannot open store {shown}: {database.describe(exc, parsed)}"
            ) from exc
        return cls(engine, parsed)

    def close(self) -> None:
        """Close every pooled connection; safe to call twice.

        A connection still checked out (a read or an upkeep step in a worker thread when
        ``wk up`` stops) is closed when it comes back: the pool's dispose would otherwise
        leave it open in a pool nobody holds, for the garbage collector to find.
        """
        if not self._closed:
            self._closed = True
            sa.event.listen(self._engine.pool, "checkin", _close_on_return)
            self._engine.dispose()

    def ensure_monitors(self, monitors: Iterable[tuple[str, str, str]]) -> dict[str, int]:
        """Insert or update ``(name, kind, target)``; returns name → id for each one given."""
        with self._failures("write"), self._writing.begin() as connection:
            ids = ingest.upsert_monitors(connection, monitors)
        self._ids.update(ids)
        return ids

    def write(
        self,
        results: Sequence[Result],
        transitions: Sequence[Transition] = (),
        *,
        fence: tuple[str, Mapping[str, int]] | None = None,
    ) -> int:
        """Store results and transitions in one transaction; returns how many results the
        ``fence`` kept out.

        Unknown monitors are registered (kind from the result). Each transition is appended
        to the state changes and becomes its monitor's current state (the last one wins).
        ``fence``: (this node, its lease tokens): in a cluster, only the results and state
        changes of monitors whose lease this node still holds with that token are written,
        checked in the same transaction (a node that lost a lease while paused cannot write
        as its holder).
        """
        if not results and not transitions:
            return 0
        with self._failures("write"), self._writing.begin() as connection:
            fenced = 0
            if fence is not None:
                from watchkeeper.cluster.leases import held_tokens

                held = held_tokens(connection, fence[0])
                tokens = fence[1]

                def ours(name: str) -> bool:
                    token = tokens.get(name)
                    return token is not None and held.get(name) == token

                # an agent's results are its location's own: no lease covers them
                kept = [r for r in results if r.location is not None or ours(r.monitor)]
                fenced = len(results) - len(kept)
                results = kept
                transitions = [t for t in transitions if ours(t.monitor)]
                if not results and not transitions:
                    return fenced
            ids, new = self._resolve(connection, results, transitions)
            ingest.insert_results(
                connection,
                [
                    result_row(r, ids[r.monitor if r.location is None else _series(r)])
                    for r in results
                ],
            )
            detailed = [r for r in results if r.detail is not None]
            if detailed:
                from watchkeeper.store import reports

                reports.insert(
                    connection,
                    [
                        (ids[_series(r)], r.started_at, reports.encode(r.detail or {}))
                        for r in detailed
                    ],
                )
            ingest.record_transitions(connection, transitions, ids)
        self._ids.update(new)
        return fenced

    def results(
        self,
        monitor: str,
        since: float,
        until: float | None = None,
        limit: int = 1000,
        *,
        failed_only: bool = False,
        newest_first: bool = False,
    ) -> list[Result]:
        """Results of ``monitor`` from ``since`` (inclusive) to ``until`` (exclusive), at most
        ``limit``: the oldest first, or the newest first with ``newest_first``; only failed
        ones with ``failed_only``."""
        with self._reading() as connection:
            return queries.results(
                connection,
                monitor,
                since,
                until,
                limit,
                failed_only=failed_only,
                newest_first=newest_first,
            )

    def recent_results(self, wanted: Mapping[str, int], since: float) -> dict[str, list[Result]]:
        """Each named monitor's newest ``wanted[name]`` results from ``since`` on, oldest
        first, in one read."""
        with self._reading() as connection:
            return queries.recent_results(connection, wanted, since)

    def last_results(self, monitor: str, n: int) -> list[Result]:
        """The newest ``n`` results of ``monitor``, oldest first."""
        with self._reading() as connection:
            return queries.last_results(connection, monitor, n)

    def phase_rows(
        self, monitor: str, since: float, until: float, limit: int = 200_000
    ) -> queries.PhaseRows:
        """Time, outcome and phases (ms) of ``monitor``'s raw results in ``[since, until)``,
        column by column."""
        with self._reading() as connection:
            return queries.phase_rows(connection, monitor, since, until, limit)

    def get_note(self, key: str) -> str | None:
        """A value kept between runs under ``key`` (the diagnosis's statistics snapshots)."""
        with self._reading() as connection:
            return ingest.get_meta(connection, key)

    def set_note(self, key: str, value: str) -> None:
        with self.transaction() as connection:
            ingest.set_meta(connection, key, value)

    def latest_results(self) -> dict[str, Result]:
        """The newest result of each monitor that has one."""
        with self._reading() as connection:
            return queries.latest_results(connection)

    def agent_heard(self, **heard: Any) -> None:
        """An agent pushed: remember it (``store.agents.heard``)."""
        with self._failures("write"), self._writing.begin() as connection:
            agent_rows.heard(connection, **heard)

    def agents(self) -> list[agent_rows.Agent]:
        """Every agent heard from, by location and name."""
        with self._reading() as connection:
            return agent_rows.agents(connection)

    # -- error tracking (rows: ``store.projects``, ``store.issues``) ------------------------
    def error_projects(self) -> list[project_rows.StoredProject]:
        """Every error-tracking project registered, by id."""
        from watchkeeper.store import projects as project_rows

        with self._reading() as connection:
            return project_rows.projects(connection)

    def ensure_error_projects(
        self, wanted: Mapping[str, bool], now: float, new_key: Callable[[], str]
    ) -> dict[str, project_rows.StoredProject]:
        """Register the config's projects (name → does the config give its key); see
        ``store.projects.ensure_config_projects``."""
        from watchkeeper.store import projects as project_rows

        with self.transaction() as connection:
            return project_rows.ensure_config_projects(connection, wanted, now, new_key)

    def add_error_project(
        self, name: str, key: str, settings: Mapping[str, Any], now: float, by: str | None = None
    ) -> project_rows.StoredProject:
        """A project made at run time (``ProjectTaken`` if its name is)."""
        from watchkeeper.store import projects as project_rows

        with self.transaction() as connection:
            return project_rows.add_project(connection, name, key, settings, now, by)

    def write_errors(
        self,
        groups: Sequence[issue_batches.GroupWrite],
        releases: Sequence[issue_batches.ReleaseWrite],
        outcomes: Mapping[issue_batches.OutcomeKey, int],
        now: float,
        reopens: issue_batches.Reopens,
        then: Callable[[sa.Connection, issue_batches.Written], object] | None = None,
    ) -> issue_batches.Written:
        """One batch of the error tracker, in one transaction (``issue_batches.write_batch``);
        ``then`` writes what follows from it (its alerts) in the same transaction."""
        from watchkeeper.store import issue_batches

        with self.transaction() as connection:
            written = issue_batches.write_batch(
                connection, groups, releases, outcomes, now, reopens
            )
            if then is not None:
                then(connection, written)
            return written

    def known_event_ids(self, project_id: int, event_ids: Iterable[str]) -> set[str]:
        """Those of ``event_ids`` the project has stored already."""
        from watchkeeper.store import issue_batches

        with self._reading() as connection:
            return issue_batches.known_event_ids(connection, project_id, event_ids)

    def error_issues(
        self,
        *,
        project_id: int | None = None,
        status: str | None = None,
        query: str | None = None,
        sort: str = "last_seen",
        limit: int = 50,
        offset: int = 0,
    ) -> tuple[list[issue_rows.Issue], int]:
        """Issues matching the filters, sorted (``store.issues.SORTS``), and how many match."""
        from watchkeeper.store import issues as issue_rows

        with self._reading() as connection:
            return issue_rows.issues(
                connection,
                project_id=project_id,
                status=status,
                query=query,
                sort=sort,
                limit=limit,
                offset=offset,
            )

    def error_issue(self, issue_id: int) -> issue_rows.Issue | None:
        from watchkeeper.store import issues as issue_rows

        with self._reading() as connection:
            return issue_rows.issue(connection, issue_id)

    def set_issue_status(
        self,
        issue_id: int,
        status: str,
        now: float,
        *,
        in_release: str | None = None,
        by: str | None = None,
    ) -> issue_rows.Issue | None:
        """Resolve (``in_release`` or plain), ignore or unresolve; None if no such issue."""
        from watchkeeper.store import issues as issue_rows

        with self.transaction() as connection:
            return issue_rows.set_status(
                connection, issue_id, status, now, in_release=in_release, by=by
            )

    def error_minute_counts(
        self, issue_ids: Sequence[int] | None, since: float, until: float
    ) -> list[issue_rows.MinuteCount]:
        """Events per minute of the issues given (or all) in ``[since, until)``."""
        from watchkeeper.store import issues as issue_rows

        with self._reading() as connection:
            return issue_rows.minute_counts(connection, issue_ids, since, until)

    def prune_errors(
        self, now: float, *, events: float, minutes: float, issues: float, outcomes: float
    ) -> int:
        """Delete error-tracking rows past their retention (seconds before ``now``): events,
        minute counts, issues not seen since, outcomes and releases; in short transactions.
        Returns rows deleted."""
        from watchkeeper.store import issues as issue_rows

        deleted = 0
        while True:
            with self.transaction() as connection:
                done = issue_rows.prune(
                    connection,
                    events_before=now - events,
                    minutes_before=now - minutes,
                    issues_before=now - issues,
                    outcomes_before=now - outcomes,
                )
            deleted += done
            if done < issue_rows.PRUNE_BATCH:
                return deleted

    def rum_write(self, tallies: Sequence[Tally], samples: Sequence[RumSample]) -> None:
        """Real-user monitoring: minute tallies and new worst samples, in one transaction."""
        from watchkeeper.store import rum

        with self._failures("write"), self._writing.begin() as connection:
            rum.write(connection, tallies, samples)

    def rum_tallies(
        self,
        since: float,
        until: float,
        *,
        page: str | None = None,
        device: str | None = None,
        metric: str | None = None,
    ) -> list[Tally]:
        """The RUM tallies of ``[since, until)`` (see ``store.rum.tallies``)."""
        from watchkeeper.store import rum

        with self._reading() as connection:
            return rum.tallies(connection, since, until, page=page, device=device, metric=metric)

    def rum_worst(
        self,
        since: float,
        until: float,
        *,
        page: str | None = None,
        device: str | None = None,
        metric: str | None = None,
        limit: int = 20,
    ) -> list[RumSample]:
        """The worst RUM samples kept in ``[since, until)``, the worst first."""
        from watchkeeper.store import rum

        with self._reading() as connection:
            return rum.worst(
                connection, since, until, page=page, device=device, metric=metric, limit=limit
            )

    def states(self) -> dict[str, StoredState]:
        """The current state of every monitor that ever had a transition."""
        with self._reading() as connection:
            return queries.states(connection)

    def transitions(
        self, monitor: str | None = None, since: float = 0.0, limit: int = 1000
    ) -> list[Transition]:
        """State changes from ``since`` on, oldest first; of one monitor or of all."""
        with self._reading() as connection:
            return queries.transitions(connection, monitor, since, limit)

    def series(
        self, monitor: str, since: float, until: float, resolution: str, limit: int = 5000
    ) -> list[Point]:
        """Chart points of ``monitor`` over ``[since, until)`` at ``resolution`` (``raw``,
        ``1m`` or ``1h``; see :func:`watchkeeper.store.series.pick`)."""
        from watchkeeper.store import series

        with self._reading() as connection:
            return series.series(connection, monitor, since, until, resolution, limit)

    def latest_reports(self, monitors: Iterable[str]) -> dict[str, Report]:
        """The newest structured report (``Result.detail``) of each of ``monitors``."""
        from watchkeeper.store import reports

        with self._reading() as connection:
            return reports.latest(connection, monitors)

    def reports(self, monitor: str, limit: int = 30) -> list[Report]:
        """The newest ``limit`` structured reports of ``monitor``, newest first."""
        from watchkeeper.store import reports

        with self._reading() as connection:
            return reports.history(connection, monitor, limit)

    def sample_names(self, monitor: str, since: float) -> list[sample_queries.Latest]:
        """Each series of ``monitor`` seen since ``since`` with its newest value."""
        from watchkeeper.store import samples as sample_queries

        with self._reading() as connection:
            return sample_queries.latest(connection, monitor, since)

    def samples(
        self,
        monitor: str,
        name: str,
        since: float,
        until: float,
        resolution: str,
        limit: int = 5000,
        *,
        newest: bool = False,
    ) -> list[sample_queries.SamplePoint]:
        """The series ``name`` of ``monitor`` over ``[since, until)`` at ``resolution``
        (``raw``, ``1m`` or ``1h``), oldest first; past ``limit``, the oldest are kept, or
        with ``newest`` (raw) the newest."""
        from watchkeeper.store import samples as sample_queries

        with self._reading() as connection:
            return sample_queries.points(
                connection, monitor, name, since, until, resolution, limit, newest
            )

    def first_time(self, monitor: str, since: float, metric: str | None = None) -> float | None:
        """The first result (or sample of ``metric``) of ``monitor`` at or after ``since``."""
        from watchkeeper.store import samples as sample_queries

        with self._reading() as connection:
            return sample_queries.first_time(connection, monitor, since, metric)

    def minute_counts(
        self, monitor: str, since: float, until: float, latency: float | None = None
    ) -> list[events.MinuteCount]:
        """Good and total checks per minute (what an SLO counts; see ``store.events``)."""
        with self._reading() as connection:
            return events.minute_counts(connection, monitor, since, until, latency)

    def summary(self, monitor: str, since: float, until: float) -> HistorySummary:
        """Checks, uptime and latency over ``[since, until)``; see :class:`HistorySummary`."""
        from watchkeeper.store.summary import summarize

        with self._reading() as connection:
            return summarize(connection, monitor, since, until)

    def rollup(self, now: float, *, grace: float | None = None) -> int:
        """Roll up the 1-minute and 1-hour buckets closed ``grace`` seconds (default
        ``rollups.GRACE``) before ``now`` (results may still arrive until then); returns rows
        written."""
        from watchkeeper.store import minute_packing, rollups, rum, sample_rollups

        grace = rollups.GRACE if grace is None else grace
        with self._failures("roll up"):
            engine = self._live_engine()
            written = rollups.roll_up(engine, now, grace)
            written += sample_rollups.roll_up(engine, now, grace)
            written += rum.roll_up(engine, now, grace)
            return written + minute_packing.pack_dense(engine)

    def compact(self, now: float, *, grace: float | None = None) -> int:
        """Pack raw results older than ``grace`` seconds (default ``rollups.GRACE``) before
        ``now`` into chunks, as much as one call's budget allows (the next call goes on);
        returns results packed. See :mod:`watchkeeper.store.compaction`."""
        from watchkeeper.store import compaction, rollups

        grace = rollups.GRACE if grace is None else grace
        with self._failures("compact"):
            packed, self._compacted_after = compaction.compact(
                self._live_engine(), now, grace, self._compacted_after
            )
            return packed

    def prune(self, now: float, *, raw: float, minute: float, hour: float) -> int:
        """Delete rows past their retention (seconds); returns how many."""
        from watchkeeper.store import retention

        with self._failures("prune"):
            return retention.prune(self._live_engine(), now, raw=raw, minute=minute, hour=hour)

    def size_bytes(self) -> int | None:
        """Bytes on disk: the SQLite file and its WAL, or ``pg_database_size``."""
        with self._failures("measure"):
            return database.size_bytes(self._live_engine(), self._url)

    def _resolve(
        self,
        connection: sa.Connection,
        results: Sequence[Result],
        transitions: Sequence[Transition],
    ) -> tuple[dict[str, int], dict[str, int]]:
        """Ids of every monitor in the batch, and those that were not cached before."""
        ids = self._ids.snapshot()
        unknown: dict[str, str] = {}
        for result in results:
            name = result.monitor if result.location is None else _series(result)
            if name not in ids and name not in unknown:
                unknown[name] = result.kind
        for transition in transitions:
            if transition.monitor not in ids:
                unknown.setdefault(transition.monitor, "")
        registered = ingest.register_monitors(connection, unknown)
        ids.update(registered)
        # A monitor first seen in a transition has no kind yet: keep asking until a result
        # brings one, instead of caching it.
        new = {name: id_ for name, id_ in registered.items() if unknown[name]}
        return ids, new

    # -- for the layers above (alerting): their own queries in one transaction ------------
    @contextmanager
    def transaction(self) -> Iterator[sa.Connection]:
        """One write transaction (committed on success), database errors as StoreError."""
        with self._failures("write"), self._writing.begin() as connection:
            yield connection

    @contextmanager
    def registering(
        self, monitors: Iterable[tuple[str, str, str]]
    ) -> Iterator[tuple[sa.Connection, dict[str, int]]]:
        """One write transaction that first inserts or updates ``(name, kind, target)``, for
        the caller to write what belongs to those monitors in: yields the connection and
        name → id, ids remembered only once it all commits (all or nothing)."""
        with self.transaction() as connection:
            ids = ingest.upsert_monitors(connection, monitors)
            yield connection, ids
        self._ids.update(ids)

    @contextmanager
    def read(self) -> Iterator[sa.Connection]:
        """A connection for reading, database errors as StoreError."""
        with self._reading() as connection:
            yield connection

    def monitor_id(self, name: str, kind: str = "") -> int:
        """The id of monitor ``name``, registering it if needed."""
        known = self._ids.get(name)
        if known is not None:
            return known
        return self.ensure_monitors([(name, kind, "")])[name]

    def _live_engine(self) -> sa.Engine:
        if self._closed:
            raise database.StoreClosedError(f"store {self.url} is closed")
        return self._engine

    @contextmanager
    def _reading(self) -> Iterator[sa.Connection]:
        self._live_engine()
        with self._failures("read"), self._reader.connect() as connection:
            yield connection

    @contextmanager
    def _failures(self, action: str) -> Iterator[None]:
        """Map database errors to StoreError; transient ones to TransientStoreError, a value
        the database refuses (a NUL in text) to StoreValueError."""
        self._live_engine()
        dbapi_error = self._engine.dialect.loaded_dbapi.Error
        try:
            yield
        except (sa.exc.SQLAlchemyError, dbapi_error) as exc:
            message = f"cannot {action} store {self.url}: {database.describe(exc, self._url)}"
            if database.is_transient(exc, self._engine):
                raise database.TransientStoreError(message) from exc
            if isinstance(exc, sa.exc.DataError | self._engine.dialect.loaded_dbapi.DataError):
                raise database.StoreValueError(message) from exc
            raise StoreError(message) from exc


def _check_revision(connection: sa.Connection) -> str | None:
    """Refuse a store migrated by a newer Watchkeeper instead of failing obscurely; the
    revision it is at."""
    current = migrate.current_revision(connection)
    connection.rollback()
    if current is not None and current not in migrate.known_revisions():
        raise StoreError(
            f"schema revision {current} is newer than this Watchkeeper knows; upgrade it"
        )
    return current


def _check_current(connection: sa.Connection, shown: str) -> None:
    """A reader needs the schema it knows, and must not migrate a store a running (older or
    newer) ``wk up`` is using."""
    current = migrate.current_revision(connection)
    connection.rollback()
    if current is None:
        raise database.StoreMissingError(f"the store {shown} has no tables yet: wk up creates them")
    if current != migrate.head_revision():
        raise StoreError(
            f"the store {shown} has schema {current}, this Watchkeeper reads "
            f"{migrate.head_revision()}: run wk up (it upgrades the store) first"
        )


def _close_on_return(dbapi_connection: object, _record: object) -> None:
    """Pool ``checkin`` hook of a closed store: the connection goes back closed."""
    if dbapi_connection is not None:
        dbapi_connection.close()  # type: ignore[attr-defined]


def _series(result: Result) -> str:
    """The store's name of a Result's series: its monitor's, or its location's."""
    return series_name(result.monitor, result.location)
