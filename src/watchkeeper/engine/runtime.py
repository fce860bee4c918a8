"""Process-wide settings for a long-running engine (``wk up``), applied once it has loaded.

Not done by the Engine itself: they change the whole interpreter, which a library (or a test
suite building many engines) must not do behind its caller's back.
"""

from __future__ import annotations

import gc


def tune_for_long_run() -> None:
    """Config, compiled expectations and statuses live as long as the process: move them out
    of the collector's sight so full collections stay cheap at 10,000 monitors. Checks in
    flight hold a few hundred objects each, which kept the default young-generation
    threshold (700) collecting ~100 times a second for nothing (~6 % of the CPU per check in
    bench/engine_overhead.py); cycles are still collected."""
    gc.collect()
    gc.freeze()
    gc.set_threshold(10_000, 10, 10)
