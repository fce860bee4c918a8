"""Raw results column by column: what reads of both tiers gather rows and chunks into.

:class:`Raw` holds checks as numpy columns (what rollups and charts compute on) plus the
per-check status, texts and series; :class:`Gather` collects ``results`` rows and decoded
chunks as plain lists and makes one Raw of them at the end (numpy once, not per chunk).
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from watchkeeper.model import Result
from watchkeeper.store import chunks, codec, schema
from watchkeeper.store.chunks import Texts

IntArray = npt.NDArray[np.int64]
FloatArray = npt.NDArray[np.float64]
BoolArray = npt.NDArray[np.bool_]

_NO_TEXTS: Texts = (None, [], [])


@dataclass(slots=True)
class Raw:
    """Checks of one or more monitors, column by column, sorted by monitor, time and write
    order."""

    monitor_id: IntArray
    ts: FloatArray
    ok: BoolArray
    nanoseconds: IntArray
    """``(n, 6)``, phases in :data:`chunks.PHASES` order; 0 where not ``present``."""
    present: BoolArray
    status: list[int | None]
    texts: list[Texts] | None
    metrics: list[dict[str, float]] | None

    def __len__(self) -> int:
        return int(self.ts.shape[0])

    def seconds(self) -> FloatArray:
        """``(n, 6)`` phases in seconds, NaN where not applicable."""
        out: FloatArray = self.nanoseconds / 1e9
        out[~self.present] = np.nan
        return out

    def milliseconds(self) -> FloatArray:
        """``(n, 6)`` phases in milliseconds (what rollups and charts count in), NaN where not
        applicable."""
        out: FloatArray = self.seconds() * 1000.0
        return out

    def matrix(self) -> FloatArray:
        """One row per check: the ``aggregate.RAW_COLUMNS`` (monitor, time, ok, then the
        rolled-up phases in milliseconds), what rollups are computed from."""
        rolled = len(schema.ROLLUP_PHASES)
        assert chunks.PHASES[:rolled] == schema.ROLLUP_PHASES
        return np.column_stack(
            [
                self.monitor_id.astype(np.float64),
                self.ts,
                self.ok.astype(np.float64),
                self.milliseconds()[:, :rolled],
            ]
        )

    def take(self, index: IntArray | slice) -> Raw:
        positions = np.arange(len(self))[index]
        return Raw(
            monitor_id=self.monitor_id[positions],
            ts=self.ts[positions],
            ok=self.ok[positions],
            nanoseconds=self.nanoseconds[positions],
            present=self.present[positions],
            status=[self.status[i] for i in positions.tolist()],
            texts=None if self.texts is None else [self.texts[i] for i in positions.tolist()],
            metrics=None if self.metrics is None else [self.metrics[i] for i in positions.tolist()],
        )

    def results(self, monitor: str, kind: str) -> list[Result]:
        """The checks as Results (read with ``texts``)."""
        seconds = self.seconds().tolist()
        texts = self.texts or [_NO_TEXTS] * len(self)
        return [
            codec.result_from(
                monitor,
                kind,
                ts,
                ok,
                status,
                [None if value != value else value for value in phases],
                text,
            )
            for ts, ok, status, phases, text in zip(
                self.ts.tolist(), self.ok.tolist(), self.status, seconds, texts, strict=True
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
        self.monitor_id += columns[2]
        self.ts += columns[3]
        self.ok += [bool(value) for value in columns[4]]
        self.status += columns[5]
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
        count = len(self.ts)
        shape = (count, len(chunks.PHASES))
        present = np.array(
            [[value is not None for value in column] for column in self.phases], dtype=np.bool_
        ).T.reshape(shape)
        nanoseconds = np.array(
            [[0 if value is None else value for value in column] for column in self.phases],
            dtype=np.int64,
        ).T.reshape(shape)
        return Raw(
            monitor_id=np.array(self.monitor_id, dtype=np.int64),
            ts=np.array(self.ts, dtype=np.float64),
            ok=np.array(self.ok, dtype=np.bool_),
            nanoseconds=nanoseconds,
            present=present,
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
