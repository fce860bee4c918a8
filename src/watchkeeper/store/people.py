"""The people and programs that may use the web: users, their sessions and API tokens (only
hashes of passwords and tokens are stored).

Every function takes the caller's connection, inside the caller's transaction.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa

from watchkeeper.store import schema

_U = schema.users
_S = schema.sessions
_T = schema.api_tokens


@dataclass(frozen=True, slots=True)
class User:
    id: int
    name: str
    role: str
    password_hash: str
    created_at: float
    last_login_at: float | None


@dataclass(frozen=True, slots=True)
class Token:
    id: int
    name: str
    prefix: str
    scope: str
    created_by: str | None
    created_at: float
    last_used_at: float | None
    revoked_at: float | None


def _user(row: Any) -> User:
    return User(
        id=int(row.id),
        name=str(row.name),
        role=str(row.role),
        password_hash=str(row.password_hash),
        created_at=float(row.created_at),
        last_login_at=None if row.last_login_at is None else float(row.last_login_at),
    )


# -- users -------------------------------------------------------------------------------------
def user_count(connection: sa.Connection, role: str | None = None) -> int:
    query = sa.select(sa.func.count()).select_from(_U)
    if role is not None:
        query = query.where(_U.c.role == role)
    return int(connection.scalar(query) or 0)


def users(connection: sa.Connection) -> list[User]:
    return [_user(row) for row in connection.execute(sa.select(_U).order_by(_U.c.name))]


def user(connection: sa.Connection, name: str) -> User | None:
    row = connection.execute(sa.select(_U).where(_U.c.name == name)).first()
    return None if row is None else _user(row)


def user_by_id(connection: sa.Connection, user_id: int) -> User | None:
    row = connection.execute(sa.select(_U).where(_U.c.id == user_id)).first()
    return None if row is None else _user(row)


def add_user(
    connection: sa.Connection, name: str, password_hash: str, role: str, now: float
) -> int:
    result = connection.execute(
        _U.insert().values(name=name, password_hash=password_hash, role=role, created_at=now)
    )
    key = result.inserted_primary_key
    assert key is not None
    return int(key[0])


def update_user(connection: sa.Connection, user_id: int, **values: Any) -> None:
    connection.execute(_U.update().where(_U.c.id == user_id).values(**values))


def remove_user(connection: sa.Connection, name: str) -> bool:
    found = user(connection, name)
    if found is None:
        return False
    connection.execute(_S.delete().where(_S.c.user_id == found.id))
    connection.execute(_U.delete().where(_U.c.id == found.id))
    return True


# -- sessions ----------------------------------------------------------------------------------
def add_session(
    connection: sa.Connection, token_hash: str, user_id: int, now: float, expires_at: float
) -> None:
    connection.execute(
        _S.insert().values(
            token_hash=token_hash, user_id=user_id, created_at=now, expires_at=expires_at
        )
    )


def session_user(
    connection: sa.Connection, token_hash: str, now: float
) -> tuple[User, float] | None:
    """The user a live session belongs to, and when the session expires."""
    row = connection.execute(
        sa.select(_U, _S.c.expires_at)
        .join_from(_S, _U, _S.c.user_id == _U.c.id)
        .where(_S.c.token_hash == token_hash, _S.c.expires_at > now)
    ).first()
    return None if row is None else (_user(row), float(row.expires_at))


def end_session(connection: sa.Connection, token_hash: str) -> None:
    connection.execute(_S.delete().where(_S.c.token_hash == token_hash))


def prune_sessions(connection: sa.Connection, now: float) -> int:
    return int(connection.execute(_S.delete().where(_S.c.expires_at <= now)).rowcount or 0)


# -- API tokens --------------------------------------------------------------------------------
def _token(row: Any) -> Token:
    return Token(
        id=int(row.id),
        name=str(row.name),
        prefix=str(row.prefix),
        scope=str(row.scope),
        created_by=row.created_by,
        created_at=float(row.created_at),
        last_used_at=None if row.last_used_at is None else float(row.last_used_at),
        revoked_at=None if row.revoked_at is None else float(row.revoked_at),
    )


def add_token(
    connection: sa.Connection,
    *,
    name: str,
    prefix: str,
    token_hash: str,
    scope: str,
    created_by: str | None,
    now: float,
) -> int:
    result = connection.execute(
        _T.insert().values(
            name=name,
            prefix=prefix,
            token_hash=token_hash,
            scope=scope,
            created_by=created_by,
            created_at=now,
        )
    )
    key = result.inserted_primary_key
    assert key is not None
    return int(key[0])


def token_by_hash(connection: sa.Connection, token_hash: str) -> Token | None:
    row = connection.execute(
        sa.select(_T).where(_T.c.token_hash == token_hash, _T.c.revoked_at.is_(None))
    ).first()
    return None if row is None else _token(row)


def tokens(connection: sa.Connection) -> list[Token]:
    return [_token(row) for row in connection.execute(sa.select(_T).order_by(_T.c.id))]


def touch_tokens(connection: sa.Connection, used: dict[int, float]) -> None:
    for token_id, at in used.items():
        connection.execute(_T.update().where(_T.c.id == token_id).values(last_used_at=at))


def revoke_token(connection: sa.Connection, token_id: int, now: float) -> bool:
    result = connection.execute(
        _T.update().where(_T.c.id == token_id, _T.c.revoked_at.is_(None)).values(revoked_at=now)
    )
    return result.rowcount == 1


def end_sessions_of(connection: sa.Connection, user_id: int) -> None:
    connection.execute(_S.delete().where(_S.c.user_id == user_id))
