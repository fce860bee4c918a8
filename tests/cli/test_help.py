"""``wk`` help reads well: value names a person would write, none for flags, and the root's
list of commands (drawn without importing them) says what each command's own help says."""

from __future__ import annotations

import re

import pytest
from typer.testing import CliRunner

from watchkeeper.cli.app import COMMANDS, app, load_command

# Typer's own labels: the Python type of the parameter (<bool>, <str>, <list[str]>, <path>)
_TYPE_LABEL = re.compile(r"<(?:bool|str|int|float|path|file|list\[[^\]]*\])>")


def _paths() -> list[tuple[str, ...]]:
    """Every command and subcommand, as the words that run it."""
    found: list[tuple[str, ...]] = [()]
    for name in COMMANDS:
        found.append((name,))
        found += [(name, sub) for sub in getattr(load_command(name), "commands", {})]
    return found


def _help(*words: str) -> str:
    result = CliRunner().invoke(app, [*words, "--help"], env={"COLUMNS": "200"})
    assert result.exit_code == 0, result.output
    return result.output


@pytest.mark.parametrize("words", _paths(), ids=lambda words: " ".join(words) or "wk")
def test_help_names_values_plainly_and_flags_not_at_all(words: tuple[str, ...]) -> None:
    text = _help(*words)

    assert not _TYPE_LABEL.search(text), text
    usage = next(line for line in text.splitlines() if "Usage:" in line)
    assert "{" not in usage, usage  # a required argument is NAME, an optional one [NAME]
    assert "--install-completion" not in text


def test_a_flag_has_no_value_name_and_an_option_has_one() -> None:
    text = _help("check")

    assert re.search(r"--json +Print JSON", text), text
    assert re.search(r"--monitor +-m +NAME ", text), text
    assert re.search(r"--config +-c +FILE ", text), text


@pytest.mark.parametrize("name", list(COMMANDS))
def test_the_root_help_says_what_the_command_says(name: str) -> None:
    command = load_command(name)
    own = " ".join((command.help or "").split("\n\n")[0].split())

    assert COMMANDS[name].summary == own


def test_the_root_help_lists_every_command_by_its_summary() -> None:
    text = " ".join(_help().split())

    for name, entry in COMMANDS.items():
        assert f"{name} {entry.summary.split()[0]}" in text
