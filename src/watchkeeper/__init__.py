"""Watchkeeper: a self-hosted infrastructure guardian.

The public surface is small on purpose: the version, the domain model and the error tree.
Everything else is reached through the ``wk`` command or its subpackages.
"""

from __future__ import annotations

from watchkeeper.errors import ConfigError, ExpectationError, StoreError, WatchkeeperError
from watchkeeper.model import Observation, Phases, Result, State

__version__ = "0.1.0"

__all__ = [
    "ConfigError",
    "ExpectationError",
    "Observation",
    "Phases",
    "Result",
    "State",
    "StoreError",
    "WatchkeeperError",
    "__version__",
]
