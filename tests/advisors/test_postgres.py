"""The Postgres advisor against a private server with pg_stat_statements loaded and HypoPG
installed: a shop database seeded with the problems it should find (a big table read by
sequential scans, duplicate, unused and invalid indexes, sequences near their end, a bloated
table), a clean database that must give no warning, a bare one without the extension (with
a partitioned table and a big table read whole), and one for the snapshot deltas."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from dataclasses import dataclass

import psycopg
import pytest
from tests.helpers.postgres import PrivatePostgres, _free_port

from watchkeeper.advisors import _pg_missing, _pg_sql, _pg_statements
from watchkeeper.advisors._pg_common import Session
from watchkeeper.advisors.errors import AdvisorError
from watchkeeper.advisors.postgres import PostgresAdvice, PostgresAdviceSettings, advise
from watchkeeper.findings import Finding, Severity

HOT_QUERY = "select count(*) from orders where customer_id = %s"
HOT_CALLS = 150
ORDERS = 200_000
CUMULATIVE = "since the statistics began"
SQL_START = ("CREATE ", "DROP ", "REINDEX ", "ALTER ", "SELECT ", "VACUUM ")


@dataclass(frozen=True)
class Cluster:
    server: PrivatePostgres

    def url(self, database: str, user: str = "postgres") -> str:
        return f"postgresql://{user}@127.0.0.1:{self.server.port}/{database}"


def _seed(cluster: Cluster) -> None:
    with psycopg.connect(cluster.url("postgres"), autocommit=True) as admin:
        for name in ("shop", "clean", "bare", "deltas"):
            admin.execute(f"create database {name}")
        # may read every statistics view, but no table: EXPLAIN of its statements fails
        admin.execute("create role wk_reader login")
        admin.execute("grant pg_monitor to wk_reader")
        admin.execute("create role wk_app login")
    with psycopg.connect(cluster.url("shop"), autocommit=True) as db:
        db.execute("create extension pg_stat_statements")
        db.execute("create extension hypopg")
        db.execute(
            "create table orders (id bigserial primary key, customer_id int not null,"
            " status text not null, note text, created_at timestamptz not null)"
        )
        db.execute(
            "insert into orders (customer_id, status, note, created_at)"
            " select i % 2000, 'status' || (i % 5), md5(i::text),"
            " '2024-01-01'::timestamptz + i * interval '1 minute'"
            f" from generate_series(1, {ORDERS}) i"
        )
        db.execute("create index orders_created_at_idx on orders (created_at)")
        db.execute("create index orders_created_at_id_idx on orders (created_at, id)")
        db.execute("create index orders_note_idx on orders (note)")
        with pytest.raises(psycopg.errors.UniqueViolation):
            # fails on the duplicates and leaves an invalid index behind
            db.execute("create unique index concurrently orders_status_key on orders (status)")
        db.execute("create table tickets (id serial primary key)")
        db.execute("select setval('tickets_id_seq', 2040109466)")  # 95 % of 2^31 - 1
        db.execute("create sequence legacy_seq")  # bigint, feeding an integer column
        db.execute("create table legacy (id integer default nextval('legacy_seq'))")
        db.execute("select setval('legacy_seq', 2100000000)")
        db.execute("create sequence narrow_seq as integer")  # integer, feeding a bigint column
        db.execute("create table wide (id bigint default nextval('narrow_seq'))")
        db.execute("select setval('narrow_seq', 2040109466)")
        db.execute(
            "create view order_notes as select id, note, pg_backend_pid() as pid from orders"
        )
        db.execute("create table events (id int, kind text, payload text)")
        db.execute(
            "insert into events select i, 'kind' || (i % 7), repeat('x', 60)"
            " from generate_series(1, 100000) i"
        )
        db.execute("delete from events where id % 5 <> 0")
        db.execute("select pg_stat_force_next_flush()")  # the deletes' counts before VACUUM's
        db.execute("vacuum analyze events")
        db.execute("analyze orders")
        for i in range(HOT_CALLS):
            db.execute(HOT_QUERY, (i,))
        db.execute("select pg_stat_force_next_flush()")
    with psycopg.connect(cluster.url("clean"), autocommit=True) as db:
        db.execute("create extension pg_stat_statements")
        db.execute("create extension hypopg")
        db.execute("create table users (id serial primary key, email text unique not null)")
        db.execute(
            "insert into users (email) select 'user' || i || '@example.com'"
            " from generate_series(1, 200) i"
        )
        db.execute("analyze users")
        for i in range(1, 51):
            db.execute("select email from users where id = %s", (i,))
            db.execute("select id from users where email = %s", (f"user{i}@example.com",))
        db.execute("select pg_stat_force_next_flush()")
    with psycopg.connect(cluster.url("bare"), autocommit=True) as db:
        db.execute("create table measures (id int, at date not null) partition by range (at)")
        for n, (low, high) in enumerate(
            [
                ("2024-01-01", "2024-02-01"),
                ("2024-02-01", "2024-03-01"),
                ("2024-03-01", "2024-04-01"),
            ],
            start=1,
        ):
            db.execute(
                f"create table measures_p{n} partition of measures"
                f" for values from ('{low}') to ('{high}')"
            )
        # invalid: p1's index is attached, p2 has a matching one not attached, p3 none
        db.execute("create index measures_at_idx on only measures (at)")
        db.execute("create index measures_p1_at_idx on measures_p1 (at)")
        db.execute("alter index measures_at_idx attach partition measures_p1_at_idx")
        db.execute("create index measures_p2_at on measures_p2 (at)")
        # two identical partitioned indexes: the newer one is the duplicate
        db.execute("create index measures_id_idx on measures (id)")
        db.execute("create index measures_id2_idx on measures (id)")
        # a big table read whole, and no pg_stat_statements to say by which statements
        db.execute("create table logs (id int, message text)")
        db.execute("insert into logs select i, 'message ' || i from generate_series(1, 20000) i")
        db.execute("select pg_stat_force_next_flush()")  # the inserts' counts before ANALYZE's
        db.execute("analyze logs")
        for _ in range(12):
            db.execute("select count(*) from logs where id = 5")
        db.execute("select pg_stat_force_next_flush()")
    with psycopg.connect(cluster.url("deltas"), autocommit=True) as db:
        db.execute("create extension pg_stat_statements")
        db.execute("create table items (id int primary key, name text)")
        db.execute("insert into items select i, 'item ' || i from generate_series(1, 100) i")


@pytest.fixture(scope="module")
def cluster() -> Iterator[Cluster]:
    server = PrivatePostgres().init()
    server.start("shared_preload_libraries=pg_stat_statements", "max_connections=20")
    try:
        found = Cluster(server)
        _seed(found)
        yield found
    finally:
        server.destroy()


def _only(advice: PostgresAdvice, title_start: str, subject: str | None = None) -> Finding:
    found = [
        f
        for f in advice.findings
        if f.title.startswith(title_start) and (subject is None or f.subject == subject)
    ]
    assert len(found) == 1, [f.title for f in advice.findings]
    return found[0]


def _hot_calls(cluster: Cluster) -> int:
    with psycopg.connect(cluster.url("shop"), autocommit=True) as db:
        row = db.execute(
            "select coalesce(sum(calls), 0) from pg_stat_statements"
            " where query = 'select count(*) from orders where customer_id = $1'"
        ).fetchone()
        assert row is not None
        return int(row[0])


def _catalog(cluster: Cluster) -> tuple[object, ...]:
    with psycopg.connect(cluster.url("shop"), autocommit=True) as db:
        row = db.execute(
            "select (select count(*) from pg_class), (select count(*) from pg_index),"
            " (select count(*) from pg_extension)"
        ).fetchone()
        assert row is not None
        return tuple(row)


# -- indexes ---------------------------------------------------------------------------------
async def test_a_big_table_read_by_sequential_scans_gets_the_index_its_queries_need(
    cluster: Cluster,
) -> None:
    catalog, calls = _catalog(cluster), _hot_calls(cluster)
    advice = await advise(cluster.url("shop"))
    # read-only: nothing created or reset, the advisor's EXPLAINs are not counted as calls
    assert _catalog(cluster) == catalog
    assert _hot_calls(cluster) == calls >= HOT_CALLS

    found = _only(advice, "Missing index on public.orders")
    assert found.severity is Severity.warning
    assert found.subject == "public.orders"
    # the recommendation is the statement alone; what shows it helps is in the evidence
    assert found.recommendation == "CREATE INDEX CONCURRENTLY ON public.orders (customer_id);"
    evidence = found.evidence
    assert str(evidence["verified_by"]).startswith("HypoPG: with a hypothetical index")
    assert evidence["hypopg_installed"] == "yes"
    assert evidence["window"] == evidence["statements_window"] == CUMULATIVE
    assert evidence["columns"] == "customer_id"
    assert evidence["table_rows"] == ORDERS
    assert isinstance(evidence["seq_scans"], int) and evidence["seq_scans"] >= HOT_CALLS
    assert evidence["idx_scans"] == 0
    assert isinstance(evidence["rows_read_by_seq_scans"], int)
    assert evidence["rows_read_by_seq_scans"] >= HOT_CALLS * ORDERS
    assert isinstance(evidence["calls"], int) and evidence["calls"] >= HOT_CALLS
    assert evidence["query"] == "select count(*) from orders where customer_id = $1"
    without, with_index = evidence["cost_without_index"], evidence["cost_with_index"]
    assert isinstance(without, float) and isinstance(with_index, float)
    assert 0 < with_index < without
    assert "actual_ms" not in evidence  # EXPLAIN ANALYZE only when asked
    _well_formed(advice)


def _well_formed(advice: PostgresAdvice) -> None:
    """Evidence of plain numbers and text (JSON-able: no Decimal, no bool); a recommendation
    that starts with SQL is that SQL alone (one statement), so a report can show it as code;
    any other is prose with the SQL inside."""
    json.dumps([f.as_json() for f in advice.findings])
    for f in advice.findings:
        for key, value in f.evidence.items():
            assert value is None or type(value) in (int, float, str), (f.title, key, value)
        text = f.recommendation
        if text.upper().startswith(SQL_START):
            assert text.endswith(";") and ";" not in text[:-1], text


async def test_an_index_explain_cannot_verify_is_no_warning(cluster: Cluster) -> None:
    """wk_reader may read the statistics but not the table: EXPLAIN fails, so no
    warning and no CREATE INDEX to run, an info that says why."""
    advice = await advise(
        cluster.url("shop", "wk_reader"), settings=PostgresAdviceSettings(slow_query_ms=0.0)
    )
    _well_formed(advice)
    assert not [f for f in advice.findings if f.title.startswith("Missing index")]
    unsure = _only(advice, "Index on public.orders (customer_id) could not be verified")
    assert unsure.severity is Severity.info
    assert "permission denied" in str(unsure.evidence["explain_error"])
    assert not unsure.recommendation.startswith("CREATE")
    # nor does the slow query's advice claim the index is missing
    [slow] = [
        f
        for f in advice.findings
        if f.title.startswith("Slow query") and f.evidence["query"] == HOT_QUERY.replace("%s", "$1")
    ]
    assert "without an index" not in slow.recommendation


def test_an_index_counts_as_there_only_if_a_btree_or_hash_leads_with_the_columns() -> None:
    indexed = _pg_missing.indexed
    assert not indexed([("brin", ["created_at"])], [], "created_at")
    assert not indexed([("gin", ["customer_id"])], ["customer_id"], None)
    assert indexed([("btree", ["created_at", "id"])], [], "created_at")
    assert indexed([("btree", ["b", "a", "c"])], ["a", "b"], None)  # equality: any order
    assert indexed([("btree", ["b", "a", "c"])], ["a", "b"], "c")
    assert not indexed([("btree", ["c", "a", "b"])], ["a", "b"], "c")  # the range comes last
    assert not indexed([("btree", ["a", "b"])], ["b"], None)  # not leading
    assert not indexed([("btree", ["a", None])], ["a"], "x")  # an expression
    assert indexed([("hash", ["a"])], ["a"], None)
    assert not indexed([("hash", ["a"])], [], "a")  # hash: equality only
    assert not indexed([("hash", ["a"])], ["a", "b"], None)


async def test_analyze_runs_the_statement_in_a_rolled_back_explain_analyze(
    cluster: Cluster,
) -> None:
    catalog = _catalog(cluster)
    advice = await advise(cluster.url("shop"), analyze=True)
    assert _catalog(cluster) == catalog
    evidence = _only(advice, "Missing index on public.orders").evidence
    assert isinstance(evidence["actual_ms"], float) and evidence["actual_ms"] > 0
    assert evidence["actual_rows"] == 1  # count(*): one row, for a customer that exists
    assert isinstance(evidence["cost_with_index"], float)


async def test_explain_analyze_runs_only_on_statements_reading_tables(cluster: Cluster) -> None:
    """A view may call any function (order_notes calls pg_backend_pid()): a statement
    naming one anywhere, or a name that is no relation, is not run."""
    connection = await psycopg.AsyncConnection.connect(cluster.url("shop"), autocommit=True)
    session = Session(connection, PostgresAdviceSettings(), analyze=True, timeout=5.0)

    async def plain(text: str) -> bool:
        statement = _pg_sql.parse(text)
        assert statement is not None and statement.read_only
        return await _pg_missing._plain_tables(session, statement.relations)

    try:
        assert await plain("select count(*) from orders where customer_id = $1")
        assert await plain("select count(*) from public.orders o join tickets t on t.id = o.id")
        assert not await plain("select count(*) from order_notes where id = $1")
        assert not await plain(
            "select count(*) from orders where id in (select id from order_notes) and id = $1"
        )
        assert not await plain("select count(*) from no_such_table where id = $1")
    finally:
        await connection.close()


async def test_duplicate_unused_and_invalid_indexes(cluster: Cluster) -> None:
    advice = await advise(cluster.url("shop"))

    duplicate = _only(advice, "Duplicate index", "public.orders_created_at_idx")
    assert duplicate.severity is Severity.warning
    assert duplicate.recommendation == "DROP INDEX CONCURRENTLY public.orders_created_at_idx;"
    assert "orders_created_at_id_idx" in str(duplicate.evidence["covered_by"])
    assert isinstance(duplicate.evidence["size_bytes"], int)
    assert duplicate.evidence["size_bytes"] > 0

    unused = _only(advice, "Unused index", "public.orders_note_idx")
    assert unused.severity is Severity.info
    assert unused.evidence["idx_scans"] == 0
    assert isinstance(unused.evidence["size_bytes"], int) and unused.evidence["size_bytes"] > 0
    assert "DROP INDEX CONCURRENTLY public.orders_note_idx;" in unused.recommendation
    # the statistics of this server were never reset
    assert unused.evidence["stats_since"] is None
    assert "since the server's statistics began" in unused.recommendation

    invalid = _only(advice, "Invalid index", "public.orders_status_key")
    assert invalid.severity is Severity.warning
    assert "REINDEX INDEX CONCURRENTLY public.orders_status_key;" in invalid.recommendation
    assert not invalid.recommendation.startswith("REINDEX")  # prose with SQL inside

    unused_subjects = {f.subject for f in advice.findings if f.title.startswith("Unused index")}
    # the duplicate is reported once, as a duplicate; unique and primary keys are never unused
    assert "public.orders_created_at_idx" not in unused_subjects
    assert "public.orders_pkey" not in unused_subjects
    assert "public.orders_status_key" not in unused_subjects
    duplicates = [f.subject for f in advice.findings if f.title.startswith("Duplicate index")]
    assert duplicates == ["public.orders_created_at_idx"]  # not the covering one too
    _well_formed(advice)


async def test_partitioned_indexes_get_commands_that_work_on_them(cluster: Cluster) -> None:
    advice = await advise(cluster.url("bare"))

    _well_formed(advice)
    invalid = _only(advice, "Invalid partitioned index", "public.measures_at_idx")
    assert invalid.severity is Severity.warning
    fix = invalid.recommendation
    assert "REINDEX INDEX" not in fix
    # p2 has a matching index: attach it; p3 has none: create it, then attach it
    assert "ALTER INDEX public.measures_at_idx ATTACH PARTITION public.measures_p2_at;" in fix
    assert (
        "CREATE INDEX CONCURRENTLY measures_at_idx_measures_p3 ON public.measures_p3 USING btree"
        " (at); ALTER INDEX public.measures_at_idx ATTACH PARTITION"
        " public.measures_at_idx_measures_p3;"
    ) in fix
    assert "measures_p1" not in fix
    assert invalid.evidence["partitions_without_index"] == 2

    duplicates = [f for f in advice.findings if f.title.startswith("Duplicate index")]
    assert [f.subject for f in duplicates] == ["public.measures_id2_idx"]
    # CONCURRENTLY is refused on a partitioned index; its partitions' ones go with it
    assert duplicates[0].recommendation == "DROP INDEX public.measures_id2_idx;"
    assert duplicates[0].evidence["partitioned"] == "yes"

    # the partitions' indexes attached to a partitioned one cannot be dropped alone
    subjects = {f.subject for f in advice.findings if f.title.startswith(("Unused", "Duplicate"))}
    assert "public.measures_p1_at_idx" not in subjects
    assert not [s for s in subjects if s.startswith("public.measures_p1_id")]
    # the partitioned one is unused when none of its partitions' indexes is used
    unused = _only(advice, "Unused index", "public.measures_id_idx")
    assert "DROP INDEX public.measures_id_idx;" in unused.recommendation
    assert "CONCURRENTLY" not in unused.recommendation


# -- statements ------------------------------------------------------------------------------
async def test_slow_queries_and_the_queries_taking_most_of_the_time(cluster: Cluster) -> None:
    slow = await advise(cluster.url("shop"), settings=PostgresAdviceSettings(slow_query_ms=0.0))
    found = [f for f in slow.findings if f.title.startswith("Slow query")]
    hot = [f for f in found if f.evidence["query"] == HOT_QUERY.replace("%s", "$1")]
    assert len(hot) == 1
    evidence = hot[0].evidence
    assert hot[0].severity is Severity.warning
    assert isinstance(evidence["calls"], int) and evidence["calls"] >= HOT_CALLS
    assert isinstance(evidence["mean_ms"], float) and evidence["mean_ms"] > 0
    assert isinstance(evidence["total_ms"], float) and evidence["total_ms"] > 0
    share = evidence["share_of_total_time_pct"]
    assert isinstance(share, float) and 0 < share <= 100
    assert evidence["window"] == CUMULATIVE
    assert "CREATE INDEX CONCURRENTLY ON public.orders (customer_id);" in hot[0].recommendation
    # which query it is: its text in the title and as the subject, its queryid in the evidence
    assert hot[0].subject == "select count(*) from orders where customer_id = $1"
    assert hot[0].title.endswith(": select count(*) from orders where customer_id = $1")
    assert isinstance(evidence["queryid"], int)
    assert len({f.subject for f in found}) == len(found)
    # the calls threshold counts: only the statements called 100 times or more
    assert all(isinstance(f.evidence["calls"], int) and f.evidence["calls"] >= 100 for f in found)
    # the advisor's own statements are never among them
    assert not [f for f in slow.findings if "watchkeeper advisor" in str(f.evidence.get("query"))]

    top = await advise(
        cluster.url("shop"),
        settings=PostgresAdviceSettings(
            slow_query_calls=10**9, top_query_share_pct=0.0, top_query_min_total_ms=0.0
        ),
    )
    assert not [f for f in top.findings if f.title.startswith("Slow query")]
    shares = [f for f in top.findings if f.title.startswith("Query takes")]
    assert shares and all(f.severity is Severity.info for f in shares)
    assert HOT_QUERY.replace("%s", "$1") in [f.evidence["query"] for f in shares]


async def test_a_second_run_reports_only_what_happened_since_the_previous_one(
    cluster: Cluster,
) -> None:
    url = cluster.url("deltas")
    # (min_window 0: the runs below come seconds apart)
    settings = PostgresAdviceSettings(slow_query_ms=0.0, slow_query_calls=1, min_window=0.0)
    text = "select name from items where id = $1"

    def run(times: int) -> None:
        with psycopg.connect(url, autocommit=True) as db:
            for i in range(times):
                db.execute("select name from items where id = %s", (i,))

    def calls(advice: PostgresAdvice) -> object:
        [found] = [f for f in advice.findings if f.evidence.get("query") == text]
        return found.evidence["calls"]

    await asyncio.to_thread(run, 3)
    first = await advise(url, settings=settings)
    assert calls(first) == 3
    snapshot = json.loads(json.dumps(first.snapshot))  # JSON-able, as the store keeps it

    await asyncio.to_thread(run, 5)
    second = await advise(url, settings=settings, previous=snapshot)
    assert calls(second) == 5
    [found] = [f for f in second.findings if f.evidence.get("query") == text]
    assert found.evidence["window"] == "since the previous run"
    assert isinstance(found.evidence["window_s"], float)

    # nothing since: the statement is not reported at all
    third = await advise(url, settings=settings, previous=second.snapshot)
    assert not [f for f in third.findings if f.evidence.get("query") == text]

    # someone resets the statistics: the counters go down, the new counts are taken whole
    with psycopg.connect(url, autocommit=True) as db:
        db.execute(
            "select pg_stat_statements_reset(0, (select oid from pg_database"
            " where datname = current_database()), 0)"
        )
    await asyncio.to_thread(run, 2)
    fourth = await advise(url, settings=settings, previous=third.snapshot)
    assert calls(fourth) == 2

    # a snapshot of another database is not used
    other = await advise(cluster.url("shop"), settings=settings, previous=fourth.snapshot)
    assert {f.evidence.get("window") for f in other.findings if "window" in f.evidence} == {
        CUMULATIVE
    }


async def test_a_part_the_previous_snapshot_lacks_is_cumulative(cluster: Cluster) -> None:
    """The previous run had no pg_stat_statements and skipped the missing-index check: the
    statements' and tables' figures are cumulative and say so; the cache is windowed."""
    url = cluster.url("shop")
    base = (await advise(url)).snapshot
    for part in ("statements", "statements_reset", "tables"):
        del base[part]
    with psycopg.connect(url, autocommit=True) as db:  # blocks for the cache's window
        db.execute("select count(*) from orders")
        db.execute("select pg_stat_force_next_flush()")
    settings = PostgresAdviceSettings(
        slow_query_ms=0.0, min_window=0.0, cache_hit_min_pct=100.01, cache_min_blocks=0
    )
    advice = await advise(url, settings=settings, previous=base)
    [slow] = [
        f
        for f in advice.findings
        if f.title.startswith("Slow query") and f.evidence["query"] == HOT_QUERY.replace("%s", "$1")
    ]
    assert slow.evidence["window"] == CUMULATIVE
    assert isinstance(slow.evidence["calls"], int) and slow.evidence["calls"] >= HOT_CALLS
    assert "window_s" not in slow.evidence
    missing = _only(advice, "Missing index on public.orders")
    assert missing.evidence["window"] == missing.evidence["statements_window"] == CUMULATIVE
    assert _only(advice, "Cache hit rate").evidence["window"] == "since the previous run"
    assert "statements" in advice.snapshot and "tables" in advice.snapshot


async def test_a_run_soon_after_the_previous_one_keeps_its_base(cluster: Cluster) -> None:
    """wk diagnose twice in a row: a window of seconds would hide the slow query (too few
    calls in it); the second run gives the cumulative figures and keeps the older base."""
    url = cluster.url("deltas")
    settings = PostgresAdviceSettings(slow_query_ms=0.0)  # min_window 10 minutes
    text = "select id from items where name = $1"

    def run(times: int) -> None:
        with psycopg.connect(url, autocommit=True) as db:
            for i in range(times):
                db.execute("select id from items where name = %s", (f"item {i}",))

    base = (await advise(url, settings=settings)).snapshot
    base = json.loads(json.dumps(base)) | {"taken_at": base["taken_at"] - 3600}  # an hour ago
    await asyncio.to_thread(run, 150)

    first = await advise(url, settings=settings, previous=base)
    second = await advise(url, settings=settings, previous=first.snapshot)
    for advice, window in ((first, "since the previous run"), (second, CUMULATIVE)):
        [slow] = [f for f in advice.findings if f.evidence.get("query") == text]
        assert slow.title.startswith("Slow query")
        assert slow.evidence["calls"] == 150
        assert slow.evidence["window"] == window
    assert "window_s" not in slow.evidence  # (second's)
    assert second.snapshot == first.snapshot  # the store keeps the older base


async def test_without_pg_stat_statements_it_says_how_to_enable_it(cluster: Cluster) -> None:
    advice = await advise(cluster.url("bare"))
    found = _only(advice, "pg_stat_statements is not enabled")
    assert found.severity is Severity.info
    # the library is loaded on this server: only the extension is missing
    assert "CREATE EXTENSION pg_stat_statements" in found.recommendation
    assert "shared_preload_libraries" not in found.recommendation
    assert found.evidence["shared_preload_libraries"] == "pg_stat_statements"
    assert found.evidence["extension_installed"] == "no"
    assert found.evidence["library_listed"] == "yes"

    # a big table read whole, and nothing to tell which column: info, no placeholder index
    scans = _only(advice, "Sequential scans on public.logs")
    assert scans.severity is Severity.info
    assert "the column to index is unknown" in scans.title
    assert scans.evidence["columns"] == "unknown"
    assert "(column)" not in scans.recommendation
    assert "CREATE INDEX" not in scans.recommendation
    assert scans.evidence["window"] == CUMULATIVE
    assert scans.evidence["table_rows"] == 20_000


def test_pg_stat_statements_is_recognised_in_shared_preload_libraries() -> None:
    preloaded = _pg_statements.preloaded
    assert preloaded("pg_stat_statements")
    assert preloaded("auto_explain, $libdir/pg_stat_statements")
    assert preloaded('"pg_stat_statements.so",pg_cron')
    assert not preloaded("pg_stat_statements_extra, auto_explain")
    assert not preloaded("")


# -- sessions and connections ----------------------------------------------------------------
async def _wait_for(url: str, sql: str, pid: int) -> None:
    """Until the server says so (its clock, not ours, decides the age)."""
    async with await psycopg.AsyncConnection.connect(url, autocommit=True) as db:
        for _ in range(200):
            row = await (await db.execute(sql, (pid,))).fetchone()
            if row is not None and row[0]:
                return
            await asyncio.sleep(0.05)
    raise AssertionError(f"pid {pid} never got there")


async def test_idle_in_transaction_and_long_running_queries(cluster: Cluster) -> None:
    url = cluster.url("shop")
    idle = await psycopg.AsyncConnection.connect(url)
    secret = await psycopg.AsyncConnection.connect(url)
    sleeper = await psycopg.AsyncConnection.connect(url, autocommit=True)
    try:
        # begins a transaction
        await idle.execute("select id from orders where id = 42 and note <> 'secret-token'")
        await secret.execute("alter role wk_app password 'secret-password'")  # never committed
        idle_pid, sleeper_pid = idle.info.backend_pid, sleeper.info.backend_pid
        sleeping = asyncio.create_task(sleeper.execute("select pg_sleep(60)"))
        await _wait_for(
            url,
            "select now() - state_change > interval '1s' from pg_stat_activity"
            " where pid = %s and state = 'idle in transaction'",
            idle_pid,
        )
        await _wait_for(
            url,
            "select now() - query_start > interval '1s' from pg_stat_activity"
            " where pid = %s and state = 'active'",
            sleeper_pid,
        )
        await _wait_for(
            url,
            "select now() - state_change > interval '1s' from pg_stat_activity"
            " where pid = %s and state = 'idle in transaction'",
            secret.info.backend_pid,
        )
        # every statement shown, the ALTER ROLE in pg_stat_statements too if it were
        settings = PostgresAdviceSettings(
            idle_in_transaction_s=1.0,
            long_query_s=1.0,
            slow_query_ms=0.0,
            slow_query_calls=1,
            top_query_share_pct=0.0,
            top_query_min_total_ms=0.0,
            top_queries=1000,
        )
        advice = await advise(url, settings=settings)

        _well_formed(advice)
        # literals are masked, a utility statement shows its command only
        for f in advice.findings:
            text = json.dumps(f.as_json())
            assert "secret" not in text, text
        hidden = _only(advice, "Session", f"pid {secret.info.backend_pid}")
        assert hidden.evidence["query"] == "ALTER ROLE …"

        stuck = _only(advice, "Session", f"pid {idle_pid}")
        assert stuck.severity is Severity.warning
        assert stuck.evidence["pid"] == idle_pid
        assert stuck.evidence["query"] == "select id from orders where id = ? and note <> ?"
        assert isinstance(stuck.evidence["duration_s"], float)
        assert f"pg_terminate_backend({idle_pid})" in stuck.recommendation
        assert "idle_in_transaction_session_timeout" in stuck.recommendation

        running = _only(advice, "Query running", f"pid {sleeper_pid}")
        assert running.severity is Severity.warning
        assert running.evidence["query"] == "select pg_sleep(?)"
        assert running.recommendation.startswith("Cancel it with SELECT pg_cancel_backend(")
        assert f"pg_cancel_backend({sleeper_pid})" in running.recommendation

        # the default thresholds (a minute) are not reached
        calm = await advise(url)
        assert not [
            f for f in calm.findings if f.subject in (f"pid {idle_pid}", f"pid {sleeper_pid}")
        ]

        await sleeper.cancel_safe()
        with pytest.raises(psycopg.errors.QueryCanceled):
            await sleeping
    finally:
        await idle.close()
        await secret.close()
        await sleeper.close()


async def test_connections_near_max_connections(cluster: Cluster) -> None:
    url = cluster.url("clean")
    held = [await psycopg.AsyncConnection.connect(url, autocommit=True)]
    watcher = held[0]

    async def hold(total: int) -> None:
        """``total`` sessions of ours, and no one else's (sessions of earlier tests and
        advisor runs may still be on their way out)."""
        while len(held) < total:
            held.append(await psycopg.AsyncConnection.connect(url, autocommit=True))
        ours = [c.info.backend_pid for c in held]
        for _ in range(200):
            cursor = await watcher.execute(
                "select count(*) from pg_stat_activity"
                " where backend_type = 'client backend' and pid <> all(%s)",
                (ours,),
            )
            row = await cursor.fetchone()
            if row is not None and row[0] == 0:
                return
            await asyncio.sleep(0.05)
        raise AssertionError("other sessions stayed")

    try:
        # of max_connections 20, superuser_reserved_connections 3: 17 for ordinary roles
        await hold(13)  # with the advisor's own: 14 of 17, 82 %
        warning = _only(await advise(url), "Connections at")
        assert warning.severity is Severity.warning
        assert warning.evidence["max_connections"] == 20
        assert warning.evidence["superuser_reserved_connections"] == 3
        assert warning.evidence["usable_connections"] == 17
        assert warning.evidence["connections"] == 14
        assert warning.evidence["used_pct"] == 82.4
        assert "PgBouncer" in warning.recommendation

        await hold(16)  # 17 of 17: an ordinary role can no longer connect
        critical = _only(await advise(url), "Connections at")
        assert critical.severity is Severity.critical
        assert critical.evidence["connections"] == 17
        assert critical.evidence["used_pct"] == 100.0
        assert "none left for ordinary roles" in critical.title
    finally:
        for connection in held:
            await connection.close()


# -- the rest of the health checks -----------------------------------------------------------
async def test_sequences_near_their_end_by_the_column_they_feed(cluster: Cluster) -> None:
    advice = await advise(cluster.url("shop"))

    serial = _only(advice, "Sequence public.tickets_id_seq")
    assert serial.severity is Severity.critical
    assert serial.evidence["used_pct"] == 95.0
    assert serial.evidence["max_value"] == 2**31 - 1
    assert "ALTER TABLE tickets ALTER COLUMN id TYPE bigint;" in serial.recommendation
    assert "ALTER SEQUENCE tickets_id_seq AS bigint;" in serial.recommendation

    narrowed = _only(advice, "Sequence public.legacy_seq")
    assert narrowed.severity is Severity.critical
    assert narrowed.evidence["sequence_type"] == "bigint"
    assert narrowed.evidence["column_type"] == "integer"
    assert narrowed.evidence["max_value"] == 2**31 - 1  # the column's end, not the sequence's
    assert narrowed.evidence["remaining_values"] == 2**31 - 1 - 2100000000
    assert "ALTER TABLE legacy ALTER COLUMN id TYPE bigint;" in narrowed.recommendation
    assert "ALTER SEQUENCE" not in narrowed.recommendation  # the sequence is bigint already

    # an integer sequence feeding a bigint column: only the sequence is to widen
    wide = _only(advice, "Sequence public.narrow_seq")
    assert wide.severity is Severity.critical
    assert wide.evidence["column_type"] == "bigint"
    assert "ALTER SEQUENCE narrow_seq AS bigint;" in wide.recommendation
    assert "ALTER TABLE" not in wide.recommendation

    assert not [f for f in advice.findings if f.subject == "public.orders_id_seq"]


async def test_bloat_wraparound_and_cache_thresholds(cluster: Cluster) -> None:
    advice = await advise(
        cluster.url("shop"),
        settings=PostgresAdviceSettings(
            bloat_min_bytes=1024 * 1024,
            xid_age_warning=1,
            xid_age_critical=2**31,
            cache_hit_min_pct=100.01,
            cache_min_blocks=1,
        ),
    )
    _well_formed(advice)
    bloat = _only(advice, "Table public.events is about")
    assert bloat.severity is Severity.info
    assert isinstance(bloat.evidence["bloat_pct"], float) and bloat.evidence["bloat_pct"] >= 70
    assert bloat.evidence["table_rows"] == 20_000
    assert "pg_repack" in bloat.recommendation
    assert not [f for f in advice.findings if f.subject == "public.orders" and "empty" in f.title]

    xid = _only(advice, "transaction ID wraparound", "shop")
    assert xid.severity is Severity.warning
    age = xid.evidence["xid_age"]
    assert isinstance(age, int) and age > 0
    assert xid.evidence["remaining_xids"] == 2**31 - age
    assert "VACUUM (FREEZE, VERBOSE)" in xid.recommendation

    cache = _only(advice, "Cache hit rate")
    assert cache.severity is Severity.warning
    assert isinstance(cache.evidence["shared_buffers_bytes"], int)
    assert "shared_buffers" in cache.recommendation

    # at the default thresholds none of it
    calm = await advise(cluster.url("shop"))
    titles = [f.title for f in calm.findings]
    assert not [t for t in titles if "wraparound" in t or t.startswith(("Cache", "Table"))]


async def test_a_clean_database_gets_no_warning(cluster: Cluster) -> None:
    advice = await advise(cluster.url("clean"))
    serious = [f.title for f in advice.findings if f.severity is not Severity.info]
    assert serious == []
    assert not [f for f in advice.findings if "skipped" in f.title or "not enabled" in f.title]
    assert advice.snapshot["statements"]  # pg_stat_statements was read
    json.dumps(advice.snapshot)


# -- reading statements --------------------------------------------------------------------
@pytest.mark.parametrize(
    ("text", "table", "columns"),
    [
        ("select count(*) from orders where customer_id = $1", "orders", ["customer_id"]),
        (
            "SELECT * FROM public.orders o WHERE o.created_at > $1 AND o.customer_id = $2"
            " ORDER BY id LIMIT $3",
            "orders",
            ["customer_id", "created_at"],  # equality first, then the range
        ),
        ("select id from orders where status in ($1, $2) and note = $3", "orders",
         ["status", "note"]),
        ('select * from "Orders" where "CustomerId" = $1::int', "Orders", ["CustomerId"]),
        ("select * from t where a between $1 and $2 and b = $3", "t", ["b", "a"]),
        ("update orders set note = $1 where customer_id = $2", "orders", ["customer_id"]),
        ("delete from orders where id = any($1)", "orders", ["id"]),
        ("select * from orders where a = $1 or b = $2", "orders", []),  # OR: no suggestion
        ("select * from orders where lower(note) = $1", "orders", []),  # an expression
        ("select * from orders where customer_id = other_id", "orders", []),  # no constant
    ],
)  # fmt: skip
def test_the_columns_an_index_would_need_are_read_from_the_normalised_statement(
    text: str, table: str, columns: list[str]
) -> None:
    statement = _pg_sql.parse(text)
    assert statement is not None
    [ref] = [t for t in statement.tables if t.name == table]
    assert statement.index_columns(ref) == columns


@pytest.mark.parametrize(
    ("text", "shown"),
    [
        ("select id from orders where id = 42", "select id from orders where id = ?"),
        (
            "select * from t where a = 'x' and b = E'it\\'s' and c = $$d$$ and e = $q$f$q$",
            "select * from t where a = ? and b = ? and c = ? and e = ?",
        ),
        (
            "select 1.5e3, -2, x'1F' /* a comment 'y' */ -- and 'z'\n from t",
            "select ?, -?, ? from t",
        ),
        (  # pg_stat_activity keeps the first track_activity_query_size bytes only
            "select * from t where name = 'cut off in the middle",
            "select * from t where name = ?",
        ),
        ("select * from t where id = $1", "select * from t where id = $1"),
        ("(select 'a') union (select 'b')", "(select ?) union (select ?)"),
        ("ALTER ROLE app PASSWORD 'secret'", "ALTER ROLE …"),
        ("create user app with password 'secret'", "CREATE USER …"),
        ("set session authorization 'x'", "SET SESSION …"),
        ("copy t from program 'curl secret'", "COPY …"),
        ("", ""),
    ],
)
def test_statement_texts_are_shown_without_their_literals(text: str, shown: str) -> None:
    assert _pg_sql.masked(text) == shown


def test_only_plain_selects_are_run_by_explain_analyze() -> None:
    def read_only(text: str) -> bool:
        statement = _pg_sql.parse(text)
        return statement is not None and statement.read_only

    assert read_only("select count(*) from orders where customer_id = $1")
    assert not read_only("select * from orders where id = $1 for update")
    assert not read_only("select pg_terminate_backend(pid) from pg_stat_activity where a = $1")
    assert not read_only("delete from orders where id = $1")
    assert _pg_sql.parse("insert into orders (id) values ($1)") is None
    joined = _pg_sql.parse(
        "select * from orders o join customers c on c.id = o.customer_id where c.email = $1"
    )
    assert joined is not None
    [customers] = [t for t in joined.tables if t.name == "customers"]
    assert joined.index_columns(customers) == ["email"]


# -- errors ----------------------------------------------------------------------------------
async def test_an_unreachable_server_is_one_line_without_the_password() -> None:
    port = _free_port()
    with pytest.raises(AdvisorError) as caught:
        await advise(f"postgresql://app:s3cret-pw@127.0.0.1:{port}/app", timeout=2)
    assert str(caught.value) == f"postgres 127.0.0.1:{port}/app: connection refused"

    with pytest.raises(AdvisorError) as caught:
        await advise("host=127.0.0.1 port=5432 password=s3cret-pw dbname=app connect_timeout=x")
    assert "s3cret-pw" not in str(caught.value)
    assert "\n" not in str(caught.value)
