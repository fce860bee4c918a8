"""Password hashing with argon2id (argon2-cffi's defaults: RFC 9106's low-memory profile)."""

from __future__ import annotations

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

MIN_LENGTH = 10

_HASHER = PasswordHasher()
_DUMMY: list[str] = []
"""A hash verified when the user does not exist (same time either way); made on first use,
since hashing at import would slow every ``wk`` command by a fifth of a second."""


def _dummy() -> str:
    if not _DUMMY:
        _DUMMY.append(_HASHER.hash("a password nobody has; verified when the user does not exist"))
    return _DUMMY[0]


def hash_password(password: str) -> str:
    return _HASHER.hash(password)


def verify_password(password_hash: str | None, password: str) -> bool:
    """Constant work whether or not the user exists (``password_hash`` None): a login form
    must not tell which names are real by how fast it answers."""
    try:
        _HASHER.verify(password_hash or _dummy(), password)
    except (VerificationError, InvalidHashError):
        return False
    return password_hash is not None


def needs_rehash(password_hash: str) -> bool:
    return _HASHER.check_needs_rehash(password_hash)


def weakness(password: str, name: str) -> str | None:
    """Why a new password is refused, or None."""
    if len(password) < MIN_LENGTH:
        return f"a password needs at least {MIN_LENGTH} characters"
    if password.lower() == name.lower():
        return "the password may not be the user name"
    if len(set(password)) < 4:
        return "the password repeats too few characters"
    return None
