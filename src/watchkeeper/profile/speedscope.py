"""A Profile in speedscope's file format (one "sampled" profile, each distinct stack a sample
weighted by its count), for https://www.speedscope.app or the speedscope npm package."""

from __future__ import annotations

import re
from typing import Any

from watchkeeper.profile.stacks import Profile

SCHEMA = "https://www.speedscope.app/file-format-schema.json"
_FRAME = re.compile(r"^(?P<name>.*?) \((?P<file>[^()]*?)(?::(?P<line>\d+))?\)$")


def frame_parts(frame: str) -> dict[str, Any]:
    """``name (file.py:12)`` → ``{"name", "file", "line"}`` (py-spy's frame text)."""
    found = _FRAME.match(frame)
    if found is None:
        return {"name": frame}
    out: dict[str, Any] = {"name": found["name"], "file": found["file"]}
    if found["line"]:
        out["line"] = int(found["line"])
    return out


def document(profile: Profile, name: str) -> dict[str, Any]:
    index: dict[str, int] = {}
    frames: list[dict[str, Any]] = []
    samples: list[list[int]] = []
    weights: list[int] = []
    for stack, count in sorted(profile.stacks.items()):
        row = []
        for frame in stack:
            if frame not in index:
                index[frame] = len(frames)
                frames.append(frame_parts(frame))
            row.append(index[frame])
        samples.append(row)
        weights.append(count)
    total = sum(weights)
    return {
        "$schema": SCHEMA,
        "name": name,
        "exporter": "watchkeeper",
        "activeProfileIndex": 0,
        "shared": {"frames": frames},
        "profiles": [
            {
                "type": "sampled",
                "name": name,
                "unit": "none",
                "startValue": 0,
                "endValue": total,
                "samples": samples,
                "weights": weights,
            }
        ],
    }
