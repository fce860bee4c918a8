"""Looking into the machine's PostgreSQL while a drill runs."""

from __future__ import annotations

import psycopg

PG = "postgresql://postgres@127.0.0.1:5432/postgres"


def pg_sessions(token: str) -> list[int]:
    """Backends of the machine's PostgreSQL running a query that holds ``token``."""
    with psycopg.connect(PG, autocommit=True) as c:
        rows = c.execute(
            "select pid from pg_stat_activity where query like %s and pid != pg_backend_pid()",
            (f"%{token}%",),
        ).fetchall()
    return [r[0] for r in rows]
