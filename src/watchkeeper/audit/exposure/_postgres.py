"""PostgreSQL reachable without protection: ``trust`` from other hosts, password logins
without TLS.

Two ways to know, used together:

1. **What a stranger sees** (no privilege needed). For each address tried, log in over TCP
   as a role that does not exist (``ROLE``), with no password and TLS off, then with TLS
   required. The server's answer tells its ``pg_hba.conf`` verdict for that source address:
   ``role "..." does not exist`` means it let us through without asking for a password
   (``trust``: it checks the role only after authentication); a password request
   (libpq's "no password supplied": with scram the server challenges even an unknown role)
   means it accepts password logins on a plaintext connection; "no pg_hba.conf entry ...
   no encryption" means it refuses plaintext from there. The server logs one failed login.
2. **What the server is configured to do** (a superuser's URL, or ``trust`` that let us in
   as ``postgres``): every ``pg_hba_file_rules`` line for TCP (``host``, ``hostnossl``,
   ``hostssl``) with ``trust`` or with a password method on a connection that may be
   plaintext, and ``ssl``, ``listen_addresses``.

"Non-local" means a rule or a source address outside loopback: a rule for
``127.0.0.0/8``, ``::1``, ``localhost`` or ``samehost`` is local; ``all``, ``samenet``, any
other network or host name is not. On a machine that is loopback-only for the test (no
other host to connect from), the stranger's view comes from this machine's own
non-loopback addresses (``_scope.local_addresses``), tried when the URL names a loopback
host: a connection to one of them arrives from that address, as a neighbour's would. A rule
that is not local but cannot be reached (``listen_addresses`` is loopback only) is info.

Messages are matched in English (``lc_messages``'s default); a server speaking another
language gives the configured view only.
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote, urlsplit

from watchkeeper.audit.exposure._found import SOURCE, merged, not_checked
from watchkeeper.audit.exposure._scope import is_loopback, local_addresses
from watchkeeper.findings import Evidence, Finding, Severity

ROLE = "watchkeeper_audit_no_such_role"
_NO_PASSFILE = "/nonexistent/watchkeeper-audit/pgpass"
_PASSWORD_METHODS = frozenset({"password", "md5", "scram-sha-256"})
_LOCAL_WORDS = frozenset({"samehost", "localhost"})
_PLAINTEXT_TYPES = frozenset({"host", "hostnossl", "hostnogssenc"})
"""Rule types a plaintext connection can match (``host`` does when the client declines TLS
or the server has none)."""


@dataclass(frozen=True, slots=True)
class Verdict:
    """What the server did with an unknown role from one address."""

    address: str
    plaintext: str
    """trust, password, refused, unreachable or other (the first line)"""
    reason: str
    tls: bool | None
    """Whether the server takes TLS at all (None: not known)."""


async def check_postgres(url: str, *, wait: float) -> list[Finding]:
    parts = urlsplit(url)
    host = parts.hostname or "localhost"
    port = parts.port or 5432
    subject = f"postgresql://{host}:{port}"
    addresses = [host, *(local_addresses() if is_loopback(host) else [])]
    verdicts = await asyncio.gather(*(_stranger(a, port, wait) for a in addresses))
    user = unquote(parts.username or "postgres")
    password = unquote(parts.password or "")
    database = unquote(parts.path.lstrip("/")) or "postgres"
    settings = await _configured(host, port, user, password, database, wait)
    findings = [f for verdict in verdicts for f in _from_verdict(verdict, subject, port)]
    if settings is not None:
        findings += _from_rules(settings, subject)
    elif verdicts[0].plaintext == "unreachable":
        return [not_checked("PostgreSQL", subject, verdicts[0].reason)]
    return merged(findings)


def _base(host: str, port: int, wait: float) -> dict[str, Any]:
    return {
        "host": host,
        "port": port,
        "connect_timeout": max(1, round(wait)),
        "passfile": _NO_PASSFILE,
        "gssencmode": "disable",
        "application_name": "watchkeeper-audit",
    }


async def _attempt(host: str, port: int, wait: float, **options: Any) -> str:
    """``ok`` or the first line of why the login failed."""
    import psycopg

    try:
        async with asyncio.timeout(wait + 1):
            connection = await psycopg.AsyncConnection.connect(**_base(host, port, wait), **options)
    except TimeoutError:
        return "unreachable: no answer"
    except psycopg.Error as exc:
        return _reason(str(exc))
    with contextlib.suppress(psycopg.Error):
        await connection.close()
    return "ok"


def _reason(message: str) -> str:
    text = " ".join(message.split())
    return text.split("failed: ", 1)[-1][:300]


async def _stranger(address: str, port: int, wait: float) -> Verdict:
    unknown = {"user": ROLE, "dbname": "postgres", "password": ""}
    plain, secure = await asyncio.gather(
        _attempt(address, port, wait, sslmode="disable", **unknown),
        _attempt(address, port, wait, sslmode="require", **unknown),
    )
    tls: bool | None = None
    if "does not support SSL" in secure:
        tls = False
    elif not _unreachable(secure):
        tls = True
    return Verdict(address, _classify(plain), plain, tls)


def _unreachable(reason: str) -> bool:
    return reason.startswith("unreachable") or any(
        word in reason
        for word in ("Connection refused", "timeout expired", "could not", "No route")
    )


def _classify(reason: str) -> str:
    if "does not exist" in reason or reason == "ok":
        return "trust"
    if "no password supplied" in reason or "password authentication failed" in reason:
        return "password"
    if "no pg_hba.conf entry" in reason:
        return "refused"
    if _unreachable(reason):
        return "unreachable"
    return "other: " + reason[:120]


def _from_verdict(verdict: Verdict, subject: str, port: int) -> list[Finding]:
    local = is_loopback(verdict.address)
    evidence: Evidence = {
        "address": verdict.address,
        "port": port,
        "seen_by": f"a login as an unknown role over TCP to {verdict.address}",
        "tls_offered": {None: "unknown", True: "yes", False: "no"}[verdict.tls],
    }
    if verdict.plaintext == "trust":
        return [_trust(subject, local, evidence, rule_text=None, reachable=True)]
    if verdict.plaintext == "password" and not local:
        return [_plaintext_password(subject, evidence, method=None, reachable=True)]
    return []


def _trust(
    subject: str, local: bool, evidence: Evidence, *, rule_text: str | None, reachable: bool
) -> Finding:
    where = "loopback" if local else "other hosts"
    severity = Severity.warning if local else Severity.critical
    if not reachable:
        severity = Severity.info
    rule_line = rule_text or (
        f"host all all {evidence.get('address', '0.0.0.0')}/32 trust"
        if not local
        else "host all all 127.0.0.1/32 trust"
    )
    return Finding(
        source=SOURCE,
        severity=severity,
        title=f"PostgreSQL lets connections from {where} in without a password (trust)",
        subject=subject,
        evidence=evidence,
        recommendation=(
            f"In pg_hba.conf replace '{rule_line}' with a password method, e.g. "
            f"'hostssl all all {'127.0.0.1/32' if local else '0.0.0.0/0'} scram-sha-256'; "
            "set a password first (SQL: \\password postgres, with password_encryption = "
            "'scram-sha-256'), then SELECT pg_reload_conf();"
            + ("" if local else " Any host that reaches the port is superuser now.")
        ),
        impact=3.0 if severity == Severity.critical else 2.0,
        rule="postgres-trust-local" if local else "postgres-trust-remote",
    )


def _plaintext_password(
    subject: str, evidence: Evidence, *, method: str | None, reachable: bool
) -> Finding:
    cleartext = method == "password"
    severity = Severity.critical if cleartext else Severity.warning
    if not reachable:
        severity = Severity.info
    return Finding(
        source=SOURCE,
        severity=severity,
        title="PostgreSQL accepts password logins from other hosts without TLS"
        + (" (the password itself in clear text)" if cleartext else ""),
        subject=subject,
        evidence=evidence,
        recommendation=(
            "Require TLS for every remote login: in postgresql.conf ssl = on (with "
            "ssl_cert_file and ssl_key_file), and in pg_hba.conf 'hostssl' instead of "
            "'host' for remote networks, e.g. 'hostssl all all 0.0.0.0/0 scram-sha-256'"
            + (" (never the 'password' method)" if cleartext else "")
            + "; then SELECT pg_reload_conf();"
        ),
        impact=2.5 if severity != Severity.info else 1.0,
        rule="postgres-password-without-tls",
    )


@dataclass(frozen=True, slots=True)
class Settings:
    ssl: bool
    listen_addresses: str
    rules: list[tuple[int, str, str, str | None, str | None]]
    """(line, type, auth method, address, netmask) of each TCP rule."""


async def _configured(
    host: str, port: int, user: str, password: str, database: str, wait: float
) -> Settings | None:
    """``ssl``, ``listen_addresses`` and the TCP rules of ``pg_hba_file_rules``, when the
    URL's role may read them; None otherwise."""
    import psycopg

    try:
        async with asyncio.timeout(wait + 1):
            connection = await psycopg.AsyncConnection.connect(
                **_base(host, port, wait),
                user=user,
                password=password,
                dbname=database,
                sslmode="prefer",
                autocommit=True,
            )
    except (TimeoutError, psycopg.Error):
        return None
    try:
        async with asyncio.timeout(wait + 1):
            cursor = await connection.execute(
                "select current_setting('ssl'), current_setting('listen_addresses')"
            )
            row = await cursor.fetchone()
            cursor = await connection.execute(
                "select line_number, type, auth_method, address, netmask "
                "from pg_hba_file_rules where error is null and type like 'host%' "
                "order by line_number limit 1000"
            )
            rules = [(int(r[0]), str(r[1]), str(r[2]), r[3], r[4]) for r in await cursor.fetchall()]
    except (TimeoutError, psycopg.Error):
        return None
    finally:
        with contextlib.suppress(psycopg.Error):
            await connection.close()
    if row is None:
        return None
    return Settings(str(row[0]) == "on", str(row[1]), rules)


def is_local_rule(address: str | None, netmask: str | None) -> bool:
    """Whether a pg_hba rule's address covers loopback sources only."""
    if address is None:
        return False
    if address in _LOCAL_WORDS:
        return True
    try:
        network = (
            ipaddress.ip_network(f"{address}/{netmask}", strict=False)
            if netmask
            else ipaddress.ip_network(address, strict=False)
        )
    except ValueError:
        return False  # all, samenet, a host name other than localhost
    return network.is_loopback


def _listens_beyond_loopback(listen_addresses: str) -> bool:
    for item in listen_addresses.split(","):
        name = item.strip()
        if name and name not in ("localhost", "127.0.0.1", "::1"):
            return True
    return False


def _from_rules(settings: Settings, subject: str) -> list[Finding]:
    reachable = _listens_beyond_loopback(settings.listen_addresses)
    findings: list[Finding] = []
    for line, kind, method, address, netmask in settings.rules:
        local = is_local_rule(address, netmask)
        shown = address if not netmask else f"{address}/{netmask}"
        evidence: Evidence = {
            "hba_line": line,
            "type": kind,
            "address": shown,
            "method": method,
            "ssl": "on" if settings.ssl else "off",
            "listen_addresses": settings.listen_addresses,
            "seen_by": "pg_hba_file_rules",
        }
        rule_text = f"{kind} ... {shown} {method}"
        if method == "trust":
            findings.append(
                _trust(subject, local, evidence, rule_text=rule_text, reachable=reachable or local)
            )
        elif method in _PASSWORD_METHODS and not local and kind in _PLAINTEXT_TYPES:
            findings.append(
                _plaintext_password(subject, evidence, method=method, reachable=reachable)
            )
    return findings
