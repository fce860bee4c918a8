"""``wk validate``: check a config file without running anything."""

from __future__ import annotations

from collections import Counter

from watchkeeper.cli.common import ConfigOption, load
from watchkeeper.config import DEFAULT_FILE
from watchkeeper.units import plural


def validate(config: ConfigOption = DEFAULT_FILE) -> None:
    """Check a config file: syntax, keys, durations, expectations, references."""
    loaded = load(config)
    kinds = Counter(m.kind for m in loaded.monitors)
    summary = ", ".join(f"{n} {kind}" for kind, n in sorted(kinds.items())) or "no monitors"
    paused = sum(1 for m in loaded.monitors if m.paused)
    extra = f", {paused} paused" if paused else ""
    print(f"{config}: ok — {plural(len(loaded.monitors), 'monitor')} ({summary}{extra})")
