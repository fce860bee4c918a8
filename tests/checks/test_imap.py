"""imap checks against a private Dovecot (Debian's dovecot-imapd, started by the test on free
ports with its own config: IMAP with STARTTLS and IMAPS with the test CA's certificate, users
from a passwd-file, Maildirs the test writes) and peers that are no IMAP server.

The system's Dovecot is never touched: the test's instance has its own base_dir, state_dir,
instance name and config, and runs in the foreground as a child of the test. The Maildirs
live in a directory of their own under /tmp, not in ``tmp_path``: Dovecot opens them as the
mail user (``nobody``; it refuses root), who cannot walk through pytest's 0700 directories."""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path

import pytest
from tests.helpers.certs import CertificateSet
from tests.helpers.ports import free_port
from tests.helpers.servers import RawServer

from watchkeeper.checks.imap import astring, mailbox_name
from watchkeeper.model import Result

Check = Callable[[str], Awaitable[Result]]
PASSWORD = "s3cret-imap-pw"
ODD_PASSWORD = 'q"uo\\te-wörd'  # a quoted string's escapes, and a literal (not ASCII)


class PrivateDovecot:
    """Dovecot with IMAP (STARTTLS) on ``port`` and IMAPS on ``tls_port``; users ``monitor``
    and ``odd``; ``deliver`` writes a message into a user's Maildir."""

    def __init__(self, certificates: CertificateSet) -> None:
        self.port, self.tls_port = free_port(), free_port()
        self.directory = Path(tempfile.mkdtemp(prefix="wk-dovecot-"))
        self.directory.chmod(0o755)
        self.mail = self.directory / "mail"
        self.mail.mkdir()
        passwd = self.directory / "passwd"
        passwd.write_text(f"monitor:{{PLAIN}}{PASSWORD}\nodd:{{PLAIN}}{ODD_PASSWORD}\n")
        self.log = self.directory / "log"
        valid = certificates.valid
        config = self.directory / "dovecot.conf"
        config.write_text(f"""
base_dir = {self.directory}/run
state_dir = {self.directory}/state
instance_name = watchkeeper-test-{self.port}
log_path = {self.log}
protocols = imap
listen = 127.0.0.1
ssl = yes
ssl_cert = <{valid.cert_file}
ssl_key = <{valid.key_file}
auth_mechanisms = plain login
auth_failure_delay = 0
mail_location = maildir:{self.mail}/%u
passdb {{
  driver = passwd-file
  args = scheme=PLAIN username_format=%u {passwd}
}}
userdb {{
  driver = static
  args = uid=nobody gid=nogroup home={self.mail}/%u
}}
service imap-login {{
  inet_listener imap {{
    port = {self.port}
  }}
  inet_listener imaps {{
    port = {self.tls_port}
    ssl = yes
  }}
}}
""")
        for user in ("monitor", "odd"):
            self.maildir(user)
        binary = shutil.which("dovecot") or "/usr/sbin/dovecot"
        self.process = subprocess.Popen(
            [binary, "-F", "-c", str(config)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
        deadline = time.monotonic() + 20
        for port in (self.port, self.tls_port):
            while True:
                try:
                    socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
                    break
                except OSError:
                    if time.monotonic() > deadline or self.process.poll() is not None:
                        log = self.log.read_text() if self.log.exists() else ""
                        self.stop()
                        raise RuntimeError(f"dovecot did not start: {log[-800:]}") from None
                    time.sleep(0.05)

    def maildir(self, user: str, folder: str = "") -> Path:
        """The Maildir of ``user`` (``folder``: a Maildir++ subfolder, its name on disk)."""
        path = self.mail / user / (f".{folder}" if folder else "")
        for sub in ("cur", "new", "tmp"):
            (path / sub).mkdir(parents=True, exist_ok=True)
        self._own()
        return path

    def deliver(self, user: str, subject: str, *, seen: bool = False, folder: str = "") -> None:
        path = self.maildir(user, folder)
        name = f"{time.time_ns()}.M{len(list(path.rglob('*')))}P{os.getpid()}.test"
        message = f"From: probe@example.test\r\nSubject: {subject}\r\n\r\nbody\r\n"
        target = path / "cur" / f"{name}:2,S" if seen else path / "new" / name
        target.write_text(message)
        self._own()

    def _own(self) -> None:
        for item in (self.mail, *self.mail.rglob("*")):
            shutil.chown(item, "nobody", "nogroup")

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(10)
        with contextlib.suppress(ProcessLookupError):  # its children, if any outlived it
            os.killpg(self.process.pid, signal.SIGKILL)
        shutil.rmtree(self.directory, ignore_errors=True)


@pytest.fixture
def dovecot(certificates: CertificateSet) -> Iterator[PrivateDovecot]:
    server = PrivateDovecot(certificates)
    try:
        yield server
    finally:
        server.stop()


async def test_starttls_login_and_a_mailbox_the_test_filled(
    check: Check, dovecot: PrivateDovecot, certificates: CertificateSet
) -> None:
    dovecot.deliver("monitor", "one")
    dovecot.deliver("monitor", "two")
    dovecot.deliver("monitor", "three", seen=True)
    result = await check(f"""
        monitors:
          - name: inbox
            imap: {{address: "imap://localhost:{dovecot.port}", username: monitor,
                    password: {PASSWORD}, mailbox: INBOX, ca_file: "{certificates.ca_file}"}}
            expect: ["imap.login == true", "imap.tls == true", "imap.greeting == 'OK'",
                     "imap.messages == 3", "imap.unseen == 2", "cert.expires_in > 30d",
                     "imap.capabilities contains 'STARTTLS'", "imap.capabilities contains 'IDLE'",
                     "cert.issuer contains 'Test CA'", "tls.protocol in ['TLSv1.2', 'TLSv1.3']"]
        """)
    assert result.ok, result.reason
    assert result.metrics["imap.messages"] == 3 and result.metrics["imap.unseen"] == 2
    phases = result.phases
    assert phases.connect is not None and phases.ttfb is not None
    assert phases.tls is not None and phases.tls > 0
    assert phases.transfer is not None and phases.transfer > 0


@pytest.mark.parametrize("address", ["imaps://localhost:{port}", "localhost:{port}"])
async def test_implicit_tls(
    check: Check, dovecot: PrivateDovecot, certificates: CertificateSet, address: str
) -> None:
    dovecot.deliver("monitor", "one", seen=True)
    address = address.format(port=dovecot.tls_port)
    tls = "" if address.startswith("imaps") else ", tls: implicit"
    result = await check(f"""
        monitors:
          - name: imaps
            imap: {{address: "{address}", username: monitor, password: {PASSWORD},
                    mailbox: INBOX, ca_file: "{certificates.ca_file}"{tls}}}
            expect: ["imap.login == true", "imap.messages == 1", "imap.unseen == 0"]
        """)
    assert result.ok, result.reason
    assert result.phases.tls is not None and result.phases.tls > 0
    assert "imap.capabilities" not in result.metrics


async def test_a_wrong_password_is_one_line_without_the_password(
    check: Check, dovecot: PrivateDovecot, certificates: CertificateSet
) -> None:
    result = await check(f"""
        monitors:
          - name: imaps
            imap: {{address: "imaps://localhost:{dovecot.tls_port}", username: monitor,
                    password: wrong-pw-456, ca_file: "{certificates.ca_file}"}}
        """)
    assert result.error == "login failed: NO [AUTHENTICATIONFAILED] Authentication failed."
    assert result.metrics["imap.login"] == 0
    assert "wrong-pw-456" not in str(result.to_json())


async def test_a_password_that_needs_escapes_and_a_literal_logs_in(
    check: Check, dovecot: PrivateDovecot, certificates: CertificateSet
) -> None:
    password = ODD_PASSWORD.replace("\\", "\\\\").replace('"', '\\"')
    result = await check(f"""
        monitors:
          - name: odd
            imap: {{address: "imaps://localhost:{dovecot.tls_port}", username: odd,
                    password: "{password}", ca_file: "{certificates.ca_file}"}}
            expect: ["imap.login == true"]
        """)
    assert result.ok, result.reason


async def test_a_mailbox_outside_ascii_and_a_missing_one(
    check: Check, dovecot: PrivateDovecot, certificates: CertificateSet
) -> None:
    dovecot.deliver("monitor", "filed", folder=mailbox_name("Café"))  # .Caf&AOk- on disk
    settings = (
        f'address: "imaps://localhost:{dovecot.tls_port}", username: monitor, '
        f'password: {PASSWORD}, ca_file: "{certificates.ca_file}"'
    )
    found = await check(f"""
        monitors: [{{name: folder, imap: {{{settings}, mailbox: Café}}}}]
        """)
    assert found.ok, found.reason
    assert found.metrics["imap.messages"] == 1 and found.metrics["imap.unseen"] == 1
    missing = await check(f"""
        monitors: [{{name: folder, imap: {{{settings}, mailbox: Nope}}}}]
        """)
    # without Dovecot's timings ("(0.001 + 0.000 secs)"): the same failure reads the same
    assert missing.error == "mailbox 'Nope': NO Mailbox doesn't exist: Nope."


async def test_an_untrusted_certificate_is_one_tls_line(
    check: Check, dovecot: PrivateDovecot
) -> None:
    for address in (f"localhost:{dovecot.port}", f"imaps://localhost:{dovecot.tls_port}"):
        result = await check(f"monitors: [{{name: m, imap: '{address}', timeout: 5s}}]")
        assert result.error == "TLS: untrusted issuer (unable to get local issuer certificate)"
    unverified = await check(f"""
        monitors: [{{name: m, imap: {{address: "localhost:{dovecot.port}", verify: false}}}}]
        """)
    assert unverified.ok, unverified.reason


async def test_plain_text_only_when_allowed(check: Check, dovecot: PrivateDovecot) -> None:
    result = await check(f"""
        monitors:
          - name: plain
            imap: {{address: "127.0.0.1:{dovecot.port}", tls: none, username: monitor,
                    password: {PASSWORD}, allow_plaintext: true, mailbox: INBOX}}
            expect: ["imap.login == true", "imap.tls == false", "imap.messages == 0"]
        """)
    assert result.ok, result.reason
    assert result.phases.tls is None


async def test_a_server_that_accepts_and_never_greets_times_out_in_ttfb(
    check: Check, hanging_server: RawServer
) -> None:
    result = await check(f"""
        monitors: [{{name: m, imap: "{hanging_server.address}", timeout: 1s}}]
        """)
    assert result.error == "timeout after 1s in ttfb (waiting for the greeting)"


async def test_a_server_silent_after_the_greeting_times_out_naming_the_command(
    check: Check, serve_raw: Callable[..., Awaitable[RawServer]]
) -> None:
    async def greets_only(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.write(b"* OK ready\r\n")
        await writer.drain()
        await asyncio.sleep(30)

    server = await serve_raw(greets_only)
    result = await check(f"monitors: [{{name: m, imap: '{server.address}', timeout: 1s}}]")
    assert result.error == "timeout after 1s in transfer (waiting for the CAPABILITY reply)"


async def test_a_preauth_greeting_skips_the_login(
    check: Check, serve_raw: Callable[..., Awaitable[RawServer]]
) -> None:
    commands: list[bytes] = []

    async def preauth(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.write(b"* PREAUTH [CAPABILITY IMAP4rev1] logged in already\r\n")
        await writer.drain()
        while line := await reader.readline():
            commands.append(line.split(b" ")[1])
            if line.split(b" ")[1] == b"STATUS":
                tag = line.split(b" ")[0]
                writer.write(b"* STATUS {5}\r\nINBOX (MESSAGES 7 UNSEEN 4)\r\n")
                writer.write(tag + b" OK done\r\n")
                await writer.drain()

    server = await serve_raw(preauth)
    result = await check(f"""
        monitors:
          - name: m
            imap: {{address: "{server.address}", username: u, password: p, mailbox: INBOX,
                    allow_plaintext: true}}
            expect: ["imap.greeting == 'PREAUTH'", "imap.messages == 7", "imap.unseen == 4"]
        """)
    assert result.ok, result.reason
    assert b"LOGIN" not in commands and commands[0] == b"STATUS"
    required = await check(f"""
        monitors: [{{name: m, imap: {{address: "{server.address}", require_tls: true}}}}]
        """)
    assert required.error == "the server greets with PREAUTH: the session cannot be encrypted"


async def test_require_tls_without_starttls_on_offer(
    check: Check, serve_raw: Callable[..., Awaitable[RawServer]]
) -> None:
    async def no_tls(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.write(b"* OK [CAPABILITY IMAP4rev1 AUTH=PLAIN] ready\r\n")
        await writer.drain()
        await reader.read(1024)

    server = await serve_raw(no_tls)
    result = await check(f"""
        monitors: [{{name: m, imap: {{address: "{server.address}", require_tls: true}}}}]
        """)
    assert result.error == "the server does not offer STARTTLS"
    withheld = await check(f"""
        monitors:
          - {{name: m, imap: {{address: "{server.address}", username: u, password: p}}}}
        """)
    assert withheld.error == (
        "the server offers no STARTTLS: the password is not sent in plain text "
        "(allow_plaintext: true sends it)"
    )


@pytest.mark.parametrize(
    ("answer", "error"),
    [
        (
            b"HTTP/1.1 400 Bad Request\r\n\r\n",
            "not an IMAP server: 'HTTP/1.1 400 Bad Request' instead of the greeting",
        ),
        (b"", "the server closed the connection while waiting for the greeting"),
        (b"\r\n", "not an IMAP server: an empty line instead of the greeting"),
        (b"* BYE \x1b[31mtoo busy\r\n", "the server refused the session: BYE \\x1b[31mtoo busy"),
        (
            b"* OK " + b"x" * 20000,
            "a line of over 8192 bytes while waiting for the greeting (over max_line)",
        ),
        (
            b"* OK {99999999}\r\n",
            "a literal of 99999999 bytes while waiting for the greeting (over max_literal)",
        ),
        (
            b"* OK {60000}\r\n" + b"z" * 60000 + b" {60000}\r\n" + b"z" * 20,
            "the server closed the connection while waiting for the greeting",
        ),
        (
            b"* OK hi\r\n* CAPABILITY IMAP4rev1\r\nwk1 MAYBE\r\n",
            "not an IMAP server: 'wk1 MAYBE' instead of the CAPABILITY reply",
        ),
    ],
)
async def test_a_peer_that_is_no_imap_server_is_one_line(
    check: Check, serve_raw: Callable[..., Awaitable[RawServer]], answer: bytes, error: str
) -> None:
    async def answers(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.write(answer)
        await writer.drain()
        if answer and not answer.endswith(b"z" * 20):
            await reader.read(1024)
        writer.close()

    server = await serve_raw(answers)
    result = await check(f"monitors: [{{name: m, imap: '{server.address}', timeout: 5s}}]")
    assert result.error == error


async def test_a_response_over_max_response_is_one_line(
    check: Check, serve_raw: Callable[..., Awaitable[RawServer]]
) -> None:
    async def endless(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.write(b"* OK hi\r\n")
        await reader.readline()
        with contextlib.suppress(ConnectionError):
            for _ in range(2000):
                writer.write(b"* CAPABILITY " + b"X" * 1000 + b"\r\n")
                await writer.drain()
        await reader.read(1024)

    server = await serve_raw(endless)
    result = await check(f"monitors: [{{name: m, imap: '{server.address}', timeout: 5s}}]")
    assert result.error == (
        "a response of over 1048576 bytes while waiting for the CAPABILITY reply "
        "(over max_response)"
    )


async def test_a_refused_port_names_the_address(check: Check) -> None:
    port = free_port()
    result = await check(f"monitors: [{{name: m, imap: '127.0.0.1:{port}', timeout: 2s}}]")
    assert result.error == f"connection refused (127.0.0.1:{port})"


def test_bad_settings_are_refused_when_the_config_loads(
    monitors: Callable[[str], object],
) -> None:
    from watchkeeper.errors import ConfigError

    for bad in (
        "{address: 'pop3://mail.example.com'}",
        "{address: 'imaps://mail.example.com', tls: none}",
        "{address: 'mail.example.com:143', tls: none, username: u, password: p}",
        "{address: 'mail.example.com:143', mailbox: INBOX}",
        "{address: 'imap://u:p@mail.example.com'}",
    ):
        with pytest.raises(ConfigError):
            monitors(f"monitors: [{{name: m, imap: {bad}}}]")


def test_names_and_strings_are_written_as_imap_wants_them() -> None:
    assert mailbox_name("Café") == "Caf&AOk-"
    assert mailbox_name("a&b") == "a&-b"
    assert mailbox_name("日本語") == "&ZeVnLIqe-"
    assert astring('a"b\\c') == b'"a\\"b\\\\c"'
    assert astring("wörd") == "wörd".encode() and type(astring("wörd")).__name__ == "_Literal"
