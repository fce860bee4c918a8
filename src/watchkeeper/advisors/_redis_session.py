"""The Redis advisor's connection: the URL checked and shown without secrets, one named
connection with a timeout on every command, refused commands noted instead of fatal, and
failures as one-line :class:`AdvisorError` messages."""

from __future__ import annotations

import contextlib
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs, urlsplit

import redis.asyncio as redis_async
from redis import exceptions as redis_errors
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff

from watchkeeper.advisors import targets
from watchkeeper.advisors._redis_common import first_line
from watchkeeper.advisors._redis_settings import RedisAdviceSettings
from watchkeeper.advisors.errors import AdvisorError
from watchkeeper.redact import redact
from watchkeeper.units import format_duration

CONTAINER_COMMANDS = frozenset(
    {
        "ACL", "CLIENT", "CLUSTER", "COMMAND", "CONFIG", "DEBUG", "FUNCTION", "LATENCY",
        "MEMORY", "MODULE", "OBJECT", "PUBSUB", "SCRIPT", "SLOWLOG", "XGROUP", "XINFO",
    }
)  # fmt: skip
"""Commands whose first argument is a subcommand: ``CONFIG GET``, ``SLOWLOG GET``."""

CONNECT_ACL = "+ping +client|setname"
"""What the advisor's user needs to connect at all (and ``+select`` for a database but 0)."""

_FAILURES = (redis_errors.RedisError, OSError, TimeoutError)


@dataclass(frozen=True, slots=True)
class Target:
    url: str
    where: str
    """host:port/db, for messages: no user, no password."""
    secrets: tuple[str, ...]
    db: int
    user: str
    """The ACL user the URL logs in as (``default`` without one)."""


def target(url: str) -> Target:
    """The URL checked (scheme, database number) and shown by ``targets.redis``."""
    shown = targets.redis(url)
    if shown.problem:
        raise AdvisorError(f"redis: {shown.problem}")
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - raises ValueError on a bad port
    except ValueError as exc:
        raise AdvisorError(f"redis: bad URL ({redact(str(exc), shown.secrets)})") from None
    if parts.scheme not in ("redis", "rediss", "unix"):
        raise AdvisorError(
            f"redis: '{redact(url, shown.secrets)}' is not a redis://host:port/db URL"
        )
    path = parts.path.strip("/") if parts.scheme != "unix" else ""
    database = path or (parse_qs(parts.query).get("db") or ["0"])[0]
    if not database.isdigit():
        raise AdvisorError(f"redis: database '{redact(database, shown.secrets)}' is not a number")
    return Target(url, shown.label, shown.secrets, int(database), parts.username or "default")


class Refused(Exception):
    """The server answered a command with an error (ACL, unknown command)."""


class Session:
    """One connection; every command has the socket timeout; refusals are noted, not fatal."""

    def __init__(self, target: Target, settings: RedisAdviceSettings, timeout: float) -> None:
        self.target = target
        self.timeout = timeout
        self.skipped: dict[str, str] = {}
        """Command → the server's reason for refusing it."""
        self.client: redis_async.Redis = redis_async.from_url(
            target.url,
            socket_connect_timeout=timeout,
            socket_timeout=timeout,
            retry_on_timeout=False,
            retry=Retry(NoBackoff(), 0),
            single_connection_client=True,
            client_name=settings.client_name,
        )

    @property
    def secrets(self) -> tuple[str, ...]:
        return self.target.secrets

    def fail(self, exc: BaseException, doing: str) -> AdvisorError:
        described = describe(exc, self.timeout)
        if doing:
            described = f"{doing}: {described}"
        return AdvisorError(redact(f"redis {self.target.where}: {described}", self.secrets))

    def note_refused(self, command: str, reason: Any) -> str:
        """Remember that ``command`` was refused (for the skipped-checks Finding)."""
        shown = redact(first_line(reason), self.secrets)
        self.skipped[command] = shown
        return shown

    async def connect(self) -> None:
        """Connect (and authenticate, name the connection) with one PING."""
        try:
            await self.client.ping()
        except _FAILURES as exc:
            raise self.fail(exc, "") from None

    async def run(self, *args: Any) -> Any:
        """A command that must work (the server is unusable without it)."""
        try:
            return await self._call(*args)
        except _FAILURES as exc:
            raise self.fail(exc, str(args[0])) from None

    async def maybe(self, *args: Any) -> Any:
        """A command some servers refuse: raise Refused (and note it) instead of failing."""
        try:
            return await self._call(*args)
        except redis_errors.ResponseError as exc:
            raise Refused(self.note_refused(command_of(args), exc)) from None
        except _FAILURES as exc:
            raise self.fail(exc, str(args[0])) from None

    async def pipeline(self, commands: Sequence[tuple[Any, ...]]) -> list[Any]:
        """Several commands in one round trip; an error reply comes back as the exception."""
        try:
            pipe = self.client.pipeline(transaction=False)
            for command in commands:
                pipe.execute_command(*command)
            return list(await pipe.execute(raise_on_error=False))
        except _FAILURES as exc:
            raise self.fail(exc, str(commands[0][0]) if commands else "pipeline") from None

    async def close(self) -> None:
        with contextlib.suppress(*_FAILURES):
            await self.client.aclose()

    async def _call(self, *args: Any) -> Any:
        return await self.client.execute_command(*args)  # type: ignore[no-untyped-call]


def command_of(args: Sequence[Any]) -> str:
    """``CONFIG GET`` for a container command, else the command's name."""
    words = [str(a) for a in args[:2]]
    if words and words[0].upper() in CONTAINER_COMMANDS and len(words) > 1:
        return f"{words[0].upper()} {words[1].upper()}"
    return words[0].upper() if words else "?"


def describe(exc: BaseException, timeout: float) -> str:
    """What went wrong, in a few words a person acts on."""
    message = " ".join(str(exc).split())
    lowered = message.lower()
    if isinstance(exc, redis_errors.TimeoutError | TimeoutError) or "timed out" in lowered:
        return f"no answer within {format_duration(timeout)}"
    if "connection refused" in lowered or "111 connecting" in lowered or "errno 111" in lowered:
        return "connection refused"
    if (
        isinstance(exc, redis_errors.AuthenticationError)
        or "noauth" in lowered
        or "wrongpass" in lowered
        or "invalid password" in lowered
    ):
        return "authentication failed (check the password in the URL)"
    if isinstance(exc, redis_errors.NoPermissionError) or "no permissions" in lowered:
        return (
            f"{message[:200]} (to connect, the advisor's user needs {CONNECT_ACL}, and "
            "+select for a database other than 0)"
        )
    if "name or service not known" in lowered or "nodename nor servname" in lowered:
        return "host name not found"
    if "connection closed" in lowered or "connection reset" in lowered:
        return "connection closed by the server"
    return (message or type(exc).__name__)[:300]
