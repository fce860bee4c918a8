"""``engine: {browser: {...}}``: the options of the pool the ``browser`` monitors share (a
leaf: loading a config imports this, not the pool)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from watchkeeper.units import Size


class BrowserOptions(BaseModel):
    """``engine: {browser: {...}}``: the pool the ``browser`` monitors share."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    executable: str | None = None
    """Chromium's path; default: $WATCHKEEPER_CHROMIUM, then /usr/bin/chromium and kin."""
    concurrency: int = Field(2, ge=1, le=64)
    """Journeys (each in a browser of its own) at once."""
    restart_after: int = Field(50, ge=1, le=100_000)
    """Journeys a browser runs before it is started afresh."""
    memory: Size = Field(1024**3, ge=64 * 1024**2)
    """A browser whose processes hold more (RSS) is started afresh after its journey."""
    sandbox: bool | None = None
    """Chromium's sandbox; default: on, except as root (where Chromium refuses it)."""
