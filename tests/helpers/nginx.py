"""A private nginx (Debian's package) for audit tests: the config a test writes, served on a
loopback address of its own, started and stopped by the test.

    with Nginx(tmp_path, '''
        server {{
            listen {address}:{http_port};
            root {root};
            add_header X-Frame-Options DENY always;
        }}
    ''') as site:
        site.url("/")                     # http://127.77.x.y:PORT/

Placeholders: ``{address}`` (the site's loopback address), ``{http_port}``, ``{https_port}``,
``{cert}``/``{key}`` (a certificate for the address, signed by ``ca_file``, whose key is
``ca_key_file``), ``{root}`` (an
empty document root the test may fill; ``site.root``). Literal braces in nginx syntax are
written doubled, as in ``str.format``.

``standard_ports=True`` listens on 80 and 443 of an address no other test uses, for tools that
only look there (Mozilla's Observatory scans ``http://host/`` and ``https://host/``). Each call
takes the next address of 127.77.0.0/16 (one block per xdist worker), so sites never collide.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import itertools
import os
import shutil
import signal
import socket
import subprocess
import time
from pathlib import Path
from types import TracebackType

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import NameOID
from tests.helpers.certs import _ca_certificate
from tests.helpers.ports import free_port

NGINX = shutil.which("nginx") or "/usr/sbin/nginx"

_worker = os.environ.get("PYTEST_XDIST_WORKER", "gw0")
_block = int(_worker[2:]) if _worker[2:].isdigit() else 0
_hosts = itertools.count(1 + (os.getpid() % 50))


def next_address(ports: tuple[int, ...] = ()) -> str:
    """A loopback address of 127.77.0.0/16 that no other worker of this run hands out (one
    block each) and where ``ports`` are free now: another test run on the machine (a second
    pytest) uses the same blocks, so an address whose ports are taken is passed over."""
    for _ in range(250):
        address = f"127.77.{_block % 250}.{next(_hosts) % 250 + 1}"
        if all(_bindable(address, port) for port in ports):
            return address
    raise RuntimeError(f"no address of 127.77.{_block % 250}.0/24 has ports {ports} free")


def _bindable(address: str, port: int) -> bool:
    """Whether nothing holds ``address:port`` (listening, or a recent connection)."""
    with socket.socket() as sock:
        try:
            sock.bind((address, port))
        except OSError:
            return False
    return True


class Nginx:
    """nginx in the foreground with the given ``server`` blocks; a context manager."""

    def __init__(
        self,
        directory: Path,
        servers: str,
        *,
        standard_ports: bool = False,
        rsa_bits: int | None = None,
        http_extra: str = "",
    ) -> None:
        self.directory = directory / f"nginx-{next(_ids)}"
        self.directory.mkdir(parents=True)
        self.standard_ports = standard_ports
        self.address = next_address((80, 443) if standard_ports else ())
        self.http_port = 80 if standard_ports else free_port()
        self.https_port = 443 if standard_ports else free_port()
        self.root = self.directory / "root"
        self.root.mkdir()
        self._rsa_bits = rsa_bits
        self.ca_file, self.cert_file, self.key_file = _certificates(
            self.directory, self.address, rsa_bits
        )
        self.ca_key_file = self.directory / "ca-key.pem"
        """The CA's key, for a test that signs more with it (an OCSP response)."""
        self._servers = servers
        self._http_extra = http_extra
        self._process: subprocess.Popen[bytes] | None = None

    def url(self, path: str = "/", *, https: bool = False) -> str:
        if https:
            port = "" if self.https_port == 443 else f":{self.https_port}"
            return f"https://{self.address}{port}{path}"
        port = "" if self.http_port == 80 else f":{self.http_port}"
        return f"http://{self.address}{port}{path}"

    def config(self) -> str:
        servers = self._servers.format(
            address=self.address,
            http_port=self.http_port,
            https_port=self.https_port,
            cert=self.cert_file,
            key=self.key_file,
            root=self.root,
        )
        d = self.directory
        return f"""
daemon off;
master_process on;
worker_processes 1;
user root;
pid {d}/nginx.pid;
error_log {d}/error.log warn;
events {{ worker_connections 256; }}
http {{
    access_log off;
    default_type application/octet-stream;
    types {{
        text/html html; text/css css; application/javascript js; application/json json;
        image/png png; image/svg+xml svg; font/woff2 woff2; text/plain txt;
    }}
    client_body_temp_path {d}/body; proxy_temp_path {d}/proxy;
    fastcgi_temp_path {d}/fastcgi; uwsgi_temp_path {d}/uwsgi; scgi_temp_path {d}/scgi;
    {self._http_extra}
    {servers}
}}
"""

    def __enter__(self) -> Nginx:
        for attempt in range(3):
            try:
                return self._start()
            except _AddressTaken:
                if not self.standard_ports or attempt == 2:
                    raise
                # another run took the address between the check and the start: move on
                self.address = next_address((80, 443))
                self.ca_file, self.cert_file, self.key_file = _certificates(
                    self.directory, self.address, self._rsa_bits
                )
        raise AssertionError("unreachable")

    def _start(self) -> Nginx:
        conf = self.directory / "nginx.conf"
        conf.write_text(self.config())
        check = subprocess.run(
            [NGINX, "-t", "-q", "-p", str(self.directory), "-c", str(conf)],
            capture_output=True,
            text=True,
        )
        if check.returncode != 0:
            raise RuntimeError(f"nginx rejects the test's config: {check.stderr.strip()}")
        self._process = subprocess.Popen(
            [NGINX, "-p", str(self.directory), "-c", str(conf)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        deadline = time.monotonic() + 20
        ports = [
            port
            for port, placeholder in (
                (self.http_port, "{http_port}"),
                (self.https_port, "{https_port}"),
            )
            if placeholder in self._servers
        ]
        while time.monotonic() < deadline:
            if self._process.poll() is not None:
                error = self._process.stderr.read().decode() if self._process.stderr else ""
                self._process = None
                if "Address already in use" in error:
                    raise _AddressTaken(error.strip())
                raise RuntimeError(f"nginx exited at start: {error.strip()}")
            if all(_listening(self.address, port) for port in ports):
                return self
            time.sleep(0.05)
        self.__exit__(None, None, None)
        raise RuntimeError(f"nginx did not listen on {self.address} {sorted(ports)} in 20 s")

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        process, self._process = self._process, None
        if process is None:
            return
        process.send_signal(signal.SIGTERM)  # fast shutdown
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        if process.stderr:
            process.stderr.close()


_ids = itertools.count()


class _AddressTaken(RuntimeError):
    pass


def _listening(address: str, port: int) -> bool:
    with socket.socket() as sock:
        sock.settimeout(0.5)
        return sock.connect_ex((address, port)) == 0


def _certificates(directory: Path, address: str, rsa_bits: int | None) -> tuple[Path, Path, Path]:
    """A CA and a leaf for ``address`` (EC P-256, or RSA of ``rsa_bits``), as PEM files."""
    now = dt.datetime.now(dt.UTC)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca = _ca_certificate(ca_key, now)  # the same CA the other TLS tests use
    ca_name = ca.subject
    key: ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey = (
        rsa.generate_private_key(public_exponent=65537, key_size=rsa_bits)
        if rsa_bits
        else ec.generate_private_key(ec.SECP256R1())
    )
    leaf = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, address)]))
        .issuer_name(ca_name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(hours=1))
        .not_valid_after(now + dt.timedelta(days=90))
        .add_extension(
            x509.SubjectAlternativeName(
                [x509.IPAddress(ipaddress.ip_address(address)), x509.DNSName("localhost")]
            ),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), False
        )
        .sign(ca_key, hashes.SHA256())
    )
    ca_file = directory / "ca.pem"
    cert_file = directory / "cert.pem"
    key_file = directory / "key.pem"
    ca_file.write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    (directory / "ca-key.pem").write_bytes(
        ca_key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    # the chain nginx sends: the leaf, then the CA (trust still comes from ca_file)
    cert_file.write_bytes(
        leaf.public_bytes(serialization.Encoding.PEM) + ca.public_bytes(serialization.Encoding.PEM)
    )
    key_file.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return ca_file, cert_file, key_file
