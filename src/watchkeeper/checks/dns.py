"""``dns``: ask a resolver for a record and look at the answers.

- {name: www-a, dns: www.example.com, expect: ["dns.answers contains '192.0.2.10'"]}
- name: mx
  dns: {name: example.com, type: MX, resolver: "9.9.9.9:53", tcp: false}
  expect: ["dns.answers == ['10 mail.example.com.']"]
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Literal

from pydantic import field_validator

from watchkeeper.checks._address import is_ip, split_address
from watchkeeper.checks.base import Attempt, CheckKind, CheckSettings
from watchkeeper.expect import ValueType

if TYPE_CHECKING:  # dnspython is imported by the first probe, not by loading a config
    import dns.asyncresolver
    import dns.exception
    import dns.resolver

RecordType = Literal["A", "AAAA", "CNAME", "MX", "NS", "TXT", "SOA", "SRV", "CAA", "PTR"]


class DnsSettings(CheckSettings):
    shorthand_field = "name"

    name: str
    type: RecordType = "A"
    resolver: str | None = None
    tcp: bool = False

    @field_validator("type", mode="before")
    @classmethod
    def _upper(cls, value: object) -> object:
        return value.upper() if isinstance(value, str) else value

    @field_validator("resolver")
    @classmethod
    def _resolver(cls, value: str | None) -> str | None:
        if value is not None:
            host, _ = split_address(value, default_port=53)
            if not is_ip(host):
                raise ValueError(f"resolver '{value}' must be an IP address (with :port)")
        return value

    def host_key(self) -> str:
        return self.resolver or "dns:system"

    def target(self) -> str:
        via = f" @{self.resolver}" if self.resolver else ""
        return f"{self.name} {self.type}{via}"


def _resolver_for(settings: DnsSettings, attempt: Attempt) -> dns.asyncresolver.Resolver:
    """The monitor's own resolver, else the engine's ``resolvers``, else the system's."""
    import dns.asyncresolver
    import dns.nameserver

    servers = (settings.resolver,) if settings.resolver else attempt.resources.nameservers
    if not servers:
        return attempt.resources.shared("dns.system", dns.asyncresolver.Resolver)

    def make() -> dns.asyncresolver.Resolver:
        resolver = dns.asyncresolver.Resolver(configure=False)
        resolver.nameservers = [
            dns.nameserver.Do53Nameserver(host.strip("[]"), port)
            for host, port in (split_address(s, default_port=53) for s in servers)
        ]
        return resolver

    return attempt.resources.shared(f"dns.{','.join(servers)}", make)


async def probe(settings: DnsSettings, attempt: Attempt) -> None:
    import dns.exception

    attempt.begin("dns")
    try:
        resolver = _resolver_for(settings, attempt)
        answer = await resolver.resolve(
            settings.name,
            settings.type,
            tcp=settings.tcp,
            # a little past the check's own timeout, so a silent resolver is reported by
            # the runner, as every other timeout is ("timeout after 2s in dns ...")
            lifetime=attempt.timeout + 1.0,
            raise_on_no_answer=False,
            search=False,
        )
    except dns.exception.DNSException as exc:
        attempt.end("dns")
        _fail(settings, attempt, exc)
        return
    attempt.end("dns")
    facts = attempt.observation.facts
    facts["dns.rcode"] = "NOERROR"
    records = [] if answer.rrset is None else list(answer.rrset)
    facts["dns.answers"] = frozenset(_text(settings.type, record) for record in records)
    if answer.rrset is not None:
        facts["dns.ttl"] = answer.rrset.ttl
    if not records:
        attempt.fail(f"no {settings.type} records for {settings.name}")


def _fail(settings: DnsSettings, attempt: Attempt, exc: dns.exception.DNSException) -> None:
    import dns.resolver

    facts = attempt.observation.facts
    if isinstance(exc, dns.resolver.NXDOMAIN):
        facts["dns.rcode"] = "NXDOMAIN"
        attempt.fail(f"NXDOMAIN: {settings.name} does not exist")
    elif isinstance(exc, dns.resolver.NoNameservers):
        facts["dns.rcode"] = "SERVFAIL"
        attempt.fail(f"SERVFAIL: no nameserver answered for {settings.name}" + _first_error(exc))
    elif isinstance(exc, dns.resolver.LifetimeTimeout):
        where = settings.resolver or "the system resolver"
        attempt.fail(f"timeout in dns: no answer from {where}")
    else:
        attempt.fail(f"DNS: {str(exc).splitlines()[0][:160]}")


def _text(record_type: str, record: object) -> str:
    if record_type == "TXT":
        strings = getattr(record, "strings", ())
        return b"".join(strings).decode("utf-8", "replace")
    return str(getattr(record, "to_text")())  # noqa: B009 - dnspython rdata


def _first_error(exc: dns.resolver.NoNameservers) -> str:
    errors = exc.kwargs.get("errors") or []
    if errors:
        detail = str(errors[0][3]) if len(errors[0]) > 3 else ""
        return f" ({detail})" if detail else ""
    return ""


CHECK = CheckKind(
    name="dns",
    settings=DnsSettings,
    subjects={
        "dns": ValueType.DURATION,
        "dns.answers": ValueType.SET,
        "dns.rcode": ValueType.TEXT,
        "dns.ttl": ValueType.NUMBER,
    },
    probe=probe,
    runtime=("dns.asyncresolver", "dns.exception", "dns.nameserver", "dns.resolver"),
)
