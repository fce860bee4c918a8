"""Free TCP ports for servers a test starts, chosen so that nothing else takes them first.

A port the kernel hands out for ``bind(0)`` comes from the ephemeral range (32768–60999 here),
the same range every outgoing connection on the machine draws its local port from: between the
moment a test learns the port and the moment its server binds it, a client in another test
worker can take it ("Address already in use", seen in CI). These ports come from below that
range, a block of its own for each xdist worker, handed out in turn so that a port just closed
(still in TIME_WAIT) is not offered again soon.
"""

from __future__ import annotations

import itertools
import os
import socket

_LOW = 20000
_BLOCK = 1000
_BLOCKS = 12  # 20000–31999: below the ephemeral range


def _block() -> int:
    worker = os.environ.get("PYTEST_XDIST_WORKER", "gw0")
    index = int(worker[2:]) if worker[2:].isdigit() else 0
    return _LOW + (index % _BLOCKS) * _BLOCK


_turn = itertools.count(os.getpid() % _BLOCK)


def free_port() -> int:
    """A port on 127.0.0.1 that is free now and that no other test worker will be offered."""
    base = _block()
    for _ in range(_BLOCK):
        port = base + next(_turn) % _BLOCK
        with socket.socket() as sock:
            try:
                sock.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    raise RuntimeError(f"no free port in {base}-{base + _BLOCK - 1}")
