"""``tls``: handshake with a TLS endpoint and judge its certificate: chain validity, hostname
match, days to expiry and the negotiated protocol.

    - {name: cert, tls: "example.com:443", expect: ["cert.expires_in > 14d"]}
    - name: internal
      tls: {address: "10.0.0.5:8443", servername: api.internal, verify: false}
      expect: ["cert.expires_in > 7d", "tls.protocol in ['TLSv1.2', 'TLSv1.3']"]

With ``verify: true`` (the default) an untrusted chain, a certificate out of its dates or a
hostname mismatch fails the check, every one of them named in the one failure line
(``TLS: self-signed certificate; certificate expired 1d ago``); with ``verify: false`` they
are only facts (``tls.chain_valid``, ``tls.hostname_match``, ``cert.expires_in``).
"""

from __future__ import annotations

import ssl

from pydantic import field_validator

from watchkeeper.checks._address import is_ip, split_address
from watchkeeper.checks._certs import certificate_problems, describe, open_untimed
from watchkeeper.checks._net import (
    RUNTIME,
    TLS_SUBJECTS,
    cert_facts,
    client_context,
    close_stream,
    describe_os_error,
    describe_ssl_error,
    hostname_matches,
    open_stream,
    readable_ca_file,
)
from watchkeeper.checks.base import Attempt, CheckKind, CheckSettings
from watchkeeper.expect import ValueType
from watchkeeper.resolver import ResolveError
from watchkeeper.units import format_duration


class TlsSettings(CheckSettings):
    shorthand_field = "address"

    address: str
    servername: str | None = None
    verify: bool = True
    ca_file: str | None = None

    _ca_file = field_validator("ca_file")(readable_ca_file)

    @field_validator("address")
    @classmethod
    def _address(cls, value: str) -> str:
        split_address(value, default_port=443)
        return value

    @property
    def host(self) -> str:
        return split_address(self.address, default_port=443)[0]

    @property
    def port(self) -> int:
        return split_address(self.address, default_port=443)[1]

    def host_key(self) -> str:
        return f"{self.host}:{self.port}"

    def target(self) -> str:
        sni = f" (SNI {self.servername})" if self.servername else ""
        return f"{self.host}:{self.port}{sni}"


async def _handshake(
    settings: TlsSettings, attempt: Attempt, verify: bool, timed: bool
) -> tuple[bytes | None, str | None, str | None]:
    """Connect and shake hands; return (peer certificate DER, protocol, cipher)."""
    host, port = settings.host, settings.port
    servername = settings.servername or (None if is_ip(host) else host)
    reader, writer = await (open_stream if timed else open_untimed)(host, port, attempt)
    try:
        if timed:
            attempt.begin("tls")
        # the hostname is matched separately, so a mismatch is a fact, not a wall
        context = client_context(
            attempt.resources, verify=verify, ca_file=settings.ca_file, check_hostname=False
        )
        await writer.start_tls(context, server_hostname=servername)
        if timed:
            attempt.end("tls")
        ssl_object: ssl.SSLObject = writer.get_extra_info("ssl_object")
        cipher = ssl_object.cipher()
        return (
            ssl_object.getpeercert(binary_form=True),
            ssl_object.version(),
            cipher[0] if cipher else None,
        )
    finally:
        await close_stream(writer)
        del reader


async def probe(settings: TlsSettings, attempt: Attempt) -> None:
    facts = attempt.observation.facts
    chain_error: ssl.SSLCertVerificationError | None = None
    try:
        try:
            der, version, cipher = await _handshake(settings, attempt, verify=True, timed=True)
        except ssl.SSLCertVerificationError as exc:
            chain_error = exc
            if attempt.phase == "tls":
                attempt.end("tls")
            # The chain does not verify: shake hands again without verifying to read the
            # certificate, so the failure can still say when it expires and who issued it.
            der, version, cipher = await _handshake(settings, attempt, verify=False, timed=False)
    except ssl.SSLError as exc:
        attempt.fail(describe_ssl_error(exc))
        return
    except OSError as exc:
        where = "" if isinstance(exc, ResolveError) else f" ({settings.host}:{settings.port})"
        attempt.fail(describe_os_error(exc) + where)
        return
    facts.update(cert_facts(der))
    if version:
        facts["tls.protocol"] = version
    if cipher:
        facts["tls.cipher"] = cipher
    name = settings.servername or settings.host
    facts["tls.chain_valid"] = chain_error is None
    facts["tls.hostname_match"] = bool(der) and hostname_matches(der or b"", name)
    if not settings.verify:
        return
    problems = certificate_problems(chain_error, der, name)
    if problems:
        attempt.fail(describe(problems))
    else:
        _renewal(facts, attempt)


def _renewal(facts: dict[str, object], attempt: Attempt) -> None:
    """The certificate's expiry forecast: a certificate with under a third of its lifetime
    left missed the renewal ACME clients do (certbot: at 30 of 90 days), so say so while
    there is time, instead of waiting for the 7-day expectation."""
    from watchkeeper.analysis.forecast import renewal_overdue  # numpy: not for loading a config

    expires_in, lifetime = facts.get("cert.expires_in"), facts.get("cert.lifetime")
    if not isinstance(expires_in, float) or not isinstance(lifetime, float):
        return
    if expires_in > 0 and renewal_overdue(expires_in, lifetime):
        attempt.warn(
            f"certificate not renewed: it expires in {format_duration(expires_in)}, a third "
            f"of its {format_duration(lifetime)} lifetime is past the point renewal runs"
        )


CHECK = CheckKind(
    name="tls",
    settings=TlsSettings,
    subjects={
        "dns": ValueType.DURATION,
        "connect": ValueType.DURATION,
        "tls": ValueType.DURATION,
        **{subject: ValueType.TEXT for subject in TLS_SUBJECTS},
        "cert.expires_in": ValueType.DURATION,
        "cert.lifetime": ValueType.DURATION,
        "cert.sans": ValueType.SET,
        "tls.chain_valid": ValueType.BOOL,
        "tls.hostname_match": ValueType.BOOL,
    },
    probe=probe,
    default_expect=("cert.expires_in > 7d",),
    runtime=(*RUNTIME, "watchkeeper.analysis.forecast"),
)
