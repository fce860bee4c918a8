"""Users, sessions and API tokens over the store.

Roles: ``admin`` reads and changes, ``viewer`` reads. Token scopes: ``write`` (an admin's
powers) or ``read``. A session is a random token in a cookie; its CSRF token is derived from
it (HMAC), so forms carry proof that they came from our pages without anything more stored.

Lookups are cached for ``cache_for`` seconds (a revocation made by another process, such as
``wk token revoke``, takes effect within that time; one made here, at once).
"""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import secrets
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from watchkeeper.auth.passwords import hash_password, needs_rehash, verify_password, weakness
from watchkeeper.config.models import LOCAL, location_problem
from watchkeeper.errors import StoreError, WatchkeeperError
from watchkeeper.store import Store
from watchkeeper.store import people as db

ROLES = ("admin", "viewer")
SCOPES = ("read", "write")
AGENT_SCOPE = "agent:"
"""An agent's token: ``agent:<location>``. It may read its location's assignment and push
results, nothing else."""
SESSION_TTL = 7 * 86400.0
"""How long a session lasts (its cookie too)."""
SESSION_PREFIX = "wks_"
TOKEN_PREFIX = "wkt_"
STALE_FOR = 3600.0
"""While the store is unreachable, a session or token checked this recently still works."""
_NAME_CHARS = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._@-")


class AuthError(WatchkeeperError):
    """A request about users or tokens that cannot be done (one line, for the user)."""


@dataclass(frozen=True, slots=True)
class Principal:
    """Who a request comes from."""

    name: str
    role: str
    """``admin``/``viewer`` for people; ``token`` for API tokens."""
    scope: str
    """``read`` or ``write``."""
    via: str
    """``session`` or ``token``."""
    csrf: str | None = None
    """For sessions: the token every form and cookie-authenticated write must carry."""

    @property
    def can_write(self) -> bool:
        return self.scope == "write"

    @property
    def agent_location(self) -> str | None:
        """For an agent's token (scope ``agent:<location>``): its location; else None."""
        return self.scope[len(AGENT_SCOPE) :] if self.scope.startswith(AGENT_SCOPE) else None


def digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def csrf_token(session_token: str) -> str:
    return hmac.new(session_token.encode(), b"csrf", hashlib.sha256).hexdigest()[:40]


class Auth:
    def __init__(
        self,
        store: Store,
        *,
        session_ttl: float = SESSION_TTL,
        cache_for: float = 10.0,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.store = store
        self.session_ttl = session_ttl
        self._cache_for = cache_for
        self._clock = clock
        self._cache: dict[str, tuple[Principal, float]] = {}
        self._lock = threading.Lock()
        self._has_users = False
        self._touched: dict[int, float] = {}

    # -- users -------------------------------------------------------------------------------
    @property
    def users_known(self) -> bool:
        """Somebody is known to exist (no database call; false until ``has_users`` saw one)."""
        return self._has_users

    def has_users(self) -> bool:
        if not self._has_users:  # once true it stays true for the life of the process
            with self.store.read() as connection:
                self._has_users = db.user_count(connection) > 0
        return self._has_users

    def has_admin(self) -> bool:
        with self.store.read() as connection:
            return db.user_count(connection, "admin") > 0

    def users(self) -> list[db.User]:
        with self.store.read() as connection:
            return db.users(connection)

    def add_user(self, name: str, password: str, role: str) -> None:
        _check_name(name)
        if role not in ROLES:
            raise AuthError(f"unknown role '{role}': use {' or '.join(ROLES)}")
        problem = weakness(password, name)
        if problem:
            raise AuthError(problem)
        hashed = hash_password(password)
        with self.store.transaction() as connection:
            if db.user(connection, name) is not None:
                raise AuthError(f"a user named '{name}' exists already")
            db.add_user(connection, name, hashed, role, self._clock())
        self._has_users = True

    def set_password(self, name: str, password: str) -> None:
        problem = weakness(password, name)
        if problem:
            raise AuthError(problem)
        hashed = hash_password(password)
        with self.store.transaction() as connection:
            found = db.user(connection, name)
            if found is None:
                raise AuthError(f"no user named '{name}'")
            db.update_user(connection, found.id, password_hash=hashed)
            db.end_sessions_of(connection, found.id)
        self._forget(lambda p: p.via == "session" and p.name == name)

    def remove_user(self, name: str) -> None:
        with self.store.transaction() as connection:
            found = db.user(connection, name)
            if found is None:
                raise AuthError(f"no user named '{name}'")
            if found.role == "admin" and db.user_count(connection, "admin") == 1:
                raise AuthError(f"'{name}' is the last admin: add another admin first")
            db.remove_user(connection, name)
        self._forget(lambda p: p.via == "session" and p.name == name)

    # -- logging in --------------------------------------------------------------------------
    def check_password(self, name: str, password: str) -> db.User | None:
        """The user, if the password is theirs (argon2: tens of milliseconds of CPU; call
        it from a thread)."""
        with self.store.read() as connection:
            found = db.user(connection, name)
        if not verify_password(found.password_hash if found else None, password):
            return None
        assert found is not None
        if needs_rehash(found.password_hash):
            with self.store.transaction() as connection:
                db.update_user(connection, found.id, password_hash=hash_password(password))
        return found

    def start_session(self, user: db.User) -> str:
        token = SESSION_PREFIX + secrets.token_urlsafe(32)
        now = self._clock()
        with self.store.transaction() as connection:
            db.add_session(connection, digest(token), user.id, now, now + self.session_ttl)
            db.update_user(connection, user.id, last_login_at=now)
            db.prune_sessions(connection, now)
        return token

    def end_session(self, token: str) -> None:
        self.forget_session(token)
        with self.store.transaction() as connection:
            db.end_session(connection, digest(token))

    def forget_session(self, token: str) -> None:
        """Drop a session from the cache (it must be looked up in the store again)."""
        with self._lock:
            self._cache.pop(token, None)

    def session(self, token: str) -> Principal | None:
        if not token.startswith(SESSION_PREFIX):
            return None
        cached = self._cached(token)
        if cached is not None:
            return cached
        now = self._clock()
        try:
            with self.store.read() as connection:
                found = db.session_user(connection, digest(token), now)
        except StoreError:
            return self._stale(token)
        if found is None:
            return None
        user, _expires = found
        principal = Principal(
            user.name,
            user.role,
            "write" if user.role == "admin" else "read",
            "session",
            csrf_token(token),
        )
        self._remember(token, principal)
        return principal

    # -- API tokens --------------------------------------------------------------------------
    def create_token(self, name: str, scope: str, by: str | None = None) -> tuple[int, str]:
        """A new API token: its id and the token itself (shown once, stored hashed)."""
        if scope.startswith(AGENT_SCOPE):
            problem = location_problem(scope[len(AGENT_SCOPE) :])
            if problem is not None or scope == AGENT_SCOPE + LOCAL:
                raise AuthError(problem or "an agent's location cannot be 'local' (the nodes)")
        elif scope not in SCOPES:
            raise AuthError(f"unknown scope '{scope}': use {' or '.join(SCOPES)}")
        if not name or len(name) > 200:
            raise AuthError("a token needs a name of 1-200 characters")
        token = TOKEN_PREFIX + secrets.token_urlsafe(32)
        with self.store.transaction() as connection:
            token_id = db.add_token(
                connection,
                name=name,
                prefix=token[:12],
                token_hash=digest(token),
                scope=scope,
                created_by=by,
                now=self._clock(),
            )
        return token_id, token

    def tokens(self) -> list[db.Token]:
        with self.store.read() as connection:
            return db.tokens(connection)

    def revoke_token(self, token_id: int) -> None:
        with self.store.transaction() as connection:
            if not db.revoke_token(connection, token_id, self._clock()):
                raise AuthError(f"no live token with id {token_id}")
        self._forget(lambda p: p.via == "token")

    def token(self, token: str) -> Principal | None:
        if not token.startswith(TOKEN_PREFIX):
            return None
        cached = self._cached(token)
        if cached is not None:
            return cached
        try:
            with self.store.read() as connection:
                found = db.token_by_hash(connection, digest(token))
        except StoreError:
            return self._stale(token)
        if found is None:
            return None
        principal = Principal(f"token:{found.name}", "token", found.scope, "token")
        self._remember(token, principal)
        now = self._clock()
        if found.last_used_at is None or now - found.last_used_at > 300:
            # a usage stamp is not worth a refusal
            with contextlib.suppress(StoreError), self.store.transaction() as connection:
                db.touch_tokens(connection, {found.id: now})
        return principal

    # -- the cache ---------------------------------------------------------------------------
    def cached(self, token: str) -> Principal | None:
        """A session or token looked up in the last few seconds (no database call)."""
        return self._cached(token)

    def _cached(self, token: str) -> Principal | None:
        with self._lock:
            hit = self._cache.get(token)
            if hit is None or hit[1] <= time.monotonic():
                return None
            return hit[0]

    def _stale(self, token: str) -> Principal:
        """The store cannot say: someone seen within the last hour is still let in (the
        dashboard should work while the store is down); anyone else gets StoreError."""
        with self._lock:
            hit = self._cache.get(token)
        if hit is not None and hit[1] + STALE_FOR > time.monotonic():
            return hit[0]
        raise StoreError("cannot check credentials: the store does not answer")

    def _remember(self, token: str, principal: Principal) -> None:
        with self._lock:
            if len(self._cache) > 10_000:
                self._cache.clear()
            self._cache[token] = (principal, time.monotonic() + self._cache_for)

    def _forget(self, which: Callable[[Principal], bool]) -> None:
        with self._lock:
            for token in [t for t, (p, _) in self._cache.items() if which(p)]:
                del self._cache[token]


def _check_name(name: str) -> None:
    if not 1 <= len(name) <= 100 or not set(name) <= _NAME_CHARS:
        raise AuthError("a user name is 1-100 letters, digits and . _ @ -")
