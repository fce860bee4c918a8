"""A pytest plugin for ``bench/mutation.py`` runs only: property tests draw at most
``MAX_EXAMPLES`` examples, the same ones every run.

A mutant that survives runs every test that reaches its function, and the property tests
(a thousand parser inputs, five hundred bodies) would cost most of a minute per mutant. Fewer
examples keep an area's run to minutes; derandomised, a mutant is killed or not the same way
on every run, so a score moves only when the code or the tests do.
"""

from __future__ import annotations

import pytest
from hypothesis import settings

MAX_EXAMPLES = 10


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        test = getattr(item, "obj", None)
        chosen = getattr(test, "_hypothesis_internal_use_settings", None)
        if chosen is None:
            continue
        test._hypothesis_internal_use_settings = settings(  # type: ignore[union-attr]
            chosen,
            max_examples=min(chosen.max_examples, MAX_EXAMPLES),
            derandomize=True,
            database=None,
        )
