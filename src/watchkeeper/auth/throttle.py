"""How the login form answers guessing: refuse per client, pace per name, and let the name's
owner through.

- A client (an IPv4 address, an IPv6 /64) may fail 5 times for one name within 5 minutes and
  20 times in all within 10 minutes; past either it is refused (429) until the oldest attempt
  ages out. These are keyed on the client, so a flood from one place does not lock the real
  user out from another.
- A name that has failed 5 times within 15 minutes, from anywhere, is paced: its tries from
  unknown clients are checked one at a time, 1 s apart, doubling with every failure up to
  8 s, whatever the number of addresses or requests in flight. A try waits for its turn (at
  most 16 s; past that it is told when to come back).
- The owner is not paced: a browser that has logged in as that name before (it carries a
  signed device token) or an address that has, gets its password checked at once, and may
  wait for a hashing thread when a flood has both busy instead of being turned away. So a
  guessing attack on a name can neither go fast nor lock its owner out.

An attempt is counted (reserved) before its password is checked, so concurrent requests
cannot all slip under a limit; an attempt that succeeds, or is turned away before its
password was checked, is taken back. Device tokens and known addresses live in memory: a
restart forgets them (the owner is then paced like anyone until it logs in once).
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import hashlib
import hmac
import secrets
import time
from collections import OrderedDict, deque
from collections.abc import Callable
from dataclasses import dataclass

from watchkeeper.auth.limits import MAX_KEYS, Limiter

PER_PAIR = (5, 300.0)
PER_ADDRESS = (20, 600.0)
PER_NAME = (5, 900.0)
"""Failures of a name before it is paced, and the window they are counted in."""
FIRST_DELAY = 1.0
MAX_DELAY = 8.0
MAX_WAIT = 2 * MAX_DELAY
"""The longest a paced try waits for its turn before it is told to come back later."""
KNOWN_PER_NAME = 8
"""Addresses remembered per name as having logged in as it."""


@dataclass(frozen=True, slots=True)
class Verdict:
    refused_for: float | None = None
    """Seconds until this client may try again (answer 429), or None: go ahead."""
    delay: float = 0.0
    """Wait this long before checking the password (the name's turn)."""
    owner: bool = False
    """The client has logged in as this name before: not paced, may wait for a hasher."""


class LoginThrottle:
    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self.by_pair = Limiter(*PER_PAIR, clock=clock)
        self.by_address = Limiter(*PER_ADDRESS, clock=clock)
        self.by_name = Limiter(10_000, PER_NAME[1], clock=clock)
        self._turn: OrderedDict[str, float] = OrderedDict()
        """When a paced name's next try may be checked."""
        self._known: OrderedDict[str, OrderedDict[str, None]] = OrderedDict()
        self._secret = secrets.token_bytes(32)

    def attempt(self, name: str, address: str, device: str | None = None) -> Verdict:
        """Reserve an attempt by ``address`` at ``name`` (then call ``forgive`` if its
        password is not checked after all, ``succeeded`` if it is right). ``device``: the
        device token the browser sent, if any."""
        name = name.lower()
        pair = _pair(name, address)
        wait = self.by_pair.blocked(pair)
        if wait is None:
            wait = self.by_address.blocked(address)
        if wait is not None:
            return Verdict(refused_for=max(1.0, wait))
        owner = self._is_owner(name, address, device)
        delay = 0.0
        step = slowdown(self.by_name.count(name))
        if step and not owner:
            now = self._clock()
            start = max(now, self._turn.get(name, now))
            if start - now > MAX_WAIT:
                return Verdict(refused_for=start - now - MAX_WAIT + 1.0)
            delay = start - now
            self._turn[name] = start + step
            self._turn.move_to_end(name)
            if len(self._turn) > MAX_KEYS:
                self._turn.popitem(last=False)
        self.by_pair.fail(pair)
        self.by_address.fail(address)
        self.by_name.fail(name)
        return Verdict(delay=delay, owner=owner)

    def forgive(self, name: str, address: str) -> None:
        """The attempt was turned away before its password was checked."""
        name = name.lower()
        self.by_pair.forgive(_pair(name, address))
        self.by_address.forgive(address)
        self.by_name.forgive(name)

    def succeeded(self, name: str, address: str) -> str:
        """The password was right: its attempt is taken back and the address remembered as
        the owner's. Returns the device token for the browser to keep."""
        name = name.lower()
        self.by_pair.reset(_pair(name, address))
        self.by_address.forgive(address)
        self.by_name.forgive(name)
        known = self._known.pop(name, None) or OrderedDict()
        known.pop(address, None)
        known[address] = None
        while len(known) > KNOWN_PER_NAME:
            known.popitem(last=False)
        self._known[name] = known
        if len(self._known) > MAX_KEYS:
            self._known.popitem(last=False)
        return self.device_token(name)

    def device_token(self, name: str) -> str:
        encoded = base64.urlsafe_b64encode(name.lower().encode()).decode().rstrip("=")
        return f"{encoded}.{self._sign(name.lower())}"

    def _is_owner(self, name: str, address: str, device: str | None) -> bool:
        if address in self._known.get(name, ()):
            return True
        if not device or "." not in device:
            return False
        encoded, _, signature = device.rpartition(".")
        try:
            named = base64.urlsafe_b64decode(encoded + "=" * (-len(encoded) % 4)).decode()
        except (ValueError, UnicodeDecodeError):
            return False
        return named == name and hmac.compare_digest(signature, self._sign(name))

    def _sign(self, name: str) -> str:
        return hmac.new(self._secret, b"device\x00" + name.encode(), hashlib.sha256).hexdigest()


def slowdown(failures: int) -> float:
    """The spacing of a paced name's tries after ``failures`` failures."""
    if failures < PER_NAME[0]:
        return 0.0
    return min(MAX_DELAY, FIRST_DELAY * 2.0 ** (failures - PER_NAME[0]))


def _pair(name: str, address: str) -> str:
    return f"{address}\x00{name}"


class Slots:
    """At most ``size`` at once (the hashing threads). ``try_take`` never waits; ``take``
    waits its turn, ahead of every later ``try_take``."""

    def __init__(self, size: int) -> None:
        self.size = size
        self.taken = 0
        self._waiting: deque[asyncio.Future[None]] = deque()

    def try_take(self) -> bool:
        if self.taken < self.size and not self._waiting:
            self.taken += 1
            return True
        return False

    async def take(self, patience: float) -> bool:
        if self.try_take():
            return True
        waiter: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._waiting.append(waiter)
        got = False
        try:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(asyncio.shield(waiter), patience)
                got = True
        finally:
            if not got:  # timed out or cancelled
                if waiter.done():  # handed a slot just as the wait ended: pass it on
                    self.give()
                else:
                    waiter.cancel()
            if waiter in self._waiting:
                self._waiting.remove(waiter)
        return got

    def give(self) -> None:
        while self._waiting:
            waiter = self._waiting.popleft()
            if not waiter.done():
                waiter.set_result(None)  # the slot passes straight to it
                return
        self.taken -= 1
