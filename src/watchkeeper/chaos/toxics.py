"""Toxics: what a fault does to one direction (a *stream*) of one proxied connection.

A ``Toxic`` is the definition the API holds (name, type, stream, toxicity, attributes). When it
applies to a connection (drawn once per connection with probability ``toxicity``), its type's
``Effect`` class is made for that connection's stream: one small object with per-connection
state, which sees each chunk of data (``apply``) and the end of the stream (``finish``) and
passes what it lets through to the next effect with ``emit``.

Removing a toxic ``stop()``s its effects on every open connection: held data is released, a
pending pause ends at once, timers are cancelled, and from then on the effect passes data
through untouched — clean pass-through for existing connections as for new ones.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import ClassVar, NamedTuple, Protocol

from watchkeeper.chaos.errors import BadInput

STREAMS = ("upstream", "downstream")
HOUR_MS = 3_600_000
NAME_LIMIT = 200
IDLE = 0.1  # seconds: the bandwidth toxic's pacing catches up on oversleeping up to this


class Chunk(NamedTuple):
    arrival: float  # the clock (time.perf_counter) when the proxy read it
    data: bytes


Emit = Callable[[Chunk], Awaitable[None]]


class Closed(Exception):
    """Raised inside an effect once it has closed the connection: stop moving data."""


class Control(Protocol):
    """What an effect may do to its connection."""

    def close(self, *, reset: bool) -> None: ...


class Effect:
    """One toxic on one stream of one connection; subclasses override ``apply``/``finish``."""

    KIND: ClassVar[str]
    ATTRIBUTES: ClassVar[Mapping[str, tuple[int, int]]]  # name -> (lowest, highest) accepted

    def __init__(self, attributes: Mapping[str, int], control: Control) -> None:
        self.attributes = attributes
        self.control = control
        self._removed = asyncio.Event()

    def start(self) -> None:
        """The effect now applies to its connection (timers start here)."""

    def stop(self) -> None:
        """The toxic was removed: let everything through from now on."""
        self._removed.set()

    @property
    def removed(self) -> bool:
        return self._removed.is_set()

    async def feed(self, chunk: Chunk, emit: Emit) -> None:
        if self.removed:
            await emit(chunk)
        else:
            await self.apply(chunk, emit)

    async def end(self) -> None:
        if not self.removed:
            await self.finish()

    async def apply(self, chunk: Chunk, emit: Emit) -> None:
        await emit(chunk)

    async def finish(self) -> None:
        """The stream's source has ended; return to let the end through."""

    async def pause(self, seconds: float) -> None:
        """Wait ``seconds``, or less if the toxic is removed meanwhile."""
        if seconds <= 0 or self.removed:
            return
        try:
            async with asyncio.timeout(seconds):
                await self._removed.wait()
        except TimeoutError:
            pass


_now = time.perf_counter  # uvloop's loop.time() moves in whole milliseconds


class Latency(Effect):
    """Delay every chunk by ``latency`` ± ``jitter`` ms, counted from when it was read (a stream
    of chunks is delayed as a whole, not chunk after chunk); order is kept."""

    KIND = "latency"
    ATTRIBUTES: ClassVar[Mapping[str, tuple[int, int]]] = {
        "latency": (0, HOUR_MS),
        "jitter": (0, HOUR_MS),
    }

    def __init__(self, attributes: Mapping[str, int], control: Control) -> None:
        super().__init__(attributes, control)
        self._last = 0.0

    async def apply(self, chunk: Chunk, emit: Emit) -> None:
        jitter = self.attributes["jitter"]
        delay = self.attributes["latency"] + (random.uniform(-jitter, jitter) if jitter else 0)
        release = max(chunk.arrival + max(delay, 0) / 1000, self._last)
        self._last = release
        await self.pause(release - _now())
        await emit(chunk)


class Bandwidth(Effect):
    """At most ``rate`` KB/s (1 KB = 1000 bytes), paced in slices of 10 ms worth of data."""

    KIND = "bandwidth"
    ATTRIBUTES: ClassVar[Mapping[str, tuple[int, int]]] = {"rate": (1, 10_000_000)}

    def __init__(self, attributes: Mapping[str, int], control: Control) -> None:
        super().__init__(attributes, control)
        self._clock = 0.0

    async def apply(self, chunk: Chunk, emit: Emit) -> None:
        per_second = self.attributes["rate"] * 1000
        step = max(1, per_second // 100)
        data = chunk.data
        now = _now()
        if now - self._clock > IDLE:  # the link was idle: no credit for the quiet time
            self._clock = now
        for offset in range(0, len(data), step):
            piece = data[offset : offset + step]
            if self.removed:
                await emit(Chunk(chunk.arrival, data[offset:]))
                return
            self._clock += len(piece) / per_second
            await self.pause(self._clock - _now())
            await emit(Chunk(chunk.arrival, piece))


class SlowClose(Effect):
    """Hold the end of the stream for ``delay`` ms before passing it on."""

    KIND = "slow_close"
    ATTRIBUTES: ClassVar[Mapping[str, tuple[int, int]]] = {"delay": (0, HOUR_MS)}

    async def finish(self) -> None:
        await self.pause(self.attributes["delay"] / 1000)


class Timeout(Effect):
    """Let nothing through (data is held, not lost) and close the connection ``timeout`` ms
    after the toxic applies; 0 holds until the toxic is removed."""

    KIND = "timeout"
    ATTRIBUTES: ClassVar[Mapping[str, tuple[int, int]]] = {"timeout": (0, HOUR_MS)}

    def __init__(self, attributes: Mapping[str, int], control: Control) -> None:
        super().__init__(attributes, control)
        self._timer: asyncio.TimerHandle | None = None

    def start(self) -> None:
        milliseconds = self.attributes["timeout"]
        if milliseconds > 0:
            loop = asyncio.get_running_loop()
            self._timer = loop.call_later(milliseconds / 1000, self._expire)

    def _expire(self) -> None:
        if not self.removed:
            self.control.close(reset=False)

    def stop(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
        super().stop()

    async def apply(self, chunk: Chunk, emit: Emit) -> None:
        await self._removed.wait()
        await emit(chunk)

    async def finish(self) -> None:
        await self._removed.wait()


class ResetPeer(Effect):
    """``timeout`` ms after the first data (or the end) arrives, reset the connection (TCP RST,
    unsent data discarded); 0 resets at once."""

    KIND = "reset_peer"
    ATTRIBUTES: ClassVar[Mapping[str, tuple[int, int]]] = {"timeout": (0, HOUR_MS)}

    async def apply(self, chunk: Chunk, emit: Emit) -> None:
        await self._reset()
        await emit(chunk)  # only when the toxic was removed during the wait

    async def finish(self) -> None:
        await self._reset()

    async def _reset(self) -> None:
        await self.pause(self.attributes["timeout"] / 1000)
        if not self.removed:
            self.control.close(reset=True)
            raise Closed


class Slicer(Effect):
    """Cut each chunk into slices of ``average_size`` ± ``size_variation`` bytes, written
    ``delay`` µs apart."""

    KIND = "slicer"
    ATTRIBUTES: ClassVar[Mapping[str, tuple[int, int]]] = {
        "average_size": (1, 1 << 20),
        "size_variation": (0, 1 << 20),
        "delay": (0, 10_000_000),
    }

    async def apply(self, chunk: Chunk, emit: Emit) -> None:
        average = self.attributes["average_size"]
        variation = min(self.attributes["size_variation"], average - 1)
        data, offset = chunk.data, 0
        while offset < len(data):
            if self.removed:
                await emit(Chunk(chunk.arrival, data[offset:]))
                return
            if offset:
                await self.pause(self.attributes["delay"] / 1_000_000)
            size = average + random.randint(-variation, variation) if variation else average
            await emit(Chunk(chunk.arrival, data[offset : offset + size]))
            offset += size


class LimitData(Effect):
    """Pass ``bytes`` bytes of the stream, then close the connection."""

    KIND = "limit_data"
    ATTRIBUTES: ClassVar[Mapping[str, tuple[int, int]]] = {"bytes": (0, 1 << 50)}

    def __init__(self, attributes: Mapping[str, int], control: Control) -> None:
        super().__init__(attributes, control)
        self._passed = 0

    async def apply(self, chunk: Chunk, emit: Emit) -> None:
        left = self.attributes["bytes"] - self._passed
        if len(chunk.data) < left:
            self._passed += len(chunk.data)
            await emit(chunk)
            return
        if left > 0:
            self._passed += left
            await emit(Chunk(chunk.arrival, chunk.data[:left]))
        self.control.close(reset=False)
        raise Closed


EFFECTS: dict[str, type[Effect]] = {
    kind.KIND: kind
    for kind in (Latency, Bandwidth, SlowClose, Timeout, ResetPeer, Slicer, LimitData)
}


@dataclass(eq=False)
class Toxic:
    """A toxic as the API holds it; compared by identity (an update makes a new one, so every
    connection draws its toxicity again)."""

    name: str
    kind: str
    stream: str
    toxicity: float
    attributes: dict[str, int] = field(default_factory=dict)

    def effect(self, control: Control) -> Effect:
        return EFFECTS[self.kind](self.attributes, control)

    def to_json(self) -> dict[str, object]:
        return {
            "name": self.name,
            "type": self.kind,
            "stream": self.stream,
            "toxicity": self.toxicity,
            "attributes": dict(self.attributes),
        }


def parse_toxic(body: object, existing: Toxic | None = None) -> Toxic:
    """A toxic from an API body; with ``existing``, an update of it (type, stream and name stay,
    attributes given replace those held). Raises ``BadInput``."""
    if not isinstance(body, dict):
        raise BadInput("bad request body: a toxic is a JSON object")
    if existing is None:
        kind = body.get("type")
        if not isinstance(kind, str) or kind not in EFFECTS:
            raise BadInput(f"invalid toxic type: {_show(kind)} (one of {', '.join(EFFECTS)})")
        stream = body.get("stream", "downstream")
        if stream not in STREAMS:
            raise BadInput("stream was invalid, can be either upstream or downstream")
        name = body.get("name") or f"{kind}_{stream}"
        if not isinstance(name, str) or len(name) > NAME_LIMIT or not _printable(name):
            raise BadInput(f"bad request body: a toxic name is text of at most {NAME_LIMIT}")
        held: Mapping[str, int] = {}
        toxicity_default = 1.0
    else:
        kind, stream, name = existing.kind, existing.stream, existing.name
        held, toxicity_default = existing.attributes, existing.toxicity
    toxicity = body.get("toxicity", toxicity_default)
    if isinstance(toxicity, bool) or not isinstance(toxicity, int | float):
        raise BadInput("bad request body: toxicity is a number from 0 to 1")
    if not 0 <= toxicity <= 1:
        raise BadInput(f"toxicity {toxicity} is out of range (0 to 1)")
    attributes = _attributes(EFFECTS[kind], body.get("attributes") or {}, held)
    return Toxic(name, kind, str(stream), float(toxicity), attributes)


def _attributes(effect: type[Effect], given: object, held: Mapping[str, int]) -> dict[str, int]:
    if not isinstance(given, dict):
        raise BadInput("bad request body: attributes is a JSON object")
    unknown = sorted(set(given) - set(effect.ATTRIBUTES))
    if unknown:
        accepted = ", ".join(effect.ATTRIBUTES)
        raise BadInput(
            f"unknown {effect.KIND} attribute {_show(unknown[0])} (accepted: {accepted})"
        )
    result: dict[str, int] = {}
    for name, (low, high) in effect.ATTRIBUTES.items():
        value = given.get(name, held.get(name, max(low, 0)))
        if isinstance(value, float) and value.is_integer():
            value = int(value)
        if isinstance(value, bool) or not isinstance(value, int):
            raise BadInput(f"{effect.KIND} attribute {name} is a whole number")
        if not low <= value <= high:
            raise BadInput(
                f"{effect.KIND} attribute {name}={value} is out of range ({low} to {high})"
            )
        result[name] = value
    return result


def _printable(text: str) -> bool:
    return text.isprintable() and "/" not in text and text.strip() == text and text != ""


def _show(value: object) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."
