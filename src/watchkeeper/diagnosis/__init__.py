"""``wk diagnose``: what changed and why — the monitors' drift and latency phases from the
store, and the advisors' findings for databases, caches and the host, ranked."""

from watchkeeper.diagnosis.monitors import Window
from watchkeeper.diagnosis.run import (
    Diagnosis,
    Request,
    Target,
    diagnosable,
    diagnose,
    targets_of,
)

__all__ = [
    "Diagnosis",
    "Request",
    "Target",
    "Window",
    "diagnosable",
    "diagnose",
    "targets_of",
]
