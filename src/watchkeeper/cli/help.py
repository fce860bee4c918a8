"""Readable help: value names like ``TEXT``, ``DURATION`` or ``[text|json]``, none for flags.

Typer labels every parameter with its Python type (``--json <bool>``, ``--rate <str>``,
``--header <list[str]>``) and writes a required argument as ``{TARGET}``. ``tidy`` walks a
built command once and gives each option its metavar (the one its module chose, else one made
from the type) and each argument the plain ``NAME`` / ``[NAME]`` form, upper case.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, TypeVar

from typer.core import TyperArgument, TyperGroup, TyperOption

if TYPE_CHECKING:
    from typer._click import Command, Context, Parameter

C = TypeVar("C", bound="Command")

_NAMES = {"str": "TEXT", "int": "INTEGER", "float": "NUMBER", "path": "PATH", "file": "FILE"}


class _Argument(TyperArgument):
    """An argument shown by its name alone: the name says what it is, a type adds nothing."""

    def display_type_rich(self, ctx: Context) -> str | None:
        return None

    def _usage_display_name(self) -> str:
        name = self.display_name_raw if self.required else f"[{self.display_name_raw}]"
        return name + ("..." if self.nargs != 1 else "")


def tidy(command: C, ctx: Context) -> C:
    """Give ``command``'s parameters (and its subcommands', for a group) readable names."""
    tidy_params(command.get_params(ctx), ctx)  # get_params also makes the --help option
    if command.help:
        command.help = reflow(command.help)
    if isinstance(command, TyperGroup):
        for sub in command.commands.values():
            tidy(sub, ctx)
    return command


def tidy_params(params: list[Parameter], ctx: Context) -> list[Parameter]:
    for param in params:
        if isinstance(param, TyperOption) and param.metavar is None:
            param.metavar = "" if param.is_flag or param.count else _value_name(param, ctx)
        elif isinstance(param, TyperArgument) and not isinstance(param, _Argument):
            param.__class__ = _Argument
            if param.metavar is None and param.name:
                param.metavar = param.name.upper()
    return params


def _value_name(option: TyperOption, ctx: Context) -> str:
    """``TEXT``, ``INTEGER``, ``PATH``, ``[a|b]`` from Typer's ``<str>``, ``<list[int]>``,
    ``<a|b>``; a repeatable option says so in its help."""
    label = option.display_type(ctx).strip("<>")
    if label.startswith("list[") and label.endswith("]"):
        label = label[5:-1]
    if "|" in label:
        return f"[{label}]"
    return _NAMES.get(label, label.upper() or "VALUE")


def reflow(text: str) -> str:
    """Join the lines of each prose paragraph of a docstring, so that the terminal, not the
    source file's line length, decides where help lines break (Rich keeps single newlines).
    A paragraph with an indented or bulleted line (an example, a list) is kept as written."""
    paragraphs = []
    for paragraph in text.strip().split("\n\n"):
        lines = paragraph.splitlines()
        if any(line.startswith((" ", "\t", "- ", "* ")) for line in lines[1:]):
            paragraphs.append(paragraph)
        else:
            paragraphs.append(" ".join(line.strip() for line in lines))
    return "\n\n".join(paragraphs)
