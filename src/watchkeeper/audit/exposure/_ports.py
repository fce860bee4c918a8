"""Open ports: a bounded TCP connect scan of the services that should not face the internet.

Only the one host given is scanned, only the ports of ``SERVICES`` (or those the caller
names), with at most ``CONCURRENCY`` connection attempts at a time and ``wait`` seconds
for each: a full scan of a host that drops packets takes ``len(ports) / CONCURRENCY *
wait`` seconds at most (1 s here). A connect is all: nothing is sent, nothing is read.

Severity is the service's (below) when the address is public, one step lower on a private
or loopback address (``_scope.lowered``):

- critical: no authentication by default, or it runs code: Docker API (2375), etcd
  (2379), kubelet (10250), Redis (6379), memcached (11211), Elasticsearch (9200, 9300),
  MongoDB (27017), CouchDB (5984), Telnet (23), SMB (445), VNC (5900);
- warning: a login, but a password-guessing target and a long record of pre-authentication
  holes: PostgreSQL (5432), MySQL/MariaDB (3306), SQL Server (1433), Oracle (1521), RDP
  (3389), FTP (21), POP3 (110), IMAP (143), Kibana (5601), RabbitMQ (5672, 15672),
  Kubernetes API (6443), WebLogic (7001), port 9000 (php-fpm, MinIO, Portainer), Prometheus
  (9090);
- info: often meant to be open, worth knowing: SSH (22), SMTP (25), HTTP on 8080/8443.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Iterable
from dataclasses import dataclass

from watchkeeper.audit.exposure._found import SOURCE
from watchkeeper.audit.exposure._scope import lowered, resolve, scope
from watchkeeper.findings import Finding, Severity

CONCURRENCY = 32
WAIT = 1.0

_C, _W, _I = Severity.critical, Severity.warning, Severity.info


@dataclass(frozen=True, slots=True)
class Service:
    port: int
    name: str
    severity: Severity
    fix: str
    """The line that closes it (a bind address, a firewall rule)."""


_FIREWALL = "ufw deny {port}/tcp (or nftables: tcp dport {port} drop)"

SERVICES: dict[int, Service] = {
    service.port: service
    for service in (
        Service(21, "FTP", _W, "Use SFTP over SSH instead; " + _FIREWALL),
        Service(22, "SSH", _I, "sshd_config: PasswordAuthentication no (keys only)"),
        Service(23, "Telnet", _C, "systemctl disable --now telnet.socket; " + _FIREWALL),
        Service(25, "SMTP", _I, "Only a mail server needs it: " + _FIREWALL),
        Service(110, "POP3", _W, "Offer POP3S (995) only; " + _FIREWALL),
        Service(143, "IMAP", _W, "Offer IMAPS (993) only; " + _FIREWALL),
        Service(445, "SMB", _C, "smb.conf: interfaces = lo; bind interfaces only = yes"),
        Service(1433, "SQL Server", _W, _FIREWALL),
        Service(1521, "Oracle listener", _W, _FIREWALL),
        Service(2375, "Docker API (no TLS)", _C, "Remove -H tcp://0.0.0.0:2375 from dockerd"),
        Service(2379, "etcd", _C, "etcd: --listen-client-urls https://127.0.0.1:2379"),
        Service(3306, "MySQL/MariaDB", _W, "my.cnf [mysqld]: bind-address = 127.0.0.1"),
        Service(3389, "RDP", _W, "Reach it through a VPN only; " + _FIREWALL),
        Service(5432, "PostgreSQL", _W, "postgresql.conf: listen_addresses = 'localhost'"),
        Service(5601, "Kibana", _W, "kibana.yml: server.host: 127.0.0.1"),
        Service(5672, "RabbitMQ (AMQP)", _W, "rabbitmq.conf: listeners.tcp.1 = 127.0.0.1:5672"),
        Service(5900, "VNC", _C, "Tunnel VNC through SSH; x11vnc -localhost"),
        Service(5984, "CouchDB", _C, "local.ini [chttpd]: bind_address = 127.0.0.1"),
        Service(6379, "Redis", _C, "redis.conf: bind 127.0.0.1 -::1"),
        Service(6443, "Kubernetes API", _W, "Restrict with a firewall to your admin network"),
        Service(7001, "WebLogic", _W, _FIREWALL),
        Service(8080, "HTTP (alternate)", _I, "Serve through the proxy on 443; " + _FIREWALL),
        Service(8443, "HTTPS (alternate)", _I, "Serve through the proxy on 443; " + _FIREWALL),
        Service(9000, "php-fpm/MinIO/Portainer", _W, "php-fpm: listen = 127.0.0.1:9000"),
        Service(9090, "Prometheus", _W, "prometheus --web.listen-address=127.0.0.1:9090"),
        Service(9200, "Elasticsearch", _C, "elasticsearch.yml: network.host: 127.0.0.1"),
        Service(
            9300, "Elasticsearch transport", _C, "elasticsearch.yml: transport.host: 127.0.0.1"
        ),
        Service(10250, "kubelet", _C, "kubelet: --anonymous-auth=false; " + _FIREWALL),
        Service(11211, "memcached", _C, "memcached -l 127.0.0.1 (/etc/memcached.conf)"),
        Service(15672, "RabbitMQ management", _W, "rabbitmq.conf: management.tcp.ip = 127.0.0.1"),
        Service(27017, "MongoDB", _C, "mongod.conf: net.bindIp: 127.0.0.1"),
    )
}
DEFAULT_PORTS: tuple[int, ...] = tuple(SERVICES)


async def open_ports(
    address: str,
    ports: Iterable[int],
    *,
    wait: float = WAIT,
    concurrency: int = CONCURRENCY,
) -> list[int]:
    """The ports of ``address`` that accept a TCP connection, in ascending order."""
    gate = asyncio.Semaphore(concurrency)

    async def knock(port: int) -> int | None:
        async with gate:
            try:
                async with asyncio.timeout(wait):
                    _, writer = await asyncio.open_connection(address, port)
            except (OSError, TimeoutError):
                return None
            writer.close()
            with contextlib.suppress(OSError, TimeoutError):
                async with asyncio.timeout(wait):
                    await writer.wait_closed()
            return port

    found = await asyncio.gather(*(knock(port) for port in sorted(set(ports))))
    return [port for port in found if port is not None]


async def scan_ports(
    host: str,
    *,
    ports: Iterable[int] = DEFAULT_PORTS,
    wait: float = WAIT,
    concurrency: int = CONCURRENCY,
) -> list[Finding]:
    """A finding per open port of ``host`` among ``ports``. Raises OSError (one line) when
    the host name does not resolve."""
    address = await resolve(host, wait * 5)
    where = scope(address)
    findings = []
    for port in await open_ports(address, ports, wait=wait, concurrency=concurrency):
        service = SERVICES.get(port, Service(port, f"port {port}", _I, _FIREWALL))
        severity = lowered(service.severity, where)
        findings.append(
            Finding(
                source=SOURCE,
                severity=severity,
                title=f"{service.name} port {port} is open on {host}"
                + ("" if where == "public" else f" ({where} address)"),
                subject=f"{host}:{port}",
                evidence={
                    "address": address,
                    "port": port,
                    "service": service.name,
                    "scope": where,
                },
                recommendation=(
                    f"Nothing outside should reach {service.name}: " + service.fix.format(port=port)
                ),
                impact={_C: 3.0, _W: 2.0}.get(service.severity, 1.0),
                rule=f"port-{port}-open",
            )
        )
    return findings
