"""Collapsed stacks (``root;caller;leaf count`` lines, as py-spy's ``raw`` format and
flamegraph.pl write them) and the time each function spends: **self** (samples where it is
the leaf: its own code running) and **total** (samples where it is anywhere on the stack:
it or what it calls). A recursive function counts once per sample in its total."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

MOST_STACKS = 200_000
"""Distinct stacks kept; a profile with more is cut (and says so)."""
MOST_DEPTH = 512
MOST_FRAME = 500
"""Characters of one frame's name kept."""


class StacksError(ValueError):
    pass


@dataclass(slots=True)
class Profile:
    stacks: Counter[tuple[str, ...]] = field(default_factory=Counter)
    truncated: bool = False

    @property
    def samples(self) -> int:
        return sum(self.stacks.values())

    def self_time(self) -> Counter[str]:
        out: Counter[str] = Counter()
        for stack, count in self.stacks.items():
            out[stack[-1]] += count
        return out

    def total_time(self) -> Counter[str]:
        out: Counter[str] = Counter()
        for stack, count in self.stacks.items():
            for frame in set(stack):
                out[frame] += count
        return out


def parse(text: str) -> Profile:
    """Read collapsed stacks; a malformed line is a ``StacksError`` naming it."""
    profile = Profile()
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        if not line:
            continue
        stack_text, _, count_text = line.rpartition(" ")
        if not stack_text or not count_text.isdigit():
            raise StacksError(f"line {number}: expected 'frame;frame;... count'")
        frames = tuple(f[:MOST_FRAME] for f in stack_text.split(";")[:MOST_DEPTH] if f)
        if not frames:
            raise StacksError(f"line {number}: no frames")
        if frames not in profile.stacks and len(profile.stacks) >= MOST_STACKS:
            profile.truncated = True
            continue
        profile.stacks[frames] += int(count_text)
    return profile
