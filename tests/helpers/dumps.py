"""Real backups for the backup tests, made once per test worker from the machine's servers:
a throwaway PostgreSQL database (127.0.0.1:5432) dumped by pg_dump in all four formats, a
throwaway MariaDB database (127.0.0.1:3306) dumped by mariadb-dump, and a private
redis-server's RDB snapshot; each also compressed with gzip and zstd. The databases are
dropped once the dumps are made.

Damaging helpers make the broken copies the tests need (cut, bytes flipped, last lines
dropped) without touching the originals.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

import redis
from tests.helpers.redis_server import PrivateRedis

PG = ["-h", "127.0.0.1", "-p", "5432", "-U", "postgres"]
MARIADB = ["-h", "127.0.0.1", "-P", "3306", "-u", "root"]


@dataclass(frozen=True)
class Dumps:
    folder: Path
    database: str
    """The name the PostgreSQL and MariaDB databases had (a dump's ``dbname``)."""
    pg_custom: Path
    pg_tar: Path
    pg_directory: Path
    pg_plain: Path
    mysql: Path
    redis: Path

    def compressed(self, path: Path, compression: str) -> Path:
        return compress(path, compression)


def compress(path: Path, compression: str) -> Path:
    """``path`` compressed with gzip or zstd (made once, beside it)."""
    target = path.with_name(path.name + (".gz" if compression == "gzip" else ".zst"))
    if not target.exists():
        command = ["gzip", "-kc"] if compression == "gzip" else ["zstd", "-qc"]
        with target.open("wb") as out:
            subprocess.run([*command, str(path)], stdout=out, check=True, timeout=60)
    return target


def _run(*argv: str, stdout: Path | None = None) -> None:
    with (stdout or Path(os.devnull)).open("wb") as out:
        done = subprocess.run(argv, stdout=out, stderr=subprocess.PIPE, timeout=120)
    if done.returncode != 0:
        raise RuntimeError(f"{argv[0]} exited {done.returncode}: {done.stderr.decode()[-500:]}")


def _psql(database: str, sql: str) -> None:
    _run("psql", *PG, "-d", database, "-v", "ON_ERROR_STOP=1", "-qc", sql)


def _mariadb(sql: str, database: str = "mysql") -> None:
    _run("mariadb", *MARIADB, "-D", database, "-e", sql)


def make_dumps(folder: Path) -> Dumps:
    """Dump a fresh database of each kind into ``folder``."""
    database = f"wk_backup_{os.getpid()}"
    _psql("postgres", f"drop database if exists {database}")
    _psql("postgres", f"create database {database}")
    try:
        _psql(
            database,
            "create table customers(id int primary key, name text not null);"
            "insert into customers select g, 'customer ' || g from generate_series(1, 300) g;"
            "create table orders(id int primary key, customer int references customers,"
            " note text);"
            "insert into orders select g, 1 + g % 300, md5(g::text) || md5((g * 7)::text)"
            " from generate_series(1, 4000) g;",
        )
        pg_custom = folder / "orders.dump"
        pg_tar = folder / "orders.tar"
        pg_directory = folder / "orders.dir"
        pg_plain = folder / "orders.sql"
        _run("pg_dump", *PG, "-Fc", "-f", str(pg_custom), database)
        _run("pg_dump", *PG, "-Ft", "-f", str(pg_tar), database)
        _run("pg_dump", *PG, "-Fd", "-f", str(pg_directory), database)
        _run("pg_dump", *PG, "-f", str(pg_plain), database)
    finally:
        _psql("postgres", f"drop database if exists {database}")

    _mariadb(f"drop database if exists {database}; create database {database}")
    try:
        _mariadb(
            "create table items(id int primary key, name varchar(80));"
            "insert into items select seq, concat('item ', seq) from seq_1_to_500;",
            database,
        )
        mysql = folder / "shop.sql"
        _run("mariadb-dump", *MARIADB, database, stdout=mysql)
    finally:
        _mariadb(f"drop database if exists {database}")

    server = PrivateRedis().start()
    try:
        client = redis.Redis(host="127.0.0.1", port=server.port)
        for number in range(300):
            client.set(f"session:{number}", f"user {number} " + "x" * 40)
        client.rpush("queue", *[f"job {n}" for n in range(100)])
        client.save()
        client.close()
        rdb = folder / "cache.rdb"
        shutil.copyfile(server.directory / "dump.rdb", rdb)
    finally:
        server.destroy()
    return Dumps(folder, database, pg_custom, pg_tar, pg_directory, pg_plain, mysql, rdb)


# -- damage ---------------------------------------------------------------------------------------
def truncated(source: Path, target: Path, fraction: float = 0.5) -> Path:
    """The first ``fraction`` of ``source`` (a dump cut off while it was written)."""
    data = source.read_bytes()
    target.write_bytes(data[: int(len(data) * fraction)])
    return target


def flipped(source: Path, target: Path, at: float = 0.5, count: int = 16) -> Path:
    """``source`` with ``count`` bytes inverted at ``at`` of its length (bit rot)."""
    data = bytearray(source.read_bytes())
    start = int(len(data) * at)
    for index in range(start, min(len(data), start + count)):
        data[index] ^= 0xFF
    target.write_bytes(bytes(data))
    return target


def without_last_lines(source: Path, target: Path, lines: int) -> Path:
    """``source`` without its last ``lines`` lines (a SQL dump whose end never came)."""
    kept = source.read_bytes().splitlines(keepends=True)[:-lines]
    target.write_bytes(b"".join(kept))
    return target
