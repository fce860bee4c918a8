"""The web layer: API, /healthz (dashboard, status pages, /metrics and auth build on it)."""

from __future__ import annotations
