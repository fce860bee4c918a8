"""The browsers the ``browser`` checks run their journeys in: a bounded pool of Chromium
processes driven by Playwright, shared by every browser monitor of one engine run.

- At most ``concurrency`` journeys run at once, each in a browser of its own (a *slot*); the
  others wait for a slot, and that wait counts against their own timeout. Other kinds never
  wait for a browser: they do not touch the pool.
- Each journey gets a fresh browser context (no cookies, storage or cache from the last one)
  in a browser that is kept: starting Chromium costs ~0.5 s of CPU, a context ~20 ms.
- A browser is restarted after ``restart_after`` journeys, when it crashed or disconnected,
  when its process tree holds more than ``memory`` (RSS, checked after each journey), and
  when closing a journey's context does not finish in time (a wedged browser is killed).
- Chromium is the system's (Debian's ``chromium``), never downloaded: ``executable`` or the
  first of the usual paths.

Playwright is imported by the first journey, not by loading a config.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import shutil
import uuid
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING, Any

import psutil

from watchkeeper.checks._browser_options import BrowserOptions
from watchkeeper.lanes import CHECKS

if TYPE_CHECKING:
    from playwright.async_api import Browser, BrowserContext, Playwright

    from watchkeeper.checks.base import Resources

log = logging.getLogger("watchkeeper.checks.browser")

CANDIDATES = (
    "/usr/bin/chromium",
    "/usr/bin/chromium-browser",
    "/usr/bin/google-chrome",
    "/usr/bin/google-chrome-stable",
)
CLOSE_TIMEOUT = 5.0
ARGS = (
    "--disable-gpu",
    "--disable-dev-shm-usage",  # a container's /dev/shm is often 64 MiB
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-default-apps",
    "--disable-extensions",
    "--no-first-run",
    "--no-default-browser-check",
    "--mute-audio",
    "--metrics-recording-only",
)


class BrowserUnavailable(Exception):
    """No Chromium to run, or it would not start: one line for the Result."""


class BrowserBusy(BrowserUnavailable):
    """Every browser of the pool stayed busy for as long as the journey could wait."""


def find_executable(options: BrowserOptions) -> str:
    wanted = options.executable or os.environ.get("WATCHKEEPER_CHROMIUM")
    if wanted:
        found = shutil.which(wanted)
        if found is None:
            raise BrowserUnavailable(f"no browser at {wanted}")
        return found
    for candidate in CANDIDATES:
        if os.access(candidate, os.X_OK):
            return candidate
    raise BrowserUnavailable(
        "no Chromium found: install it (Debian: apt install chromium) or set "
        "engine.browser.executable"
    )


class Slot:
    """One browser process and what is known of it."""

    def __init__(self, number: int) -> None:
        self.number = number
        self.browser: Browser | None = None
        self.pid: int | None = None
        self.runs = 0
        self.marker = ""
        self.restarts = 0

    @property
    def alive(self) -> bool:
        return self.browser is not None and self.browser.is_connected()


class BrowserPool:
    def __init__(self, options: BrowserOptions | None = None) -> None:
        self.options = options or BrowserOptions()
        self._all = [Slot(number) for number in range(self.options.concurrency)]
        # last in, first out: the browser used last (or warmed) is the next one handed out,
        # so a warm browser is reused and the others stay unstarted until needed
        self._slots: asyncio.LifoQueue[Slot] = asyncio.LifoQueue()
        for slot in self._all:
            self._slots.put_nowait(slot)
        self._playwright: Playwright | None = None
        self._starting = asyncio.Lock()
        self.launched = 0
        """Browsers started so far (restarts included): for tests and /metrics."""

    async def warm(self) -> None:
        """Start the first browser now, so that no journey waits for it (when a free slot
        has none running yet)."""
        try:
            slot = self._slots.get_nowait()
        except asyncio.QueueEmpty:
            return  # every slot is in use: a journey has started one already
        try:
            if slot.browser is None:
                await self._ready(slot)
        finally:
            self._slots.put_nowait(slot)

    # -- using it --------------------------------------------------------------------------
    @contextlib.asynccontextmanager
    async def context(self, wait: float, **options: Any) -> AsyncIterator[BrowserContext]:
        """A fresh context in a pooled browser; waits up to ``wait`` seconds for a free one
        (then raises BrowserBusy)."""
        try:
            slot = await asyncio.wait_for(self._slots.get(), max(wait, 0.0))
        except TimeoutError:
            raise BrowserBusy(
                f"no browser free within {wait:.1f}s: {self.options.concurrency} journeys run "
                "at once (engine.browser.concurrency)"
            ) from None
        context: BrowserContext | None = None
        clean = False
        try:
            context = await self._new_context(slot, options)
            slot.runs += 1
            yield context
            clean = True
        finally:
            healthy = clean
            if context is not None and clean:
                try:
                    await asyncio.wait_for(context.close(), CLOSE_TIMEOUT)
                except Exception:  # wedged or gone: this browser is not trusted again
                    healthy = False
            if slot.browser is not None:
                # a journey cut short (its deadline, a crash) may have left the browser
                # wedged: it is killed at once, not waited for
                healthy = healthy and slot.alive and await self._fits(slot)
                if not healthy:
                    await self._retire(slot, kill_first=True)
                elif slot.runs >= self.options.restart_after:
                    await self._retire(slot)
            self._slots.put_nowait(slot)

    async def _new_context(self, slot: Slot, options: dict[str, Any]) -> BrowserContext:
        """A context in the slot's browser; a browser that died since (its process gone,
        or it cannot make a context) is replaced once."""
        for attempt in (1, 2):
            browser = await self._ready(slot)
            try:
                return await browser.new_context(**options)
            except Exception:
                await self._retire(slot, kill_first=True)
                if attempt == 2:
                    raise
        raise AssertionError("unreachable")

    async def _ready(self, slot: Slot) -> Browser:
        if slot.browser is not None and not (slot.alive and _running(slot.pid)):
            await self._retire(slot, kill_first=True)
        if slot.browser is None:
            await self._launch(slot)
        assert slot.browser is not None
        return slot.browser

    async def _start(self) -> Playwright:
        async with self._starting:
            if self._playwright is None:
                from playwright.async_api import async_playwright

                self._playwright = await async_playwright().start()
            return self._playwright

    async def _launch(self, slot: Slot) -> None:
        executable = find_executable(self.options)
        playwright = await self._start()
        slot.marker = f"--watchkeeper-browser={uuid.uuid4().hex}"  # finds its process
        args = [*ARGS, slot.marker]
        sandbox = self.options.sandbox
        if sandbox is None:
            sandbox = os.geteuid() != 0
        try:
            slot.browser = await playwright.chromium.launch(
                executable_path=executable,
                args=args,
                headless=True,
                chromium_sandbox=sandbox,
                handle_sigint=False,
                handle_sigterm=False,
                handle_sighup=False,
                timeout=30_000,
            )
        except Exception as exc:
            text = str(exc).strip().splitlines()
            raise BrowserUnavailable(
                f"the browser did not start: {text[0][:200] if text else type(exc).__name__}"
            ) from None
        slot.runs = 0
        self.launched += 1
        slot.pid = await CHECKS.run(_find_pid, slot.marker)

    async def _fits(self, slot: Slot) -> bool:
        if slot.pid is None:
            return True
        used = await CHECKS.run(tree_rss, slot.pid)
        if used > self.options.memory:
            log.info(
                "browser %d holds %d MiB (over %d MiB): starting it afresh",
                slot.number,
                used // 1024**2,
                self.options.memory // 1024**2,
            )
            return False
        return True

    async def _retire(self, slot: Slot, *, kill_first: bool = False) -> None:
        browser, slot.browser = slot.browser, None
        pid, slot.pid = slot.pid, None
        slot.restarts += 1
        if kill_first and pid is not None:
            await CHECKS.run(_kill_tree, pid)
            pid = None
        if browser is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(browser.close(), CLOSE_TIMEOUT)
        if pid is not None:
            await CHECKS.run(_kill_tree, pid)

    def memory(self) -> dict[int, int]:
        """RSS of each running browser's process tree, by slot. Blocking."""
        return {s.number: tree_rss(s.pid) for s in self._all if s.pid is not None}

    async def aclose(self) -> None:
        for slot in self._all:
            await self._retire(slot)
        playwright, self._playwright = self._playwright, None
        if playwright is not None:
            with contextlib.suppress(Exception):
                await playwright.stop()


def pool_for(resources: Resources) -> BrowserPool:
    """The engine run's pool, made with the engine's ``browser`` options."""
    options = resources.settings.get("browser")
    if not isinstance(options, BrowserOptions):
        options = BrowserOptions()
    return resources.shared("browser.pool", lambda: BrowserPool(options))


def _find_pid(marker: str) -> int | None:
    """The browser process started with ``marker`` among this process's descendants."""
    try:
        for child in psutil.Process().children(recursive=True):
            with contextlib.suppress(psutil.Error):
                if marker in child.cmdline():
                    parent = child.parent()
                    # the first process with the marker whose parent lacks it: the browser
                    if parent is None or marker not in parent.cmdline():
                        return int(child.pid)
    except psutil.Error:
        return None
    return None


def _running(pid: int | None) -> bool:
    """Is the browser's process still there (not gone, not a zombie)? Unknown: yes."""
    if pid is None:
        return True
    try:
        status: str = psutil.Process(pid).status()
        return bool(status != psutil.STATUS_ZOMBIE)
    except psutil.Error:
        return False


def tree_rss(pid: int | None) -> int:
    """Resident bytes of a process and its descendants (shared pages counted in each: an
    upper bound). Blocking."""
    if pid is None:
        return 0
    try:
        root = psutil.Process(pid)
        processes = [root, *root.children(recursive=True)]
    except psutil.Error:
        return 0
    total = 0
    for process in processes:
        with contextlib.suppress(psutil.Error):
            total += int(process.memory_info().rss)
    return total


def _kill_tree(pid: int) -> None:
    try:
        root = psutil.Process(pid)
        processes = [root, *root.children(recursive=True)]
    except psutil.Error:
        return
    for process in processes:
        with contextlib.suppress(psutil.Error):
            process.kill()
    psutil.wait_procs(processes, timeout=5)
