"""A profile's top functions as a Finding: by self time (its own code: where to optimise)
and by total time (it and what it calls: which path is expensive)."""

from __future__ import annotations

from watchkeeper.findings import Finding, Severity
from watchkeeper.profile.speedscope import frame_parts
from watchkeeper.profile.stacks import Profile

TOP = 5
HOT_SHARE = 0.2
"""A function taking this share of the samples on its own is worth a warning."""
_SKIP_TOTAL = frozenset({"<module>"})


def _short(frame: str) -> str:
    parts = frame_parts(frame)
    where = parts.get("file", "")
    if "line" in parts:
        where += f":{parts['line']}"
    return f"{parts['name']} ({where})" if where else str(parts["name"])


def top_self(profile: Profile, n: int = TOP) -> list[tuple[str, int]]:
    return profile.self_time().most_common(n)


def top_total(profile: Profile, n: int = TOP) -> list[tuple[str, int]]:
    ranked = [
        (frame, count)
        for frame, count in profile.total_time().most_common()
        if frame_parts(frame)["name"] not in _SKIP_TOTAL
    ]
    return ranked[:n]


def finding(profile: Profile, subject: str, seconds: float) -> Finding:
    total = max(profile.samples, 1)
    selfish = top_self(profile)
    overall = top_total(profile)
    evidence: dict[str, float | int | str | None] = {
        "samples": profile.samples,
        "seconds": round(seconds, 1),
    }
    for rank, (frame, count) in enumerate(selfish, start=1):
        evidence[f"self_{rank}"] = f"{_short(frame)} {count / total * 100:.1f} %"
    for rank, (frame, count) in enumerate(overall, start=1):
        evidence[f"total_{rank}"] = f"{_short(frame)} {count / total * 100:.1f} %"
    first, count = selfish[0]
    share = count / total
    hot = _short(first)
    return Finding(
        source="profile",
        severity=Severity.warning if share >= HOT_SHARE else Severity.info,
        title=f"{hot} runs {share * 100:.0f} % of the time in {subject}",
        subject=subject,
        evidence=evidence,
        recommendation=(
            f"Start with {frame_parts(first)['name']}: its own code takes the most samples. "
            "Cache its result, do less per call, or move it off the request path; the flame "
            "graph shows who calls it."
        ),
        impact=share,
        rule="hot-function",
    )
