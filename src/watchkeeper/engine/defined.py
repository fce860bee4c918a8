"""Monitors defined through the API, read back from the store when ``wk up`` starts."""

from __future__ import annotations

from watchkeeper.config import Config, Monitor, load_api_monitor
from watchkeeper.errors import ConfigError
from watchkeeper.store import Store, definitions


def api_monitors(store: Store, config: Config) -> tuple[list[Monitor], list[str]]:
    """The stored definitions validated against today's config, and one line for each one
    left out (shadowed by a config monitor of the same name, or no longer valid: a route or
    parent it named was removed from the config, say)."""
    with store.read() as connection:
        found = definitions.api_monitors(connection)
    monitors: list[Monitor] = []
    problems: list[str] = []
    for definition in found:
        if any(m.name == definition.name for m in config.monitors):
            problems.append(
                f"API monitor '{definition.name}' is shadowed by the config's monitor of that "
                "name; the config's is watched"
            )
            continue
        try:
            monitors.append(
                load_api_monitor(definition.spec, config, [*config.monitors, *monitors])
            )
        except ConfigError as exc:
            problems += [
                f"skipping a monitor defined through the API: {line}" for line in exc.lines()
            ]
    return monitors, problems
