"""The ``wk`` command: a table of commands, each module imported only when its command runs.

Every command used to be imported up front, so ``wk --help`` paid for FastAPI, SQLAlchemy,
aiohttp and numpy before printing a line. Here the root group knows each command by name,
module and one-line summary; ``wk validate`` imports ``cli.validate`` and nothing else of the
CLI, and the root help is drawn from the summaries (tests/cli checks they match the commands).
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any, NamedTuple

import typer
import typer.main
from typer.core import TyperCommand, TyperGroup

from watchkeeper import __version__
from watchkeeper.cli.help import tidy, tidy_params

if TYPE_CHECKING:
    from typer._click import Command, Context, HelpFormatter, Parameter


class Entry(NamedTuple):
    """One command: ``target`` is ``module:attribute``, a function or a ``typer.Typer``."""

    target: str
    summary: str


COMMANDS: dict[str, Entry] = {
    "init": Entry(
        "watchkeeper.cli.init:init", "Write a commented example watchkeeper.yaml to start from."
    ),
    "validate": Entry(
        "watchkeeper.cli.validate:validate",
        "Check a config file: syntax, keys, durations, expectations, references.",
    ),
    "check": Entry(
        "watchkeeper.cli.check:check",
        "Run every monitor once now and print the results (those defined through the API too; "
        "heartbeats are judged on the pings wk up stored).",
    ),
    "up": Entry(
        "watchkeeper.cli.up:up",
        "Run the engine and the web server until interrupted. SIGHUP (or wk reload) applies a "
        "changed config file without a restart.",
    ),
    "reload": Entry(
        "watchkeeper.cli.reload:reload",
        "Reload the config of the running wk up (like SIGHUP) and print what changed.",
    ),
    "loadtest": Entry(
        "watchkeeper.cli.loadtest:loadtest",
        "Load-test TARGET: open model by default, latency from each request's intended time.",
    ),
    "capacity": Entry(
        "watchkeeper.cli.loadtest:capacity",
        "Find the highest rate that holds the SLO, how it scales, and a plan for the peak.",
    ),
    "status": Entry(
        "watchkeeper.cli.status:status",
        "Show each monitor's state, last latency and since when (the config's, then those "
        "defined through the API, and any stored definition that is broken and not watched).",
    ),
    "history": Entry(
        "watchkeeper.cli.status:history",
        "Uptime, latency percentiles, state changes and recent failures of one monitor (of the "
        "config, or defined through the API).",
    ),
    "slo": Entry(
        "watchkeeper.cli.slo:slo",
        "Error budget left and burn rates of each SLO; exit 1 while one pages.",
    ),
    "incidents": Entry("watchkeeper.cli.incidents:incidents", "List incidents, newest first."),
    "incident": Entry(
        "watchkeeper.cli.incidents:incident_app", "One incident: show, acknowledge, export."
    ),
    "silence": Entry(
        "watchkeeper.cli.silence:silence_app", "Hold notifications while you work on something."
    ),
    "notify": Entry("watchkeeper.cli.notify:notify_app", "Notification routes."),
    "user": Entry("watchkeeper.cli.users:user_app", "People who may log in to the dashboard."),
    "token": Entry("watchkeeper.cli.users:token_app", "API tokens for scripts and Prometheus."),
    "heartbeat": Entry(
        "watchkeeper.cli.heartbeat:heartbeat_app", "Heartbeat monitors (cron jobs that ping)."
    ),
    "diagnose": Entry(
        "watchkeeper.cli.diagnose:diagnose_app",
        "Why is it getting slower? Drift, latency phases, Postgres/Redis/host advisors.",
    ),
    "assess": Entry(
        "watchkeeper.cli.assess:assess",
        "Assess it all and rank what to do first: status, SLOs, diagnosis, audit, backups, "
        "capacity and cost.",
    ),
    "profile": Entry(
        "watchkeeper.cli.profile:profile",
        "Profile a Python process with py-spy: a flame graph, a speedscope file, the top "
        "functions.",
    ),
    "audit": Entry(
        "watchkeeper.cli.audit:audit",
        "Audit sites: Observatory grade, TLS, exposure and delivery, each problem with its fix.",
    ),
    "nodes": Entry(
        "watchkeeper.cli.nodes:nodes",
        "Show the nodes sharing a PostgreSQL store, and the agents of every location.",
    ),
    "agent": Entry(
        "watchkeeper.cli.agent:agent",
        "Check the monitors a node assigns to this location and push the results to it.",
    ),
    "project": Entry(
        "watchkeeper.cli.projects:project_app", "Error-tracking projects and their Sentry DSNs."
    ),
    "errors": Entry(
        "watchkeeper.cli.issues:errors",
        "List error issues, the most recently seen first: title, where, events, users, last "
        "seen, status.",
    ),
    "cost": Entry(
        "watchkeeper.cli.cost:cost_app",
        "What do the machines cost, and what could they? Right-sizing, idle machines, growth.",
    ),
    "activity": Entry(
        "watchkeeper.cli.activity:activity",
        "Show the activity log, newest first: who changed what, when and from where.",
    ),
    "evidence": Entry(
        "watchkeeper.cli.evidence:evidence",
        "Bundle compliance evidence for a period into one zip file with an index page.",
    ),
    "drill": Entry(
        "watchkeeper.cli.drill:drill",
        "Restore a backup into a scratch target, verify it and remove it (or show the drills "
        "on record).",
    ),
    "chaos": Entry(
        "watchkeeper.cli.chaos:chaos_app",
        "Fault injection and chaos experiments: TCP proxies that add latency, resets and "
        "other faults, and experiments that check the monitors' steady state holds under them.",
    ),
}


def load_command(name: str) -> Command:
    """Import the module of command ``name`` and build its click command."""
    module_name, _, attribute = COMMANDS[name].target.partition(":")
    target = getattr(importlib.import_module(module_name), attribute)
    if isinstance(target, typer.Typer):
        command: Command = typer.main.get_group(target)
    else:
        holder = typer.Typer(add_completion=False)
        holder.command(name)(target)
        command = typer.main.get_command(holder)
    command.name = name
    return command


class _Placeholder(TyperCommand):
    """What the root help lists for a command not imported: its name and summary."""


class LazyGroup(TyperGroup):
    """The root group: holds a placeholder per command (so typos still get suggestions) and
    swaps in the real command the first time it is resolved."""

    def __init__(self, **attrs: Any) -> None:
        super().__init__(**attrs)
        self._listing = False
        for name, entry in COMMANDS.items():
            self.commands.setdefault(name, _Placeholder(name, help=entry.summary))

    def get_command(self, ctx: Context, cmd_name: str) -> Command | None:
        command = self.commands.get(cmd_name)
        if isinstance(command, _Placeholder) and not self._listing:
            command = self.commands[cmd_name] = tidy(load_command(cmd_name), ctx)
        return command

    def get_params(self, ctx: Context) -> list[Parameter]:
        return tidy_params(super().get_params(ctx), ctx)

    def format_help(self, ctx: Context, formatter: HelpFormatter) -> None:
        self._listing = True  # the list of commands reads their summaries, not their modules
        try:
            super().format_help(ctx, formatter)
        finally:
            self._listing = False


app = typer.Typer(
    name="wk",
    cls=LazyGroup,
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
