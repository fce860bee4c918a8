"""The one error an advisor raises: the system it should look at cannot be reached or read at
all (refused, timed out, bad URL, wrong password). Partial trouble (one command not permitted)
is not an error: the advisor skips that check and says so in an info Finding."""

from __future__ import annotations

from watchkeeper.errors import WatchkeeperError


class AdvisorError(WatchkeeperError):
    """One clear line naming the target and what went wrong; never a password."""

    def __init__(self, message: str) -> None:
        line = " ".join(message.split()) or "advisor failed"
        self.message = line
        super().__init__(line)
