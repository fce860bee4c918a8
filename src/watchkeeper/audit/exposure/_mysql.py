"""MySQL/MariaDB accounts without a password: root, anonymous, any other.

For each address tried (the URL's host, and this machine's non-loopback addresses when it
is loopback: see ``_postgres``), two logins over TCP with an empty password: as ``root``,
and as a user that does not exist (``STRANGER``), which only an anonymous account (``''@host``)
lets in. When one of them, or the URL's own credentials, gets in, ``mysql.user`` says which
accounts have no password at all (an empty ``authentication_string``, and an empty
``Password`` where that column exists, for a plugin that takes passwords: ``unix_socket``
and the like are not password logins) and from which hosts. An account for hosts other
than loopback is critical unless ``bind_address`` keeps the server on loopback; an account
usable from loopback only is a warning (every local user and container is root). A login
that succeeds from one of this machine's non-loopback addresses is critical.

PyMySQL blocks: each login runs on the ``checks`` thread lane, one at a time per server, with
connect, read and write timeouts.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import unquote, urlsplit

from watchkeeper.audit.exposure._found import SOURCE, merged, not_checked
from watchkeeper.audit.exposure._scope import is_loopback, local_addresses
from watchkeeper.findings import Evidence, Finding, Severity
from watchkeeper.lanes import CHECKS, Busy

STRANGER = "watchkeeper_audit_nobody"
_PASSWORD_PLUGINS = (
    "",
    "mysql_native_password",
    "mysql_old_password",
    "caching_sha2_password",
    "sha256_password",
    "mysql_clear_password",
)
_LOCAL_HOSTS = frozenset({"localhost", "127.0.0.1", "::1"})


@dataclass
class Seen:
    """What one address let us do."""

    address: str
    logins: list[str] = field(default_factory=list)
    """Who got in with an empty password: root, anonymous."""
    accounts: list[tuple[str, str]] | None = None
    """(user, host) of every account without a password, when mysql.user was readable."""
    bind: str | None = None
    error: str | None = None


async def check_mysql(url: str, *, wait: float) -> list[Finding]:
    parts = urlsplit(url)
    host = parts.hostname or "localhost"
    port = parts.port or 3306
    subject = f"mysql://{host}:{port}"
    given = (unquote(parts.username or ""), unquote(parts.password or ""))
    addresses = [host, *(local_addresses() if is_loopback(host) else [])]
    seen = []
    for address in addresses:
        try:
            seen.append(
                await CHECKS.run_one(
                    ("audit-mysql", address, port), _look, address, port, given, wait
                )
            )
        except Busy:
            seen.append(Seen(address, error="a previous login there is still stuck"))
    findings = [f for one in seen for f in _findings(one, subject)]
    if seen[0].error is not None and not seen[0].logins and seen[0].accounts is None:
        findings.append(not_checked("MySQL", subject, seen[0].error))
    return merged(findings)


def _look(address: str, port: int, given: tuple[str, str], wait: float) -> Seen:
    seen = Seen(address)
    tries = [("root", "root", ""), ("anonymous", STRANGER, "")]
    if given[0] and given != ("root", ""):
        tries.append(("given", *given))
    for label, user, password in tries:
        connection, error = _connect(address, port, user, password, wait)
        if connection is None:
            if error and not error.startswith("access denied") and seen.error is None:
                seen.error = error
            continue
        try:
            if label != "given":
                seen.logins.append(label)
            if seen.accounts is None:
                seen.accounts, seen.bind = _accounts(connection)
        finally:
            connection.close()
    return seen


def _connect(
    address: str, port: int, user: str, password: str, wait: float
) -> tuple[Any, str | None]:
    import pymysql

    seconds = max(1, round(wait))
    try:
        return (
            pymysql.connect(
                host=address,
                port=port,
                user=user,
                password=password,
                connect_timeout=seconds,
                read_timeout=seconds,
                write_timeout=seconds,
            ),
            None,
        )
    except pymysql.Error as exc:
        code = exc.args[0] if exc.args and isinstance(exc.args[0], int) else None
        if code in (1044, 1045, 1698):
            return None, "access denied"
        message = str(exc.args[1]) if len(exc.args) > 1 else str(exc)
        return None, (message.splitlines() or [type(exc).__name__])[0][:300]
    except (IndexError, ValueError, struct.error, UnicodeDecodeError, OSError):
        return None, "not a MySQL server: its greeting does not parse"


def _accounts(connection: Any) -> tuple[list[tuple[str, str]] | None, str | None]:
    import pymysql

    try:
        with connection.cursor() as cursor:
            cursor.execute("show columns from mysql.user")
            columns = {str(row[0]).lower() for row in cursor.fetchall()}
            where = ["authentication_string = ''", "plugin in %s"]
            if "password" in columns:
                where.append("(password = '' or password is null)")
            if "is_role" in columns:
                where.append("is_role <> 'Y'")
            if "account_locked" in columns:  # MySQL 8
                where.append("account_locked <> 'Y'")
            cursor.execute("show tables from mysql like 'global_priv'")
            if cursor.fetchone() is not None:  # MariaDB 10.4+: locks live in the JSON
                where.append(
                    "(user, host) not in (select user, host from mysql.global_priv "
                    "where json_value(priv, '$.account_locked') in ('true', '1'))"
                )
            cursor.execute(
                "select user, host from mysql.user where " + " and ".join(where) + " limit 100",
                (_PASSWORD_PLUGINS,),
            )
            accounts = [(str(user), str(host)) for user, host in cursor.fetchall()]
            bind = None
            try:
                cursor.execute("select @@bind_address")
                row = cursor.fetchone()
                bind = str(row[0]) if row and row[0] is not None else None
            except pymysql.Error:  # older servers have no @@bind_address: bind stays unknown
                pass
            return accounts, bind
    except pymysql.Error:
        return None, None


def _remote(host: str) -> bool:
    return host.lower() not in _LOCAL_HOSTS


def _bound_to_loopback(bind: str | None) -> bool:
    if not bind:
        return False
    return all(name.strip() in _LOCAL_HOSTS for name in bind.split(","))


def _findings(seen: Seen, subject: str) -> list[Finding]:
    findings: list[Finding] = []
    base: Evidence = {"address": seen.address}
    if seen.bind is not None:
        base["bind_address"] = seen.bind
    if seen.accounts is not None:
        empty = [(u, h) for u, h in seen.accounts if u]
        anonymous: list[tuple[str, str]] = [a for a in seen.accounts if not a[0]]
        if empty:
            findings.append(_empty(subject, empty, seen, base))
        if anonymous:
            findings.append(_anonymous(subject, anonymous, seen, base))
        return findings
    # mysql.user not readable: what the logins alone show
    if "root" in seen.logins:
        findings.append(_empty(subject, [("root", seen.address)], seen, base, observed=True))
    if "anonymous" in seen.logins:
        anonymous_login: list[tuple[str, str]] = [("", seen.address)]
        findings.append(_anonymous(subject, anonymous_login, seen, base, observed=True))
    return findings


def _severity(accounts: list[tuple[str, str]], seen: Seen, observed: bool) -> Severity:
    if observed:
        return Severity.warning if is_loopback(seen.address) else Severity.critical
    if not is_loopback(seen.address) and seen.logins:
        return Severity.critical
    if any(_remote(host) for _, host in accounts) and not _bound_to_loopback(seen.bind):
        return Severity.critical
    return Severity.warning  # loopback only ('%' matches loopback too: never less)


def _names(accounts: list[tuple[str, str]]) -> str:
    shown = ", ".join(f"'{u}'@'{h}'" for u, h in accounts[:5])
    return shown + (f" and {len(accounts) - 5} more" if len(accounts) > 5 else "")


def _seen_by(seen: Seen, observed: bool) -> str:
    if not seen.logins:
        return f"mysql.user, read as the URL's user at {seen.address}"
    then = "" if observed else ", then mysql.user"
    return f"login as {' and '.join(seen.logins)} with an empty password to {seen.address}{then}"


def _empty(
    subject: str,
    accounts: list[tuple[str, str]],
    seen: Seen,
    base: Evidence,
    *,
    observed: bool = False,
) -> Finding:
    severity = _severity(accounts, seen, observed)
    fixes = "; ".join(
        f"ALTER USER '{u}'@'{h}' IDENTIFIED BY '<a long random password>'" for u, h in accounts[:3]
    )
    return Finding(
        source=SOURCE,
        severity=severity,
        title=f"MySQL accounts without a password: {_names(accounts)}",
        subject=subject,
        evidence={**base, "accounts": len(accounts), "seen_by": _seen_by(seen, observed)},
        recommendation=f"SQL: {fixes}; (for root on MariaDB, IDENTIFIED VIA unix_socket keeps "
        "local admin logins working without a password and refuses them over TCP)",
        impact=3.0 if severity == Severity.critical else 2.0,
        rule="mysql-empty-password",
    )


def _anonymous(
    subject: str,
    accounts: list[tuple[str, str]],
    seen: Seen,
    base: Evidence,
    *,
    observed: bool = False,
) -> Finding:
    severity = _severity(accounts, seen, observed)
    hosts = sorted({h for _, h in accounts})
    return Finding(
        source=SOURCE,
        severity=severity,
        title=f"MySQL has anonymous accounts without a password ({', '.join(hosts[:5])})",
        subject=subject,
        evidence={**base, "accounts": len(accounts), "seen_by": _seen_by(seen, observed)},
        recommendation="SQL: "
        + "; ".join(f"DROP USER ''@'{h}'" for h in hosts[:3])
        + " (mariadb-secure-installation removes them too); any user name logs in through "
        "them.",
        impact=3.0 if severity == Severity.critical else 2.0,
        rule="mysql-anonymous-user",
    )
