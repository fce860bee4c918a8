"""How the login form answers guessing: refuse per client, slow down per name.

- A client address may fail 5 times for one name within 5 minutes and 20 times in all
  within 10 minutes; past either it is refused (429) until the oldest attempt ages out.
  These are keyed on the address, so a flood from one place does not lock the real user
  out from another.
- A name that has failed 5 times within 15 minutes, from anywhere, is slowed down: each
  further attempt waits 1 s, doubling with every failure up to 8 s, before its password is
  checked. A slowdown is never a refusal: the right password still gets in, just later.
  Guessing one name from many addresses thus costs every try 8 s (and each address still
  has only its 20), while the name's owner can still log in.

An attempt is counted (reserved) before its password is checked, so concurrent requests
cannot all slip under a limit; an attempt that succeeds, or is turned away before its
password was checked, is taken back.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

from watchkeeper.auth.limits import Limiter

PER_PAIR = (5, 300.0)
PER_ADDRESS = (20, 600.0)
PER_NAME = (5, 900.0)
"""Failures of a name before it is slowed down, and the window they are counted in."""
FIRST_DELAY = 1.0
MAX_DELAY = 8.0


@dataclass(frozen=True, slots=True)
class Verdict:
    refused_for: float | None = None
    """Seconds until this client may try again (answer 429), or None: go ahead."""
    delay: float = 0.0
    """Wait this long before checking the password (the name is being guessed)."""


class LoginThrottle:
    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self.by_pair = Limiter(*PER_PAIR, clock=clock)
        self.by_address = Limiter(*PER_ADDRESS, clock=clock)
        self.by_name = Limiter(10_000, PER_NAME[1], clock=clock)

    def attempt(self, name: str, address: str) -> Verdict:
        """Reserve an attempt by ``address`` at ``name`` (call ``forgive`` or ``succeeded``
        if its password is then not checked or is right)."""
        name = name.lower()
        pair = _pair(name, address)
        wait = self.by_pair.blocked(pair)
        if wait is None:
            wait = self.by_address.blocked(address)
        if wait is not None:
            return Verdict(refused_for=max(1.0, wait))
        self.by_pair.fail(pair)
        self.by_address.fail(address)
        before = self.by_name.count(name)
        self.by_name.fail(name)
        return Verdict(delay=slowdown(before))

    def forgive(self, name: str, address: str) -> None:
        """The attempt was turned away before its password was checked."""
        name = name.lower()
        self.by_pair.forgive(_pair(name, address))
        self.by_address.forgive(address)
        self.by_name.forgive(name)

    def succeeded(self, name: str, address: str) -> None:
        name = name.lower()
        self.by_pair.reset(_pair(name, address))
        self.by_address.forgive(address)
        self.by_name.forgive(name)


def slowdown(failures: int) -> float:
    """The wait before checking a password for a name that failed ``failures`` times."""
    if failures < PER_NAME[0]:
        return 0.0
    return min(MAX_DELAY, FIRST_DELAY * 2.0 ** (failures - PER_NAME[0]))


def _pair(name: str, address: str) -> str:
    return f"{address}\x00{name}"
