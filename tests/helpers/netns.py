"""Network namespaces made by a test: a place on this machine with its own network, joined
to the machine by one veth pair and nothing else (no route out, no default gateway), so a
program run inside reaches the machine's side of its pair and nothing more. Needs root and
iproute2; never touches anything outside the machine."""

from __future__ import annotations

import secrets
import subprocess
from dataclasses import dataclass, field


def _ip(*args: str) -> None:
    subprocess.run(["ip", *args], check=True, capture_output=True, timeout=10)


@dataclass
class Namespace:
    """``host`` is the machine's address on the pair, ``inside`` the namespace's."""

    name: str = field(default_factory=lambda: f"wk{secrets.token_hex(4)}")
    host: str = ""
    inside: str = ""

    def __post_init__(self) -> None:
        block = secrets.randbelow(1 << 14) * 4  # a /30 in 10.231.0.0/16
        base = f"10.231.{block >> 8}.{block & 0xFF}"
        prefix = base.rsplit(".", 1)[0]
        last = int(base.rsplit(".", 1)[1])
        self.host = f"{prefix}.{last + 1}"
        self.inside = f"{prefix}.{last + 2}"

    def create(self) -> Namespace:
        here, there = f"{self.name}h", f"{self.name}n"
        _ip("netns", "add", self.name)
        try:
            _ip("link", "add", here, "type", "veth", "peer", "name", there)
            _ip("link", "set", there, "netns", self.name)
            _ip("addr", "add", f"{self.host}/30", "dev", here)
            _ip("link", "set", here, "up")
            _ip("-n", self.name, "addr", "add", f"{self.inside}/30", "dev", there)
            _ip("-n", self.name, "link", "set", there, "up")
            _ip("-n", self.name, "link", "set", "lo", "up")
        except Exception:
            self.destroy()
            raise
        return self

    def command(self, *args: str) -> list[str]:
        """``args`` run inside the namespace."""
        return ["ip", "netns", "exec", self.name, *args]

    def destroy(self) -> None:
        """The namespace goes, and its pair with it."""
        subprocess.run(["ip", "netns", "del", self.name], capture_output=True, timeout=10)
        subprocess.run(["ip", "link", "del", f"{self.name}h"], capture_output=True, timeout=10)
