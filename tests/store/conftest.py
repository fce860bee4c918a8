"""One contract suite, two backends: every ``store`` test runs on SQLite and on PostgreSQL.

PostgreSQL is the machine's server at 127.0.0.1:5432 (user ``postgres``, trust auth); each
test module gets a throw-away database, dropped afterwards, and each test an empty one. If
the server is not reachable the PostgreSQL half fails with a message saying so: it is never
skipped.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable, Iterator
from pathlib import Path

import psycopg
import pytest
import sqlalchemy as sa
from tests.helpers.stores import fresh_sqlite

from watchkeeper.model import Phases, Result
from watchkeeper.store import Store

POSTGRES_HOST = "127.0.0.1"
POSTGRES_PORT = 5432
POSTGRES_ADMIN = (
    f"host={POSTGRES_HOST} port={POSTGRES_PORT} user=postgres dbname=postgres connect_timeout=5"
)

BACKENDS = ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]


def _admin() -> psycopg.Connection[tuple[object, ...]]:
    try:
        return psycopg.connect(POSTGRES_ADMIN, autocommit=True)
    except psycopg.OperationalError as exc:
        pytest.fail(
            f"PostgreSQL is not reachable at {POSTGRES_HOST}:{POSTGRES_PORT} as user postgres "
            f"({str(exc).strip().splitlines()[0]}); the store contract tests need it running",
            pytrace=False,
        )


@pytest.fixture(scope="module")
def postgres_database() -> Iterator[str]:
    """A throw-away PostgreSQL database for one test module, dropped afterwards."""
    name = f"wk_store_test_{secrets.token_hex(6)}"
    with _admin() as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    try:
        yield name
    finally:
        with _admin() as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture
def postgres_url(postgres_database: str) -> str:
    """The module's database, emptied for this test (creating a database costs 5 times more)."""
    dsn = POSTGRES_ADMIN.replace("dbname=postgres", f"dbname={postgres_database}")
    with psycopg.connect(dsn, autocommit=True) as connection:
        connection.execute("DROP SCHEMA public CASCADE")
        connection.execute("CREATE SCHEMA public")
    return f"postgresql+psycopg://postgres@{POSTGRES_HOST}:{POSTGRES_PORT}/{postgres_database}"


@pytest.fixture(params=BACKENDS)
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """The URL of an empty store (not opened yet) on each backend."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'data' / 'watchkeeper.db'}"
    url: str = request.getfixturevalue("postgres_url")
    return url


@pytest.fixture
def store(store_url: str) -> Iterator[Store]:
    """The store opened; on SQLite a copy of one migrated once per worker (migrating is
    tested in test_store_migrations.py, whose own ``store`` fixture migrates)."""
    fresh_sqlite(store_url)
    opened = Store.open(store_url)
    try:
        yield opened
    finally:
        opened.close()


@pytest.fixture
def peek(store_url: str) -> Iterator[sa.Engine]:
    """A plain engine on the store's database, to check tables from outside the Store."""
    if store_url.startswith("sqlite:///"):
        Path(store_url.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)
    engine = sa.create_engine(store_url)
    try:
        yield engine
    finally:
        engine.dispose()


ResultFactory = Callable[..., Result]


@pytest.fixture
def make_result() -> ResultFactory:
    """Build a realistic Result; keyword arguments override fields, ``total`` the latency."""

    def build(
        monitor: str = "api",
        at: float = 1_700_000_000.0,
        *,
        ok: bool = True,
        total: float | None = 0.120,
        kind: str = "http",
        failures: list[str] | None = None,
        error: str | None = None,
        status: int | None = None,
    ) -> Result:
        phases = Phases(
            dns=0.002,
            connect=0.011,
            tls=0.025,
            ttfb=None if total is None else round(total * 0.6, 9),
            transfer=0.001,
            total=total,
        )
        if failures is None:
            failures = [] if ok else ["status == 200"]
        if status is None:
            status = 200 if ok else 503
        return Result(monitor, kind, at, ok, phases, failures, error, status)

    return build
