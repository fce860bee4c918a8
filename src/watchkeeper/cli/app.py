"""The ``wk`` command: one module per command group, registered here."""

from __future__ import annotations

import typer

from watchkeeper import __version__
from watchkeeper.cli import (
    check,
    diagnose,
    heartbeat,
    incidents,
    init,
    loadtest,
    notify,
    reload,
    silence,
    slo,
    status,
    up,
    users,
    validate,
)

app = typer.Typer(
    name="wk",
    help="Watchkeeper: monitors as code, low-noise alerts, diagnosis and load tests.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"watchkeeper {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: bool = typer.Option(
        False, "--version", callback=_version, is_eager=True, help="Print the version and exit."
    ),
) -> None:
    """Watchkeeper."""


app.command("init")(init.init)
app.command("validate")(validate.validate)
app.command("check")(check.check)
app.command("up")(up.up)
app.command("reload")(reload.reload)
app.command("loadtest")(loadtest.loadtest)
app.command("capacity")(loadtest.capacity)
app.command("status")(status.status)
app.command("history")(status.history)
app.command("slo")(slo.slo)
app.command("incidents")(incidents.incidents)
app.add_typer(incidents.incident_app, name="incident")
app.add_typer(silence.silence_app, name="silence")
app.add_typer(notify.notify_app, name="notify")
app.add_typer(users.user_app, name="user")
app.add_typer(users.token_app, name="token")
app.add_typer(heartbeat.heartbeat_app, name="heartbeat")
app.add_typer(diagnose.diagnose_app, name="diagnose")
