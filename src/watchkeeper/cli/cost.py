"""``wk cost``: what the machines cost and what they could — right-sizing from the stored
series against the price catalog, idle machines, databases and caches far above their
working set; ``wk cost growth`` prices a traffic multiple from a ``wk capacity`` result;
``wk cost catalog`` shows and refreshes the prices."""

from __future__ import annotations

import asyncio
import datetime as dt
import html
import json
import os
import time
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from watchkeeper.cli.common import (
    EXIT_FAILED,
    EXIT_OK,
    EXIT_USAGE,
    ConfigOption,
    Format,
    JsonOption,
    OutputOption,
    console,
    errors,
    fail,
    load,
    open_store,
)
from watchkeeper.config import DEFAULT_FILE
from watchkeeper.units import format_duration, parse_duration, plural

if TYPE_CHECKING:
    from watchkeeper.cost.catalog import Catalog
    from watchkeeper.cost.growth import GrowthPlan
    from watchkeeper.cost.report import CostReport

cost_app = typer.Typer(invoke_without_command=True)
catalog_app = typer.Typer(invoke_without_command=True)
cost_app.add_typer(catalog_app, name="catalog")


@cost_app.callback()
def cost(
    ctx: typer.Context,
    config: ConfigOption = DEFAULT_FILE,
    lookback: Annotated[
        str, typer.Option(metavar="DURATION", help="How much history to size from.")
    ] = "14d",
    output_format: Annotated[Format, typer.Option("--format", help="How to print.")] = (
        Format.text
    ),
    output: OutputOption = None,
) -> None:
    """What do the machines cost, and what could they? Right-sizing, idle machines, growth.

    Every monitor with instance: {provider, type} or cost: N/month is priced (from the price
    catalog, see wk cost catalog) and judged on the series wk up stored over --lookback:
    host monitors' CPU and memory, node_exporter's through prometheus monitors, a
    PostgreSQL database's size and Redis's used memory. A new size must run the CPU p95 at
    65 % or less and the memory p99 at 80 % or less; it is the cheapest of the same provider
    that does. Less than 3 days of data gives no advice. Exit 0 when there is nothing to act
    on, 1 when there is a saving or a risk, 2 on bad input.
    """
    if ctx.invoked_subcommand is not None:
        return
    seconds = _duration(lookback, "--lookback")
    loaded = load(config)
    from watchkeeper.cost.catalog import CatalogError
    from watchkeeper.cost.report import analyse

    store = open_store(loaded, existing=True)
    now = time.time()
    try:
        found = asyncio.run(analyse(loaded, store, lookback=seconds, now=now))
    except CatalogError as exc:
        fail(f"the price catalog is unusable: {exc}")
    finally:
        store.close()
    _emit(found, output_format, output, now)
    if found.errors:
        raise typer.Exit(EXIT_USAGE)
    raise typer.Exit(EXIT_FAILED if found.actionable else EXIT_OK)


def _duration(text: str, option: str) -> float:
    try:
        seconds = parse_duration(text)
    except ValueError as exc:
        fail(f"{option}: {exc}")
    if seconds <= 0:
        fail(f"{option}: must be above zero, not {format_duration(seconds)}")
    return seconds


def _emit(found: CostReport, output_format: Format, output: Path | None, now: float) -> None:
    from watchkeeper.report import cost as shown
    from watchkeeper.report import findings as render

    if output_format is Format.text and output is None:
        render.print_text(console, found.findings, found.errors, found.looked_at, title="wk cost")
        for line in shown.summary_lines(found.summary):
            console.print(line, markup=False, style="bold")
        if not found.summary.get("machines"):
            console.print(
                "no monitor says what its machine costs: give host or prometheus monitors "
                "instance: {provider, type} or cost: N/month",
                markup=False,
            )
        return
    for error in found.errors if output_format is not Format.text else ():
        errors.print(f"cannot look at {error}", markup=False)
    if output_format is Format.json:
        text = json.dumps(found.as_json(), indent=2) + "\n"
    elif output_format is Format.md:
        text = render.markdown(
            found.findings,
            found.errors,
            found.looked_at,
            title="wk cost",
            before=shown.summary_markdown(found.summary),
        )
    elif output_format is Format.html:
        text = render.html_report(
            found.findings,
            found.errors,
            found.looked_at,
            generated=now,
            title="wk cost",
            before=shown.summary_html(found.summary),
        )
    else:
        text = _plain(found)
    _write(text, output, f"{plural(len(found.findings), 'finding')} written to {output}")


def _plain(found: CostReport) -> str:
    from io import StringIO

    from rich.console import Console

    from watchkeeper.report import cost as shown
    from watchkeeper.report import findings as render

    buffer = StringIO()
    render.print_text(
        Console(file=buffer, width=120, highlight=False, soft_wrap=True),
        found.findings,
        found.errors,
        found.looked_at,
        title="wk cost",
    )
    return buffer.getvalue() + "".join(f"{line}\n" for line in shown.summary_lines(found.summary))


def _write(text: str, output: Path | None, said: str) -> None:
    if output is None:
        print(text, end="")
        return
    try:
        output.write_text(text, encoding="utf-8")
    except OSError as exc:
        fail(f"{output}: cannot write ({exc.strerror})")
    console.print(said, markup=False)


@cost_app.command("growth")
def growth(
    capacity: Annotated[
        Path,
        typer.Option("--capacity", metavar="RESULT.json", help="What wk capacity --json wrote."),
    ],
    rate: Annotated[str, typer.Option("--rate", metavar="RATE", help="Today's peak, e.g. 120/s.")],
    instance: Annotated[
        str | None,
        typer.Option(
            "--instance", metavar="PROVIDER/TYPE", help="What one instance is (aws/m6i.large)."
        ),
    ] = None,
    price: Annotated[
        str | None,
        typer.Option("--cost", metavar="AMOUNT", help="What one instance costs (84/month)."),
    ] = None,
    multiple: Annotated[
        list[float] | None,
        typer.Option("--growth", metavar="N", help="Another traffic multiple (repeatable)."),
    ] = None,
    linear: Annotated[
        bool, typer.Option("--linear", help="Assume instances share nothing (ignore the USL).")
    ] = False,
    config: ConfigOption = DEFAULT_FILE,
    output_format: Annotated[Format, typer.Option("--format", help="How to print.")] = (
        Format.text
    ),
    output: OutputOption = None,
) -> None:
    """Instances and monthly cost at 1×, 2× and 10× today's traffic (and --growth N).

    One instance is planned at the sustainable rate wk capacity measured × its 70 %
    utilisation ceiling. With a trusted USL fit in the result, instances add up as the USL
    says (its α and β stand in for what they share) and the table shows where adding one
    stops helping; --linear assumes they share nothing. Exit 0 when every multiple can be
    bought, 1 when one cannot (past the USL's peak), 2 on bad input.
    """
    from watchkeeper.config.models import monthly_cost
    from watchkeeper.cost import growth as model
    from watchkeeper.loadtest.plan import parse_rate

    try:
        current = parse_rate(rate)
        multiples = (*model.MULTIPLES, *(multiple or ()))
        if any(not m > 0 for m in multiples):
            raise ValueError("--growth must be above zero, e.g. --growth 3")
        result = model.read_capacity(capacity)
        scaling = model.scaling_of(result, linear=linear, shown=str(capacity))
        each: float | None = None
        if price is not None:
            amount = monthly_cost(price)
            assert isinstance(amount, float)
            each = amount
        label = None
        if instance is not None:
            label, listed = _instance_price(instance, config)
            each = listed if each is None else each
        found = model.plan(
            scaling, current, multiples=multiples, instance_cost=each, instance=label
        )
    except ValueError as exc:
        fail(str(exc))
    _emit_growth(found, output_format, output)
    raise typer.Exit(EXIT_FAILED if found.unreachable else EXIT_OK)


def _instance_price(text: str, config: str) -> tuple[str, float]:
    from watchkeeper.cost.catalog import current

    provider, slash, type_ = text.partition("/")
    if not slash:
        raise ValueError(f"--instance: '{text}' is not provider/type (e.g. aws/m6i.large)")
    prices = current(config if os.path.exists(config) else None)
    found = prices.find(provider.strip(), type_.strip())
    if found is None:
        raise ValueError(f"--instance: {text} is not in the price catalog ({prices.origin})")
    return found.label, found.monthly_usd


def _emit_growth(found: GrowthPlan, output_format: Format, output: Path | None) -> None:
    from watchkeeper.report import cost as shown

    lines = shown.growth_lines(found)
    if output_format is Format.json:
        text = json.dumps(found.as_json(), indent=2) + "\n"
    elif output_format is Format.md:
        text = "# wk cost growth\n\n```\n" + "\n".join(lines) + "\n```\n"
        text += "".join(f"\n- **{f.title}** {f.recommendation}\n" for f in found.findings)
    elif output_format is Format.html:
        from watchkeeper.report import findings as render

        before = f'<section class="card"><pre>{html.escape(chr(10).join(lines))}</pre></section>'
        text = render.html_report(
            found.findings,
            [],
            ["growth"],
            generated=time.time(),
            title="wk cost growth",
            before=before,
        )
    else:
        text = "\n".join(lines) + "\n"
        text += "".join(f"\n▲ {f.title}\n  → {f.recommendation}\n" for f in found.findings)
    _write(text, output, f"cost of growth written to {output}")


@catalog_app.callback()
def catalog(
    ctx: typer.Context,
    config: ConfigOption = DEFAULT_FILE,
    as_json: JsonOption = False,
) -> None:
    """Show the price catalog in use: where from, how old, what each provider has.

    The shipped catalog is dated; wk cost catalog update FILE.csv installs a refreshed one
    beside the config, which wk cost and wk validate read from then on.
    """
    if ctx.invoked_subcommand is not None:
        return
    from watchkeeper.cost.catalog import CatalogError, current

    try:
        prices = current(config if os.path.exists(config) else None)
    except CatalogError as exc:
        fail(f"the price catalog is unusable: {exc}")
    _show_catalog(prices, as_json)


def _show_catalog(prices: Catalog, as_json: bool) -> None:
    from watchkeeper.report import cost as shown

    age = (dt.datetime.now(dt.UTC).date() - prices.date).days
    if as_json:
        print(json.dumps(shown.catalog_json(prices, age), indent=2))
        return
    for line in shown.catalog_lines(prices, age):
        console.print(line, markup=False)


@catalog_app.command("update")
def update(
    source: Annotated[
        Path, typer.Argument(metavar="FILE.csv", help="The refreshed prices (same columns).")
    ],
    config: ConfigOption = DEFAULT_FILE,
) -> None:
    """Check a price CSV and install it beside the config: later runs use it.

    A bad row is one line (file:line) and exit 2, and the catalog in use stays as it was.
    """
    from watchkeeper.cost.catalog import CatalogError, install

    if not os.path.isfile(config):
        fail(f"no config at {config}: the catalog is installed beside it (give -c FILE)")
    try:
        installed = install(source, config)
    except CatalogError as exc:
        fail(str(exc))
    console.print(
        f"{plural(len(installed.prices), 'price')} of {', '.join(installed.providers())} "
        f"dated {installed.date.isoformat()} installed at {installed.origin}",
        markup=False,
    )
