"""Who may use the web and API: users with roles, their sessions, API tokens with scopes.

``Auth`` is the one entry point (synchronous: database calls; the web runs it in a thread).
Passwords are argon2id hashes; session and API tokens are random and only their SHA-256 is
stored, so a copy of the store gives nobody a way in.
"""

from __future__ import annotations

from watchkeeper.auth.limits import Limiter
from watchkeeper.auth.service import AGENT_SCOPE, ROLES, SCOPES, Auth, AuthError, Principal
from watchkeeper.auth.throttle import LoginThrottle, Verdict

__all__ = [
    "AGENT_SCOPE",
    "ROLES",
    "SCOPES",
    "Auth",
    "AuthError",
    "Limiter",
    "LoginThrottle",
    "Principal",
    "Verdict",
]
