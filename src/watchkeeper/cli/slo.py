"""``wk slo``: each SLO's error budget and burn rates, from the store (no server needed)."""

from __future__ import annotations

import json
import time
from typing import Any

from rich.table import Table
from rich.text import Text

from watchkeeper.analysis.slo import SPANS, span_name
from watchkeeper.cli.common import ConfigOption, JsonOption, console, load, open_store
from watchkeeper.config import DEFAULT_FILE
from watchkeeper.engine.slos import slo_rows


def slo(config: ConfigOption = DEFAULT_FILE, as_json: JsonOption = False) -> None:
    """Error budget left and burn rates of each SLO; exit 1 while one pages.

    Burn rates over 5m, 30m, 1h, 6h and 3d, read from the store (no server needed).
    """
    loaded = load(config)
    slos = [m for m in loaded.monitors if m.kind == "slo"]
    now = time.time()
    store = open_store(loaded, existing=True)
    try:
        rows = slo_rows(store, slos, now)
    finally:
        store.close()
    paging = any(row["alert"] == "page" for row in rows)
    if as_json:
        print(json.dumps(rows, indent=2))
    elif not rows:
        console.print("no SLOs: add them under slos: (wk init shows an example)")
    else:
        _table(rows)
    if paging:
        raise SystemExit(1)


def _table(rows: list[dict[str, Any]]) -> None:
    table = Table(box=None, pad_edge=False, header_style="bold")
    for column in (
        "slo",
        "objective",
        "sli",
        "budget left",
        *(f"burn {span_name(s)}" for s in SPANS),
        "alert",
    ):
        table.add_column(
            column, no_wrap=True, justify="left" if column in ("slo", "alert") else "right"
        )
    for row in rows:
        objective = f"{row['objective_pct']:g}% / {row['window']}"
        if row["latency_ms"] is not None:
            objective += f" ≤{row['latency_ms']:g}ms"
        left = row["budget_remaining_pct"]
        table.add_row(
            Text(row["slo"]),
            objective,
            "-" if row["sli_pct"] is None else f"{row['sli_pct']:.3f}%",
            Text(
                "-" if left is None else f"{left:.1f}%",
                style="red" if left is not None and left < 25 else "",
            ),
            *(
                Text(f"{rate:.2f}×", style="red" if rate > 1 else "")
                for rate in row["burn"].values()
            ),
            Text(
                row["alert"] or "ok",
                style="bold red"
                if row["alert"] == "page"
                else ("yellow" if row["alert"] else "green"),
            ),
        )
    console.print(table)
    for row in rows:
        if row["reason"]:
            console.print(Text(f"{row['slo']}: {row['reason']}", style="red"))
