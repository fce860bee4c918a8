"""``snmp``: GET named OIDs from an SNMP agent (v2c with a community, v3 with a USM user).

    - name: router
      snmp: {address: "192.0.2.1", community: "${SNMP_COMMUNITY}",
             get: [sysUpTime.0, ifInOctets.2, "1.3.6.1.4.1.2021.10.1.3.1"]}
      expect: ["snmp.sysUpTime.0 > 10m", "snmp.ifOperStatus.2 == 1"]
    - name: switch
      snmp:
        address: "switch.lan:161"
        version: 3
        user: monitor
        auth_protocol: sha256
        auth_password: "${SNMP_AUTH}"
        priv_protocol: aes
        priv_password: "${SNMP_PRIV}"
        get: {uptime: sysUpTime.0, load: "1.3.6.1.4.1.2021.10.1.3.1"}
      expect: ["snmp.uptime > 10m"]

``get`` is a list of OIDs (numeric, or a well-known name with its index: ``sysUpTime.0``,
``sysDescr.0``, ``ifInOctets.2``, see ``NAMES``) or a mapping of names to OIDs. Each value is
the fact ``snmp.<name>``; numbers (counters, gauges, integers, TimeTicks as seconds) are
series. A numeric OID is written ``snmp["1.3.6.1.4.1.2021.10.1.3.1"]`` in expectations.

Phases: ``dns``, ``connect`` (making the pysnmp engine: the first check with a set of
credentials only), ``ttfb`` (the request until the response, v3's engine discovery included).
A wrong community gets no answer at all (an agent stays silent), so it reads as a timeout; a
wrong v3 password or unknown user, an OID the agent does not have: one line.

pysnmp (BSD) speaks the protocol on the event loop's own UDP transport. Its engine loads
its MIB tables when made (a quarter of a second of CPU): one is made per set of credentials
on the checks' threads and kept for the engine run.
"""

from __future__ import annotations

import asyncio
import hashlib
import socket
from typing import TYPE_CHECKING, Any

from pydantic import field_validator, model_validator

from watchkeeper.checks._address import split_address
from watchkeeper.checks._net import RUNTIME, describe_os_error, resolve
from watchkeeper.checks.base import Attempt, CheckKind, CheckSettings
from watchkeeper.expect import ValueType
from watchkeeper.lanes import CHECKS
from watchkeeper.resolver import ResolveError

if TYPE_CHECKING:
    from pysnmp.hlapi.v3arch.asyncio import SnmpEngine

NAMES = {
    "sysDescr": "1.3.6.1.2.1.1.1",
    "sysObjectID": "1.3.6.1.2.1.1.2",
    "sysUpTime": "1.3.6.1.2.1.1.3",
    "sysContact": "1.3.6.1.2.1.1.4",
    "sysName": "1.3.6.1.2.1.1.5",
    "sysLocation": "1.3.6.1.2.1.1.6",
    "ifNumber": "1.3.6.1.2.1.2.1",
    "ifDescr": "1.3.6.1.2.1.2.2.1.2",
    "ifSpeed": "1.3.6.1.2.1.2.2.1.5",
    "ifAdminStatus": "1.3.6.1.2.1.2.2.1.7",
    "ifOperStatus": "1.3.6.1.2.1.2.2.1.8",
    "ifInOctets": "1.3.6.1.2.1.2.2.1.10",
    "ifInErrors": "1.3.6.1.2.1.2.2.1.14",
    "ifOutOctets": "1.3.6.1.2.1.2.2.1.16",
    "ifOutErrors": "1.3.6.1.2.1.2.2.1.20",
    "ifName": "1.3.6.1.2.1.31.1.1.1.1",
    "ifHCInOctets": "1.3.6.1.2.1.31.1.1.1.6",
    "ifHCOutOctets": "1.3.6.1.2.1.31.1.1.1.10",
    "ifHighSpeed": "1.3.6.1.2.1.31.1.1.1.15",
    "hrSystemUptime": "1.3.6.1.2.1.25.1.1",
    "hrSystemProcesses": "1.3.6.1.2.1.25.1.6",
    "laLoad": "1.3.6.1.4.1.2021.10.1.3",
    "memTotalReal": "1.3.6.1.4.1.2021.4.5",
    "memAvailReal": "1.3.6.1.4.1.2021.4.6",
    "ssCpuIdle": "1.3.6.1.4.1.2021.11.11",
}
"""Well-known names (SNMPv2-MIB, IF-MIB, HOST-RESOURCES-MIB, UCD-SNMP-MIB) without loading MIBs."""

AUTH_PROTOCOLS = {
    "md5": "usmHMACMD5AuthProtocol",
    "sha": "usmHMACSHAAuthProtocol",
    "sha224": "usmHMAC128SHA224AuthProtocol",
    "sha256": "usmHMAC192SHA256AuthProtocol",
    "sha384": "usmHMAC256SHA384AuthProtocol",
    "sha512": "usmHMAC384SHA512AuthProtocol",
}
PRIV_PROTOCOLS = {
    "des": "usmDESPrivProtocol",
    "3des": "usm3DESEDEPrivProtocol",
    "aes": "usmAesCfb128Protocol",
    "aes128": "usmAesCfb128Protocol",
    "aes192": "usmAesBlumenthalCfb192Protocol",  # Net-SNMP's AES-192/256
    "aes256": "usmAesBlumenthalCfb256Protocol",
    "aes192c": "usmAesCfb192Protocol",  # Cisco's
    "aes256c": "usmAesCfb256Protocol",
}
MAX_OIDS = 64
MAX_TEXT = 1024
"""Characters of a text value kept (sysDescr is a line; an agent may send 64 KB)."""


def numeric_oid(text: str) -> str:
    """``sysUpTime.0`` → ``1.3.6.1.2.1.1.3.0``; a numeric OID as it is. ValueError otherwise."""
    oid = text.strip().lstrip(".")
    head, _, rest = oid.partition(".")
    if head in NAMES:
        oid = NAMES[head] + (f".{rest}" if rest else "")
    parts = oid.split(".")
    if len(parts) < 2 or not all(p.isdigit() for p in parts) or len(parts) > 128:
        known = ", ".join(sorted(NAMES)[:6])
        raise ValueError(f"'{text}' is neither a numeric OID nor a known name ({known}, ...)")
    return oid


class SnmpSettings(CheckSettings):
    shorthand_field = "address"

    address: str
    version: str = "2c"
    community: str = "public"
    user: str | None = None
    auth_protocol: str | None = None
    auth_password: str | None = None
    priv_protocol: str | None = None
    priv_password: str | None = None
    get: tuple[str, ...] | dict[str, str] = ("sysUpTime.0",)

    @field_validator("address")
    @classmethod
    def _address(cls, value: str) -> str:
        split_address(value, 161)
        return value

    @field_validator("version", mode="before")
    @classmethod
    def _version(cls, value: object) -> str:
        text = str(value).lower().removeprefix("v")
        if text not in ("2c", "2", "3"):
            raise ValueError("version is 2c or 3")
        return "2c" if text == "2" else text

    @field_validator("auth_protocol")
    @classmethod
    def _auth(cls, value: str | None) -> str | None:
        if value is not None and value.lower() not in AUTH_PROTOCOLS:
            raise ValueError(f"auth_protocol is one of {', '.join(AUTH_PROTOCOLS)}")
        return None if value is None else value.lower()

    @field_validator("priv_protocol")
    @classmethod
    def _priv(cls, value: str | None) -> str | None:
        if value is not None and value.lower() not in PRIV_PROTOCOLS:
            raise ValueError(f"priv_protocol is one of {', '.join(PRIV_PROTOCOLS)}")
        return None if value is None else value.lower()

    @field_validator("get")
    @classmethod
    def _get(cls, value: tuple[str, ...] | dict[str, str]) -> tuple[str, ...] | dict[str, str]:
        names = list(value)
        oids = list(value.values()) if isinstance(value, dict) else names
        if not oids or len(oids) > MAX_OIDS:
            raise ValueError(f"get names 1 to {MAX_OIDS} OIDs")
        for oid in oids:
            numeric_oid(oid)
        heads = [n.partition(".")[0] for n in names if not _is_numeric(n)]
        for name in names:
            if not name or any(c in name for c in " []\"'"):
                raise ValueError(f"'{name}' cannot name a fact (no spaces, brackets or quotes)")
            if not _is_numeric(name) and "." not in name and heads.count(name) > 1:
                raise ValueError(f"'{name}' is both a value and a table of values")
        return value

    @model_validator(mode="after")
    def _v3(self) -> SnmpSettings:
        if self.version == "3":
            if not self.user:
                raise ValueError("SNMP v3 needs a user")
            if self.priv_protocol and not (self.auth_protocol or self.auth_password):
                raise ValueError("privacy (priv_protocol) needs authentication too")
            for name in ("auth_password", "priv_password"):
                secret = getattr(self, name)
                if secret is not None and len(secret) < 8:
                    raise ValueError(f"{name} must be at least 8 characters (RFC 3414)")
            if self.priv_protocol and not self.priv_password:
                raise ValueError("priv_protocol needs a priv_password")
            if self.auth_protocol and not self.auth_password:
                raise ValueError("auth_protocol needs an auth_password")
        return self

    def oids(self) -> list[tuple[str, str]]:
        """(fact name, numeric OID) for each value to get."""
        if isinstance(self.get, dict):
            return [(name, numeric_oid(oid)) for name, oid in self.get.items()]
        return [(oid, numeric_oid(oid)) for oid in self.get]

    def host_key(self) -> str:
        host, port = split_address(self.address, 161)
        return f"snmp:{host}:{port}"

    def target(self) -> str:
        host, port = split_address(self.address, 161)
        who = f"{self.user}@" if self.version == "3" else ""
        return f"snmp v{self.version} {who}{host}:{port}"


def _is_numeric(name: str) -> bool:
    return all(part.isdigit() for part in name.lstrip(".").split("."))


class _Engines:
    """One pysnmp engine per set of credentials, for the engine run (``Resources``)."""

    def __init__(self) -> None:
        self.made: dict[str, asyncio.Task[SnmpEngine]] = {}

    async def get(self, key: str) -> SnmpEngine:
        from pysnmp.hlapi.v3arch.asyncio import SnmpEngine

        task = self.made.get(key)
        if task is None or (task.done() and task.exception() is not None):
            task = self.made[key] = asyncio.ensure_future(CHECKS.run(SnmpEngine))
        return await asyncio.shield(task)

    def close(self) -> None:
        for task in self.made.values():
            if task.done() and not task.cancelled() and task.exception() is None:
                task.result().close_dispatcher()
        self.made.clear()


def _credentials(settings: SnmpSettings) -> tuple[str, Any]:
    from pysnmp.hlapi.v3arch import asyncio as hlapi

    if settings.version == "2c":
        key = f"2c\0{settings.community}"
        return key, hlapi.CommunityData(settings.community, mpModel=1)
    auth = hlapi.usmNoAuthProtocol
    priv = hlapi.usmNoPrivProtocol
    if settings.auth_password:
        auth = getattr(hlapi, AUTH_PROTOCOLS[settings.auth_protocol or "sha"])
    if settings.priv_password:
        priv = getattr(hlapi, PRIV_PROTOCOLS[settings.priv_protocol or "aes"])
    key = "\0".join(
        (
            "3",
            settings.user or "",
            settings.auth_protocol or "",
            settings.auth_password or "",
            settings.priv_protocol or "",
            settings.priv_password or "",
        )
    )
    user = hlapi.UsmUserData(
        settings.user or "",
        settings.auth_password,
        settings.priv_password,
        authProtocol=auth,
        privProtocol=priv,
    )
    return key, user


async def probe(settings: SnmpSettings, attempt: Attempt) -> None:
    from pysnmp.hlapi.v3arch import asyncio as hlapi

    host, port = split_address(settings.address, 161)
    try:
        addresses = await resolve(host, port, attempt)
    except OSError as exc:
        attempt.fail(
            describe_os_error(exc) + ("" if isinstance(exc, ResolveError) else f" ({host})")
        )
        return
    family, address = addresses[0]
    key, credentials = _credentials(settings)
    # the key holds secrets: only its digest is kept
    digest = hashlib.sha256(key.encode()).hexdigest()
    attempt.begin("connect", "the SNMP engine to load (once per set of credentials)")
    engine = await attempt.resources.shared("snmp.engines", _Engines).get(digest)
    attempt.end("connect")
    # one retry halfway through the monitor's timeout (UDP loses packets); the monitor's own
    # deadline ends the wait, so a silent agent times out naming the phase
    wait = max(0.2, attempt.timeout * 0.6)
    transport = hlapi.Udp6TransportTarget if family == socket.AF_INET6 else hlapi.UdpTransportTarget
    # the address is resolved already: ``create`` would resolve it again on the loop's shared
    # default thread pool (loop.getaddrinfo), so the target is made as ``create`` makes it
    target = transport.__new__(transport)
    if family == socket.AF_INET6:
        target.transport_address = (address[0], address[1], 0, 0)
    else:
        target.transport_address = (address[0], address[1])
    target.__init__(timeout=wait, retries=1)
    oids = settings.oids()
    attempt.begin("ttfb", "the SNMP response")
    indication, status, index, bindings = await hlapi.get_cmd(
        engine,
        credentials,
        target,
        hlapi.ContextData(),
        *(hlapi.ObjectType(hlapi.ObjectIdentity(oid)) for _, oid in oids),
        lookupMib=False,
    )
    attempt.end("ttfb")
    if indication:
        attempt.fail(describe(str(indication)))
        return
    if status:
        where = oids[int(index) - 1][0] if 0 < int(index) <= len(oids) else ""
        attempt.fail(
            f"the agent answered {status.prettyPrint()}" + (f" for {where}" if where else "")
        )
        return
    facts = attempt.observation.facts
    for (name, oid), (_, value) in zip(oids, bindings, strict=False):
        plain = _plain(value)
        if plain is None:
            attempt.fail(f"the agent has no {name}" + (f" ({oid})" if name != oid else ""))
            return
        if _is_numeric(name) or "." not in name:
            facts[f"snmp.{name}"] = plain
        else:  # sysUpTime.0 → snmp.sysUpTime = {"0": ...}: expectations say snmp.sysUpTime.0
            head, _, rest = name.partition(".")
            table = facts.setdefault(f"snmp.{head}", {})
            if isinstance(table, dict):
                table[rest] = plain


def _plain(value: Any) -> Any:
    """A Python value for an SNMP one: numbers as numbers (TimeTicks in seconds), text capped;
    None for noSuchObject, noSuchInstance and endOfMibView."""
    from pysnmp.proto import rfc1902, rfc1905

    if isinstance(value, rfc1905.NoSuchObject | rfc1905.NoSuchInstance | rfc1905.EndOfMibView):
        return None
    if isinstance(value, rfc1902.TimeTicks):
        return int(value) / 100.0
    if isinstance(value, rfc1902.Integer32 | rfc1902.Unsigned32 | rfc1902.Counter32):
        return int(value)
    if isinstance(value, rfc1902.Counter64 | rfc1902.Gauge32):
        return int(value)
    if isinstance(value, rfc1902.OctetString) and not isinstance(value, rfc1902.IpAddress):
        data = bytes(value)
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError:
            text = "0x" + data[: MAX_TEXT // 2].hex()
        return text[:MAX_TEXT]
    try:
        return int(value)
    except (TypeError, ValueError):
        return str(value.prettyPrint())[:MAX_TEXT]


def describe(indication: str) -> str:
    lowered = indication.lower()
    if "digest" in lowered:
        return "authentication failed: wrong auth_password or auth_protocol"
    if "unknown usm user" in lowered:
        return "authentication failed: the agent has no such user"
    if "decryption" in lowered or "decrypt" in lowered:
        return "authentication failed: wrong priv_password or priv_protocol"
    if "security level" in lowered:
        return "the agent does not allow this security level for the user"
    if "no snmp response" in lowered:
        return "timeout in ttfb (waiting for the SNMP response)"
    return indication.splitlines()[0][:300] if indication else "SNMP error"


CHECK = CheckKind(
    name="snmp",
    settings=SnmpSettings,
    subjects={
        "dns": ValueType.DURATION,
        "connect": ValueType.DURATION,
        "ttfb": ValueType.DURATION,
        "snmp.*": ValueType.ANY,
    },
    probe=probe,
    runtime=(
        *RUNTIME,
        "pysnmp.hlapi.v3arch.asyncio",
        "pysnmp.proto.rfc1902",
        "pysnmp.proto.rfc1905",
    ),
)
