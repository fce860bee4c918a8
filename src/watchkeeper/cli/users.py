"""``wk user add|list|passwd|remove`` and ``wk token create|list|revoke``: who may use the
dashboard and the API.

Passwords are asked for at a prompt (or read from stdin with ``--password-stdin``, for
scripts) and stored as argon2id hashes; a token is printed once and stored as a hash.
"""

from __future__ import annotations

import getpass
import json
import sys
import time
from collections.abc import Callable
from typing import Annotated, Any, TypeVar

import typer
from rich.table import Table

from watchkeeper.activity import record_cli
from watchkeeper.auth import AGENT_SCOPE, ROLES, SCOPES, Auth, AuthError
from watchkeeper.cli.common import ConfigOption, JsonOption, console, fail, load, open_store
from watchkeeper.config import DEFAULT_FILE, LOCAL, Config
from watchkeeper.config.models import location_problem
from watchkeeper.units import format_duration

user_app = typer.Typer(help="People who may log in to the dashboard.", no_args_is_help=True)
token_app = typer.Typer(help="API tokens for scripts and Prometheus.", no_args_is_help=True)

PasswordStdin = Annotated[
    bool,
    typer.Option("--password-stdin", help="Read the password from stdin instead of a prompt."),
]
T = TypeVar("T")


def _with_auth(
    config: str,
    action: Callable[[Auth], T],
    activity: tuple[str, str, dict[str, Any]] | None = None,
) -> T:
    """Run ``action``; a write names its ``activity`` (verb, subject, detail) for the log."""
    return _with_store_auth(load(config), action, activity)


def _with_store_auth(
    config: Config,
    action: Callable[[Auth], T],
    activity: tuple[str, str, dict[str, Any]] | None = None,
) -> T:
    store = open_store(config)  # writes: creates and migrates the store if needed
    try:
        done = action(Auth(store))
        if activity is not None:
            record_cli(store, activity[0], activity[1], detail=activity[2])
        return done
    except AuthError as exc:
        if activity is not None:
            verb, subject, detail = activity
            record_cli(store, verb, subject, detail={**detail, "error": str(exc)}, outcome="failed")
        fail(str(exc))
    finally:
        store.close()


def _password(from_stdin: bool) -> str:
    if from_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
    else:
        if not sys.stdin.isatty():
            fail("no terminal to ask for a password: use --password-stdin")
        password = getpass.getpass("Password: ")
        if getpass.getpass("Again: ") != password:
            fail("the passwords differ")
    if not password:
        fail("an empty password")
    return password


@user_app.command("add")
def add_user(
    name: Annotated[str, typer.Argument(metavar="NAME")],
    role: Annotated[
        str,
        typer.Option(
            "--role",
            "-r",
            metavar="|".join(ROLES),
            help=f"{' or '.join(ROLES)}: admins change things",
        ),
    ] = "viewer",
    password_stdin: PasswordStdin = False,
    config: ConfigOption = DEFAULT_FILE,
) -> None:
    """Add a user (admin: reads and changes; viewer: reads)."""
    if role not in ROLES:
        fail(f"--role: unknown role '{role}': use {' or '.join(ROLES)}")
    password = _password(password_stdin)
    _with_auth(
        config,
        lambda auth: auth.add_user(name, password, role),
        ("user.create", name, {"role": role}),
    )
    console.print(f"added {role} '{name}'", markup=False)


@user_app.command("passwd")
def set_password(
    name: Annotated[str, typer.Argument(metavar="NAME")],
    password_stdin: PasswordStdin = False,
    config: ConfigOption = DEFAULT_FILE,
) -> None:
    """Set a user's password (their sessions end)."""
    password = _password(password_stdin)
    _with_auth(config, lambda auth: auth.set_password(name, password), ("user.password", name, {}))
    console.print(f"password of '{name}' changed; their sessions ended", markup=False)


@user_app.command("remove")
def remove_user(
    name: Annotated[str, typer.Argument(metavar="NAME")],
    config: ConfigOption = DEFAULT_FILE,
) -> None:
    """Remove a user (the last admin cannot be removed)."""
    _with_auth(config, lambda auth: auth.remove_user(name), ("user.delete", name, {}))
    console.print(f"removed '{name}'", markup=False)


@user_app.command("list")
def list_users(config: ConfigOption = DEFAULT_FILE, as_json: JsonOption = False) -> None:
    """Users and their roles."""
    users = _with_auth(config, lambda auth: auth.users())
    if as_json:
        print(
            json.dumps(
                [
                    {
                        "name": u.name,
                        "role": u.role,
                        "created_at": u.created_at,
                        "last_login_at": u.last_login_at,
                    }
                    for u in users
                ],
                indent=2,
            )
        )
        return
    table = Table("name", "role", "last login", box=None, pad_edge=False)
    now = time.time()
    for u in users:
        last = f"{format_duration(now - u.last_login_at)} ago" if u.last_login_at else "never"
        table.add_row(u.name, u.role, last)
    console.print(table)
    if not users:
        console.print("no users yet: wk user add NAME --role admin", markup=False)


@token_app.command("create")
def create_token(
    scope: Annotated[
        str,
        typer.Option(
            "--scope",
            "-s",
            metavar="read|write|agent",
            help="read, write, or agent (a probe's: with --location)",
        ),
    ] = "read",
    location: Annotated[
        str | None,
        typer.Option(
            "--location", "-l", metavar="LOCATION", help="The agent's location, e.g. eu-west."
        ),
    ] = None,
    name: Annotated[
        str | None,
        typer.Option("--name", "-n", metavar="NAME", help="What it is for, e.g. prometheus."),
    ] = None,
    config: ConfigOption = DEFAULT_FILE,
    as_json: JsonOption = False,
) -> None:
    """Create an API token; it is printed once (only its hash is kept)."""
    if scope == "agent":
        if location is None:
            fail("--scope agent needs --location, e.g. --location eu-west")
        problem = location_problem(location) if location != LOCAL else "'local' is the nodes"
        if problem is not None:
            fail(f"--location: {problem}")
        scope = f"{AGENT_SCOPE}{location}"
    elif location is not None:
        fail("--location is for --scope agent")
    elif scope not in SCOPES:
        fail(f"--scope: unknown scope '{scope}': use read, write or agent")
    label = name or f"{scope}-{time.strftime('%Y%m%d-%H%M%S')}"
    token_id, token = issue_token(load(config), label, scope)
    if as_json:
        print(json.dumps({"id": token_id, "name": label, "scope": scope, "token": token}))
        return
    console.print(
        f"token #{token_id} '{label}' ({scope}); shown this once, keep it safe:", markup=False
    )
    print(token)
    console.print(f"use it as: Authorization: Bearer {token[:12]}…", markup=False)


def issue_token(config: Config, label: str, scope: str) -> tuple[int, str]:
    """Make a token of a valid ``scope`` in the config's store and log it as this Unix
    user's; (id, token). What ``wk token create`` does once it has checked its options (the
    tests' helpers call it in-process rather than start a second ``wk``)."""
    return _with_store_auth(
        config,
        lambda auth: auth.create_token(label, scope, by=getpass.getuser()),
        ("token.create", label, {"scope": scope}),
    )


@token_app.command("list")
def list_tokens(config: ConfigOption = DEFAULT_FILE, as_json: JsonOption = False) -> None:
    """API tokens (never the tokens themselves: only how they start)."""
    tokens = _with_auth(config, lambda auth: auth.tokens())
    if as_json:
        print(
            json.dumps(
                [
                    {
                        "id": t.id,
                        "name": t.name,
                        "prefix": t.prefix,
                        "scope": t.scope,
                        "created_by": t.created_by,
                        "created_at": t.created_at,
                        "last_used_at": t.last_used_at,
                        "revoked": t.revoked_at is not None,
                    }
                    for t in tokens
                ],
                indent=2,
            )
        )
        return
    table = Table("id", "name", "starts", "scope", "last used", "state", box=None, pad_edge=False)
    now = time.time()
    for t in tokens:
        used = f"{format_duration(now - t.last_used_at)} ago" if t.last_used_at else "never"
        table.add_row(
            str(t.id), t.name, t.prefix + "…", t.scope, used, "revoked" if t.revoked_at else "live"
        )
    console.print(table)


@token_app.command("revoke")
def revoke_token(
    token_id: Annotated[int, typer.Argument(metavar="ID")],
    config: ConfigOption = DEFAULT_FILE,
) -> None:
    """Revoke a token (a running wk up stops accepting it within 10 seconds)."""
    _with_auth(
        config, lambda auth: auth.revoke_token(token_id), ("token.revoke", str(token_id), {})
    )
    console.print(f"token #{token_id} revoked", markup=False)
