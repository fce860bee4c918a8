"""``wk notify test ROUTE``: send a test message through a route, now, and say how it went."""

from __future__ import annotations

import asyncio
import difflib
import uuid
from typing import Annotated

import typer

from watchkeeper.cli.common import EXIT_FAILED, ConfigOption, console, errors, fail, load
from watchkeeper.config import DEFAULT_FILE, Route
from watchkeeper.notify.base import RouteInfo, TransportError
from watchkeeper.notify.render import trial_message

notify_app = typer.Typer(help="Notification routes.", no_args_is_help=True)


@notify_app.command("test")
def send_test(
    route: Annotated[str, typer.Argument(metavar="ROUTE")],
    config: ConfigOption = DEFAULT_FILE,
) -> None:
    """Send a test notification through ROUTE (exit 1 if it fails)."""
    loaded = load(config)
    chosen = loaded.route(route)
    if chosen is None:
        names = [r.name for r in loaded.routes]
        close = difflib.get_close_matches(route, names, n=1)
        fail(
            f"no route named '{route}'"
            + (
                f" (did you mean '{close[0]}'?)"
                if close
                else (f"; routes: {', '.join(names)}" if names else "")
            )
        )
    problem = asyncio.run(_send(chosen, loaded.server.public_url))
    if problem is not None:
        errors.print(
            f"route '{route}' ({chosen.kind} {chosen.target}): {problem}",
            markup=False,
            soft_wrap=True,  # one line, however long: scripts read it
        )
        raise typer.Exit(EXIT_FAILED)
    console.print(
        f"sent a test notification through '{route}' ({chosen.kind} {chosen.target})",
        markup=False,
        soft_wrap=True,
    )


async def _send(route: Route, dashboard: str | None) -> str | None:
    notifier = route.notifier.create(
        route.settings, RouteInfo(route.name, route.timeout, dashboard)
    )
    try:
        message = trial_message(route.name, f"wk-test-{uuid.uuid4().hex}")
        await asyncio.wait_for(notifier.send(message), route.timeout + 5)
    except TransportError as exc:
        return f"{exc}" + (" (permanent: check the route)" if exc.permanent else "")
    except TimeoutError:
        return f"no answer within {route.timeout:g}s"
    finally:
        await notifier.aclose()
    return None
