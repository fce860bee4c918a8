"""A small site for the browser journeys: a login form with a real session cookie, a
dashboard behind it, and pages that misbehave in the ways a journey must report (a missing
script and console errors, a late paint, a layout shift, a load that never ends)."""

from __future__ import annotations

import asyncio
import secrets

from aiohttp import web
from tests.helpers.ports import free_port

PASSWORD = "correct horse battery staple"
EMAIL = "probe@example.com"

LOGIN = """<!doctype html><html><head><title>Sign in</title></head><body>
<h1>Sign in</h1>
<form method="post" action="/login">
  <label>Email <input id="email" name="email" type="email"></label>
  <label>Password <input id="password" name="password" type="password"></label>
  <button type="submit">Sign in</button>
</form>{error}</body></html>"""

DASHBOARD = """<!doctype html><html><head><title>Dashboard</title></head><body>
<h1>Dashboard</h1><p id="greeting">Welcome back, {email}</p>{extra}</body></html>"""

BROKEN = """<!doctype html><html><head><title>Broken</title>
<script src="/missing.js"></script></head><body><p>Half a page</p>
<script>console.error("checkout widget failed: " + "x".repeat(5000));</script>
<script>undefinedFunction();</script></body></html>"""

LATE_PAINT = """<!doctype html><html><head><title>Late</title></head><body>
<script>setTimeout(() => {{
  const p = document.createElement('p'); p.style.fontSize = '64px';
  p.textContent = 'The hero text, painted late'; document.body.appendChild(p);
}}, {delay});</script></body></html>"""

SHIFTY = """<!doctype html><html><head><title>Shifty</title></head><body style="margin:0">
<div id="content" style="font-size:40px;height:600px">Content that moves</div>
<script>setTimeout(() => {
  const ad = document.createElement('div'); ad.style.height = '400px';
  ad.textContent = 'An ad'; document.body.insertBefore(ad, document.body.firstChild);
}, 300);</script></body></html>"""

LEAKY = """<!doctype html><html><head><title>Leaky</title></head><body>
<input id="password" type="password"><button id="go">Go</button>
<script>document.getElementById('go').onclick = () => {
  const typed = document.getElementById('password').value;
  console.error('debug: password is ' + typed);
  document.title = 'Hello ' + typed;
  fetch('/nowhere?pw=' + encodeURIComponent(typed));
};</script></body></html>"""

NEVER = """<!doctype html><html><head><title>Never</title></head><body><p>Loading...</p>
<img src="/hang.png"></body></html>"""


class JourneySite:
    def __init__(self) -> None:
        self.port = free_port()
        self.sessions: set[str] = set()
        self.logins = 0
        self.hanging: list[asyncio.Future[None]] = []
        self._runner: web.AppRunner | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    async def __aenter__(self) -> JourneySite:
        app = web.Application()
        app.router.add_get("/login", self._login_form)
        app.router.add_post("/login", self._login)
        app.router.add_get("/dashboard", self._dashboard)
        app.router.add_get("/broken", self._page(BROKEN))
        app.router.add_get("/shifty", self._page(SHIFTY))
        app.router.add_get("/late/{delay}", self._late)
        app.router.add_get("/never", self._page(NEVER))
        app.router.add_get("/leaky", self._page(LEAKY))
        app.router.add_get("/hang.png", self._hang)
        self._runner = web.AppRunner(app, access_log=None, shutdown_timeout=0.5)
        await self._runner.setup()
        await web.TCPSite(self._runner, "127.0.0.1", self.port).start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        for waiter in self.hanging:
            waiter.cancel()
        if self._runner is not None:
            await self._runner.cleanup()

    @staticmethod
    def _page(text: str) -> web.Handler:
        async def handler(request: web.Request) -> web.Response:
            return web.Response(text=text, content_type="text/html")

        return handler

    async def _login_form(self, request: web.Request) -> web.Response:
        return web.Response(text=LOGIN.format(error=""), content_type="text/html")

    async def _login(self, request: web.Request) -> web.Response:
        form = await request.post()
        self.logins += 1
        if form.get("email") != EMAIL or form.get("password") != PASSWORD:
            page = LOGIN.format(error='<p class="error">Wrong email or password</p>')
            return web.Response(status=401, text=page, content_type="text/html")
        session = secrets.token_hex(16)
        self.sessions.add(session)
        response = web.HTTPFound("/dashboard")
        response.set_cookie("session", session, httponly=True)
        raise response

    async def _dashboard(self, request: web.Request) -> web.Response:
        if request.cookies.get("session") not in self.sessions:
            raise web.HTTPFound("/login")
        extra = ""
        if "noisy" in request.query:
            extra = "<script>console.error('dashboard widget failed')</script>"
        page = DASHBOARD.format(email=EMAIL, extra=extra)
        return web.Response(text=page, content_type="text/html")

    async def _late(self, request: web.Request) -> web.Response:
        delay = int(request.match_info["delay"])
        return web.Response(text=LATE_PAINT.format(delay=delay), content_type="text/html")

    async def _hang(self, request: web.Request) -> web.StreamResponse:
        waiter: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self.hanging.append(waiter)
        await waiter
        return web.Response(status=204)
