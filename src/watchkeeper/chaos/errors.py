"""What can go wrong when driving the fault proxy; each error carries the HTTP status the API
answers with (the statuses Toxiproxy's clients expect).

    ChaosError
    ├── BadInput       400  a malformed body, a missing field, a value out of range
    ├── NotFound       404  no such proxy or toxic
    ├── Conflict       409  a proxy or toxic of that name exists, or a cap is reached
    └── ListenFailed   500  the listen address could not be bound
"""

from __future__ import annotations


class ChaosError(Exception):
    status = 500

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class BadInput(ChaosError):
    status = 400


class NotFound(ChaosError):
    status = 404


class Conflict(ChaosError):
    status = 409


class ListenFailed(ChaosError):
    status = 500
