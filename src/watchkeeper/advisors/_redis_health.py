"""Redis' clients, persistence and replication, from INFO and CONFIG GET."""

from __future__ import annotations

from typing import Any

from watchkeeper.advisors._redis_common import integer, persist, server_now, text
from watchkeeper.advisors._redis_settings import RedisAdviceSettings
from watchkeeper.findings import Evidence, Finding, Severity
from watchkeeper.units import format_duration, plural


def clients(
    info: dict[str, Any], config: dict[str, str], settings: RedisAdviceSettings
) -> list[Finding]:
    findings: list[Finding] = []
    connected = integer(info.get("connected_clients"))
    maxclients = integer(config.get("maxclients", info.get("maxclients", 0)))
    rejected = integer(info.get("rejected_connections"))
    blocked = integer(info.get("blocked_clients"))
    base: Evidence = {"connected_clients": connected, "maxclients": maxclients}
    if rejected > 0:
        findings.append(
            Finding(
                source="redis",
                severity=Severity.warning,
                title=f"Redis refused {plural(rejected, 'connection')} "
                f"(maxclients {maxclients} reached)",
                subject="clients",
                evidence={"rejected_connections": rejected, **base},
                recommendation="Clients got 'max number of clients reached'. Find who holds "
                "the connections (by addr and name), bound the connection pool of each "
                "application, and raise the limit if the load is real (the file-descriptor "
                "limit too, ulimit -n): CLIENT LIST; " + persist(info, "maxclients <n>"),
                impact=float(rejected),
            )
        )
    if maxclients > 0:
        pct = 100.0 * connected / maxclients
        if pct >= settings.clients_warn_pct:
            findings.append(
                Finding(
                    source="redis",
                    severity=Severity.warning,
                    title=f"Redis has {connected} of {maxclients} clients connected ({pct:.0f}%)",
                    subject="clients",
                    evidence={**base, "used_pct": round(pct, 2)},
                    recommendation="New connections are refused at maxclients. Look for "
                    "connection leaks (long idle= times), bound the pools, or raise the "
                    "limit: CLIENT LIST; " + persist(info, "maxclients <n>"),
                    impact=pct,
                )
            )
    if blocked > 0:
        many = blocked >= settings.blocked_clients_warn
        findings.append(
            Finding(
                source="redis",
                severity=Severity.warning if many else Severity.info,
                title=f"{plural(blocked, 'Redis client')} {'is' if blocked == 1 else 'are'} "
                "blocked waiting (BLPOP, XREAD BLOCK, WAIT...)",
                subject="clients",
                evidence={"blocked_clients": blocked, **base},
                recommendation="Normal for queue consumers waiting for work. If none are "
                "expected, the cmd= column shows which commands block; each blocked client "
                "holds a connection: CLIENT LIST",
                impact=float(blocked),
            )
        )
    return findings


def persistence(info: dict[str, Any], config: dict[str, str]) -> list[Finding]:
    findings: list[Finding] = []
    if text(info.get("rdb_last_bgsave_status", "ok")) == "err":
        findings.append(_failed_snapshot(info, config))
    if not integer(info.get("aof_enabled")):
        return findings
    if text(info.get("aof_last_write_status", "ok")) == "err":
        findings.append(
            Finding(
                source="redis",
                severity=Severity.critical,
                title="Redis cannot write its append-only file",
                subject="persistence",
                evidence={
                    "aof_last_write_status": "err",
                    "aof_last_bgrewrite_status": text(info.get("aof_last_bgrewrite_status", "")),
                },
                recommendation="Redis refuses writes while the AOF cannot be written. Check "
                "the free space and permissions of the directory it lives in, and Redis' log: "
                "CONFIG GET dir",
                impact=1.0,
            )
        )
    elif text(info.get("aof_last_bgrewrite_status", "ok")) == "err":
        findings.append(
            Finding(
                source="redis",
                severity=Severity.warning,
                title="Redis' last append-only file rewrite failed",
                subject="persistence",
                evidence={"aof_last_bgrewrite_status": "err"},
                recommendation="The AOF keeps growing until a rewrite succeeds. Redis' log "
                "says why (disk space, fork failure).",
            )
        )
    return findings


def _failed_snapshot(info: dict[str, Any], config: dict[str, str]) -> Finding:
    stop_writes = config.get("stop-writes-on-bgsave-error", "")
    last = integer(info.get("rdb_last_save_time"))
    age = max(0, int(server_now(info)) - last) if last else None
    changes = integer(info.get("rdb_changes_since_last_save"))
    effect = (
        " Meanwhile Redis refuses writes (stop-writes-on-bgsave-error yes)."
        if stop_writes == "yes" and config.get("save", "").strip()
        else ""
    )
    return Finding(
        source="redis",
        severity=Severity.critical,
        title="Redis' last RDB snapshot failed",
        subject="persistence",
        evidence={
            "rdb_last_bgsave_status": "err",
            "rdb_changes_since_last_save": changes,
            "seconds_since_last_good_save": age,
            "stop_writes_on_bgsave_error": stop_writes or None,
        },
        recommendation="Data since the last good snapshot is at risk. Redis' log says why "
        "(no space left or permission denied in its directory, fork failed); fix that and "
        f"the next save succeeds.{effect} Where it writes, and the usual fix for a failing "
        "fork: CONFIG GET dir; sysctl vm.overcommit_memory=1",
        impact=float(changes),
    )


def replication(info: dict[str, Any]) -> list[Finding]:
    findings: list[Finding] = []
    role = text(info.get("role", ""))
    if role == "slave" and text(info.get("master_link_status", "")) != "up":
        findings.append(_lost_master(info))
    if role != "master":
        return findings
    for index in range(integer(info.get("connected_slaves"))):
        replica = info.get(f"slave{index}")
        if not isinstance(replica, dict):
            continue
        state = text(replica.get("state", ""))
        if not state or state == "online":
            continue
        where = f"{text(replica.get('ip', '?'))}:{text(replica.get('port', '?'))}"
        lag = integer(replica.get("lag"), -1)
        findings.append(
            Finding(
                source="redis",
                severity=Severity.warning,
                title=f"Redis replica {where} is {state}, not online",
                subject="replication",
                evidence={"replica": where, "state": state, "lag_s": lag if lag >= 0 else None},
                recommendation="A replica stuck in sync keeps asking for full copies. Check "
                "the replica's log, and that the buffers hold a full sync: CONFIG GET "
                "client-output-buffer-limit; CONFIG GET repl-backlog-size",
            )
        )
    return findings


def _lost_master(info: dict[str, Any]) -> Finding:
    down = integer(info.get("master_link_down_since_seconds"), -1)
    master = f"{text(info.get('master_host', '?'))}:{text(info.get('master_port', '?'))}"
    return Finding(
        source="redis",
        severity=Severity.critical,
        title=f"Redis replica has lost its master {master}"
        + (f" for {format_duration(down)}" if down >= 0 else " (never synced)"),
        subject="replication",
        evidence={
            "role": "slave",
            "master": master,
            "master_link_status": text(info.get("master_link_status", "")),
            "master_link_down_since_seconds": down if down >= 0 else None,
            "master_sync_in_progress": integer(info.get("master_sync_in_progress")),
        },
        recommendation="Reads from this replica grow stale. Check the master is up and "
        "reachable from here (network, masterauth, the master's protected-mode and bind), and "
        "the replica's log for the sync error.",
        impact=float(max(down, 0)),
    )
