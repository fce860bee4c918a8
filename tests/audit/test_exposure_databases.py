"""Databases without protection, against the machine's PostgreSQL, MariaDB and Redis (as
they are set up here: trust on loopback, root without a password, Redis without one) and
private servers configured badly and well, so each finding's absence is tested too."""

from __future__ import annotations

import asyncio
import os
import pwd
import shutil
from collections.abc import Iterator

import psycopg
import pytest
from tests.helpers.certs import CertificateSet
from tests.helpers.mariadb import PrivateMariadb
from tests.helpers.postgres import PrivatePostgres
from tests.helpers.redis_server import PrivateRedis

from watchkeeper.audit.exposure import check_databases
from watchkeeper.audit.exposure._scope import local_addresses
from watchkeeper.findings import Finding, Severity

OUTSIDE = next((a for a in local_addresses() if ":" not in a), None)
"""One of this machine's non-loopback IPv4 addresses: a connection to it arrives from a
non-loopback source, as a neighbour's would (None on a loopback-only machine)."""
PASSWORD = "Wk-audit-S3cret"


def _rules(findings: list[Finding]) -> dict[str, Finding]:
    by_rule = {f.rule: f for f in findings}
    assert len(by_rule) == len(findings), [f.title for f in findings]
    return by_rule


# PostgreSQL -------------------------------------------------------------------------------


class Postgres:
    """A private server with TLS on, whose pg_hba.conf each test writes."""

    def __init__(self, server: PrivatePostgres) -> None:
        self.server = server

    def url(self, password: str = "") -> str:
        secret = f":{password}" if password else ""
        return f"postgresql://postgres{secret}@127.0.0.1:{self.server.port}/postgres"

    async def hba(self, *lines: str) -> None:
        (self.server.data / "pg_hba.conf").write_text("\n".join(["local all all trust", *lines]))
        with psycopg.connect(
            host=str(self.server.directory),
            port=self.server.port,
            user="postgres",
            dbname="postgres",
            autocommit=True,
        ) as db:
            db.execute("select pg_reload_conf()")
        await asyncio.sleep(0.3)  # the postmaster rereads it on SIGHUP


@pytest.fixture(scope="module")
def postgres(certificates: CertificateSet) -> Iterator[Postgres]:
    server = PrivatePostgres().init()
    owner = pwd.getpwnam("postgres") if os.geteuid() == 0 else None
    cert = server.directory / "server.pem"
    key = server.directory / "server.key"
    shutil.copy(certificates.valid.cert_file, cert)
    shutil.copy(certificates.valid.key_file, key)
    key.chmod(0o600)
    if owner is not None:
        for path in (cert, key):
            os.chown(path, owner.pw_uid, owner.pw_gid)
    listen = "127.0.0.1" + (f",{OUTSIDE}" if OUTSIDE else "")
    server.start(
        f"listen_addresses='{listen}'",
        "ssl=on",
        f"ssl_cert_file='{cert}'",
        f"ssl_key_file='{key}'",
    )
    with psycopg.connect(server.url, autocommit=True) as db:
        db.execute(f"alter role postgres password '{PASSWORD}'")
    try:
        yield Postgres(server)
    finally:
        server.destroy()


@pytest.mark.postgres
async def test_the_machine_s_postgres_trusts_loopback_and_nothing_more() -> None:
    findings = await check_databases(["postgresql://postgres@127.0.0.1:5432/postgres"])
    found = _rules(findings)
    assert set(found) == {"postgres-trust-local"}
    trust = found["postgres-trust-local"]
    assert trust.severity == Severity.warning
    assert trust.subject == "postgresql://127.0.0.1:5432"
    assert trust.evidence["seen_by"] == "a login as an unknown role over TCP to 127.0.0.1"
    assert trust.evidence["method"] == "trust"  # and pg_hba_file_rules said so too
    assert "scram-sha-256" in trust.recommendation


async def test_trust_for_every_network_is_critical(postgres: Postgres) -> None:
    await postgres.hba("host all all 127.0.0.1/32 trust", "host all all 0.0.0.0/0 trust")
    found = _rules(await check_databases([postgres.url()]))
    assert set(found) == {"postgres-trust-local", "postgres-trust-remote"}
    remote = found["postgres-trust-remote"]
    assert remote.severity == Severity.critical
    assert remote.evidence["hba_line"] == 3
    if OUTSIDE:  # seen, not only read: a login from a non-loopback address got in
        assert remote.evidence["address"] == OUTSIDE
        assert remote.evidence["seen_by"].endswith(f"over TCP to {OUTSIDE}")


async def test_password_logins_that_may_skip_tls_are_found(postgres: Postgres) -> None:
    await postgres.hba("host all all 127.0.0.1/32 trust", "host all all 0.0.0.0/0 scram-sha-256")
    found = _rules(await check_databases([postgres.url()]))
    assert set(found) == {"postgres-trust-local", "postgres-password-without-tls"}
    plaintext = found["postgres-password-without-tls"]
    assert plaintext.evidence["hba_line"] == 3
    assert "hostssl" in plaintext.recommendation
    if OUTSIDE:
        assert plaintext.severity == Severity.warning
        assert plaintext.evidence["address"] == OUTSIDE
    else:  # listen_addresses is loopback only: nobody else can reach the rule
        assert plaintext.severity == Severity.info


async def test_a_postgres_with_tls_only_and_scram_gives_nothing(postgres: Postgres) -> None:
    await postgres.hba(
        "hostssl all all 127.0.0.1/32 scram-sha-256", "hostssl all all 0.0.0.0/0 scram-sha-256"
    )
    assert await check_databases([postgres.url(PASSWORD)]) == []  # configuration read
    assert await check_databases([postgres.url()]) == []  # a stranger's view only


# Redis ------------------------------------------------------------------------------------


async def test_the_machine_s_redis_answers_without_a_password() -> None:
    found = _rules(await check_databases(["redis://127.0.0.1:6379"]))
    assert set(found) == {"redis-no-password"}  # protected mode is on here
    assert found["redis-no-password"].severity == Severity.warning  # loopback only
    assert "requirepass" in found["redis-no-password"].recommendation


async def test_a_redis_with_a_password_gives_nothing() -> None:
    server = PrivateRedis("--requirepass", PASSWORD)
    try:
        await asyncio.to_thread(server.start)
        url = f"redis://127.0.0.1:{server.port}"
        assert await check_databases([url]) == []
        assert await check_databases([f"redis://:{PASSWORD}@127.0.0.1:{server.port}"]) == []
    finally:
        server.destroy()


async def test_a_redis_open_to_the_network_without_protected_mode_is_critical() -> None:
    bind = ["--bind", "127.0.0.1", *([OUTSIDE] if OUTSIDE else [])]
    server = PrivateRedis("--protected-mode", "no", *bind)
    try:
        await asyncio.to_thread(server.start)
        found = _rules(await check_databases([f"redis://127.0.0.1:{server.port}"]))
    finally:
        server.destroy()
    assert set(found) == {"redis-no-password", "redis-protected-mode-off"}
    expected = Severity.critical if OUTSIDE else Severity.warning
    assert found["redis-no-password"].severity == expected
    assert found["redis-protected-mode-off"].severity == expected
    assert "protected-mode yes" in found["redis-protected-mode-off"].recommendation


# MySQL / MariaDB ----------------------------------------------------------------------------


async def test_the_machine_s_mariadb_root_has_no_password() -> None:
    found = _rules(await check_databases(["mysql://127.0.0.1:3306"]))
    assert set(found) == {"mysql-empty-password"}
    empty = found["mysql-empty-password"]
    assert empty.severity == Severity.warning  # bind-address is loopback here
    assert "'root'@'localhost'" in empty.title
    assert "ALTER USER 'root'@" in empty.recommendation


async def test_mariadb_anonymous_and_root_accounts_then_none_once_secured() -> None:
    server = PrivateMariadb()
    try:
        await asyncio.to_thread(server.start)
        await asyncio.to_thread(server.sql, "create user ''@'%'")
        url = f"mysql://127.0.0.1:{server.port}"
        found = _rules(await check_databases([url]))
        assert set(found) == {"mysql-empty-password", "mysql-anonymous-user"}
        assert "DROP USER ''@'%'" in found["mysql-anonymous-user"].recommendation
        accounts = await asyncio.to_thread(
            server.sql, "select concat(user, '@', host) from mysql.user where user = 'root'"
        )
        roots = [line.split("@", 1) for line in accounts.stdout.splitlines()[1:]]
        await asyncio.to_thread(
            server.sql,
            "drop user ''@'%'; "
            + "".join(f"alter user '{u}'@'{h}' identified by '{PASSWORD}'; " for u, h in roots),
        )
        assert await check_databases([url]) == []
        assert await check_databases([f"mysql://root:{PASSWORD}@127.0.0.1:{server.port}"]) == []
    finally:
        server.destroy()


# Bad input --------------------------------------------------------------------------------


async def test_an_unreachable_database_is_said_so_not_passed() -> None:
    findings = await check_databases(["redis://127.0.0.1:1", "postgresql://127.0.0.1:1/x"])
    assert [(f.rule, f.severity) for f in findings] == [("database-not-checked", Severity.info)] * 2


async def test_a_url_of_no_known_kind_is_one_line_without_its_password() -> None:
    with pytest.raises(ValueError, match=r"^'mongodb://admin:\*\*\*@db' is not a") as error:
        await check_databases(["mongodb://admin:topsecret@db"])
    assert "topsecret" not in str(error.value)
