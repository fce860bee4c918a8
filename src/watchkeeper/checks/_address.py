"""``host:port`` parsing shared by the kinds that take an address."""

from __future__ import annotations

import ipaddress


def is_ip(host: str) -> bool:
    """An IP address literal (``[::1]`` too), not a name to resolve."""
    try:
        ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        return False
    return True


def split_address(value: str, default_port: int | None = None) -> tuple[str, int]:
    """``example.com:25`` / ``[::1]:25`` / ``example.com`` (with a default port) → (host, port).

    Raises ValueError with a hint."""
    text = value.strip()
    if not text:
        raise ValueError("empty address: use host:port")
    if "://" in text:
        raise ValueError(f"'{value}' is a URL: give host:port")
    if text.startswith("["):
        host, _, rest = text[1:].partition("]")
        port_text = rest[1:] if rest.startswith(":") else ""
    elif text.count(":") == 1:
        host, _, port_text = text.partition(":")
    else:
        host, port_text = text, ""
    if not host:
        raise ValueError(f"'{value}' has no host")
    if not port_text:
        if default_port is None:
            raise ValueError(f"'{value}' needs a port: host:port")
        return host, default_port
    if not port_text.isdigit() or not 0 < int(port_text) < 65536:
        raise ValueError(f"'{value}': bad port '{port_text}'")
    return host, int(port_text)
