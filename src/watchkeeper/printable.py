"""Text a target sent, made safe to show anywhere: its control and format characters (a
terminal's ESC sequences, a right-to-left override that reverses what a reader sees, a NUL
that ends a C string) written as escapes, ``\\x1b`` and ``\\u202e``. A check's error, a
failure's quoted value and a warning pass through here before they are stored, so the
terminal, the store, the pages and every notifier see the same inert text."""

from __future__ import annotations


def visible(text: str) -> str:
    if text.isprintable():
        return text
    return "".join(
        char
        if char.isprintable()
        else (f"\\x{ord(char):02x}" if ord(char) < 256 else f"\\u{ord(char):04x}")
        for char in text
    )


def one_line(text: str, limit: int = 200) -> str:
    """The first line of ``text`` with something on it, made visible and cut to ``limit``
    characters (``…`` marks a cut): what a log line or a timeline entry keeps of an error a
    peer wrote, such as a receiver's whole HTML error page. Mask secrets before calling it:
    a cut inside a URL's password would hide the URL from the masking."""
    line = next((found.strip() for found in text.splitlines() if found.strip()), "")
    shown = visible(line)
    return shown if len(shown) <= limit else shown[: limit - 1] + "…"
