"""Raw results column by column: what reads of both tiers gather rows and chunks into.

:class:`Raw` holds checks as plain lists (reading a Result or a state needs no numpy: ``wk
status`` does not load it), and hands out numpy arrays to what computes on them (rollups,
summaries); :class:`Gather` collects ``results`` rows and decoded chunks, then makes one Raw.
A phase reads as ``nanoseconds / 1e9`` seconds, and ``seconds * 1000.0`` milliseconds, the
same arithmetic in Python and numpy, so every path gives the same floats.
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from watchkeeper.model import Result
from watchkeeper.store import chunks, codec, schema
from watchkeeper.store.chunks import Texts

if TYPE_CHECKING:
    import numpy as np
    import numpy.typing as npt

    FloatArray = npt.NDArray[np.float64]

_NO_TEXTS: Texts = (None, [], [])


@dataclass(slots=True)
class Raw:
    """Checks of one or more monitors, column by column, sorted by monitor, time and write
    order."""

    monitor_id: list[int]
    ts: list[float]
    ok: list[bool]
    phases: list[list[int | None]]
    """One column per phase in :data:`chunks.PHASES` order, whole nanoseconds."""
    status: list[int | None]
    texts: list[Texts] | None
    metrics: list[dict[str, float]] | None

    def __len__(self) -> int:
        return len(self.ts)

    def take(self, positions: Sequence[int]) -> Raw:
        return Raw(
            monitor_id=[self.monitor_id[i] for i in positions],
            ts=[self.ts[i] for i in positions],
            ok=[self.ok[i] for i in positions],
            phases=[[column[i] for i in positions] for column in self.phases],
            status=[self.status[i] for i in positions],
            texts=None if self.texts is None else [self.texts[i] for i in positions],
            metrics=None if self.metrics is None else [self.metrics[i] for i in positions],
        )

    def milliseconds_of(self, index: int) -> list[float | None]:
        """Phase ``index`` (of :data:`chunks.PHASES`) of each check in milliseconds."""
        return [None if v is None else v / 1e9 * 1000.0 for v in self.phases[index]]

    def milliseconds(self) -> FloatArray:
        """``(n, 6)`` phases in milliseconds (what rollups and charts count in), NaN where not
        applicable."""
        import numpy as np

        count = len(self)
        nanoseconds = np.array(
            [[0 if v is None else v for v in column] for column in self.phases], dtype=np.int64
        ).T.reshape(count, len(chunks.PHASES))
        present = np.array(
            [[v is not None for v in column] for column in self.phases], dtype=np.bool_
        ).T.reshape(count, len(chunks.PHASES))
        out: FloatArray = nanoseconds / 1e9 * 1000.0
        out[~present] = np.nan
        return out

    def matrix(self) -> FloatArray:
        """One row per check: the ``aggregate.RAW_COLUMNS`` (monitor, time, ok, then the
        rolled-up phases in milliseconds), what rollups are computed from."""
        import numpy as np

        rolled = len(schema.ROLLUP_PHASES)
        assert chunks.PHASES[:rolled] == schema.ROLLUP_PHASES
        return np.column_stack(
            [
                np.array(self.monitor_id, dtype=np.float64),
                np.array(self.ts, dtype=np.float64),
                np.array(self.ok, dtype=np.float64),
                self.milliseconds()[:, :rolled],
            ]
        )

    def results(self, monitor: str, kind: str) -> list[Result]:
        """The checks as Results (read with ``texts``)."""
        texts = self.texts or [_NO_TEXTS] * len(self)
        return [
            codec.result_from(
                monitor,
                kind,
                ts,
                ok,
                status,
                [None if v is None else v / 1e9 for v in phases],
                text,
            )
            for ts, ok, status, text, *phases in zip(
                self.ts, self.ok, self.status, texts, *self.phases, strict=True
            )
        ]


class Gather:
    """Checks gathered from rows and chunks, column by column, then made a Raw once."""

    def __init__(self, texts: bool, metrics: bool | str) -> None:
        self.texts, self.metrics = texts, metrics
        self.monitor_id: list[int] = []
        self.ts: list[float] = []
        self.ok: list[bool] = []
        self.status: list[int | None] = []
        self.phases: list[list[int | None]] = [[] for _ in chunks.PHASES]
        self.text_rows: list[Texts] = []
        self.series: list[dict[str, float]] = []

    def add_hot(self, rows: Sequence[Any]) -> None:
        """``results`` rows as ``raw`` selects them: tier, id, monitor id, time, ok, status,
        the six phases (ms), then (when asked for) error, failures and warnings, then
        series."""
        if not rows:
            return
        columns = list(zip(*rows, strict=True))
        self.monitor_id += [int(value) for value in columns[2]]
        self.ts += [float(value) for value in columns[3]]
        self.ok += [bool(value) for value in columns[4]]
        self.status += [None if value is None else int(value) for value in columns[5]]
        for index, column in enumerate(columns[6:12]):
            self.phases[index] += [codec.nanoseconds(value) for value in column]
        at = 12
        if self.texts:
            self.text_rows += [
                (
                    error,
                    json.loads(failures) if failures else [],
                    json.loads(warnings) if warnings else [],
                )
                for error, failures, warnings in zip(*columns[at : at + 3], strict=True)
            ]
            at += 3
        if self.metrics is not False:
            self.series += [_series(text, self.metrics) for text in columns[at]]

    def add_chunk(
        self,
        monitor_id: int,
        data: bytes,
        since: float | None,
        until: float | None,
        failed_only: bool,
    ) -> None:
        """The checks of a chunk in ``[since, until)`` (only the failed ones)."""
        columns = chunks.decode(bytes(data), texts=self.texts, metrics=self.metrics)
        ts = columns.ts
        keep = None
        if (since is not None and ts[0] < since) or (until is not None and ts[-1] >= until):
            low = -math.inf if since is None else since
            high = math.inf if until is None else until
            keep = [i for i, t in enumerate(ts) if low <= t < high]
        if failed_only:
            keep = [i for i in (keep if keep is not None else range(len(ts))) if not columns.ok[i]]
        if keep is None:
            self._extend(monitor_id, columns)
        elif keep:
            self._extend(monitor_id, _pick(columns, keep))

    def _extend(self, monitor_id: int, columns: chunks.Columns) -> None:
        self.monitor_id += [monitor_id] * len(columns.ts)
        self.ts += columns.ts
        self.ok += columns.ok
        self.status += columns.status
        for index, column in enumerate(columns.phases):
            self.phases[index] += column
        if columns.texts is not None:
            self.text_rows += columns.texts
        if columns.metrics is not None:
            self.series += columns.metrics

    def build(self) -> Raw:
        return Raw(
            monitor_id=self.monitor_id,
            ts=self.ts,
            ok=self.ok,
            phases=self.phases,
            status=self.status,
            texts=self.text_rows if self.texts else None,
            metrics=None if self.metrics is False else self.series,
        )


def _pick(columns: chunks.Columns, keep: list[int]) -> chunks.Columns:
    return chunks.Columns(
        ts=[columns.ts[i] for i in keep],
        ok=[columns.ok[i] for i in keep],
        status=[columns.status[i] for i in keep],
        phases=[[column[i] for i in keep] for column in columns.phases],
        texts=None if columns.texts is None else [columns.texts[i] for i in keep],
        metrics=None if columns.metrics is None else [columns.metrics[i] for i in keep],
    )


def _series(text: str | None, metrics: bool | str) -> dict[str, float]:
    if not text:
        return {}
    found: dict[str, float] = json.loads(text, parse_int=float)
    if metrics is True:
        return found
    return {metrics: found[metrics]} if metrics in found else {}


def empty(texts: bool, metrics: bool | str) -> Raw:
    return Gather(texts, metrics).build()
