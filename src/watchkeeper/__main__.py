"""``python -m watchkeeper`` is ``wk``."""

from __future__ import annotations

from watchkeeper.cli import main

main()
