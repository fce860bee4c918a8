"""The pages count as a sentence does: ``1 check``, ``2 checks``, ``1 needs attention``."""

from __future__ import annotations

from watchkeeper.web.pages.render import environment


def test_the_pages_count_one_as_one() -> None:
    env = environment()
    template = env.from_string("{{ one|plural('check') }} / {{ two|plural('check') }}")

    assert template.render(one=1, two=2) == "1 check / 2 checks"


def test_the_overview_summary_counts_one_monitor_needing_attention() -> None:
    summary = environment().from_string(
        '{% import "overview_parts.html" as parts %}{{ parts.summary(total, problems) }}'
    )

    one = summary.render(total=1, problems=1)
    many = summary.render(total=3, problems=2)

    assert "1 monitor ·" in one and "1 needs attention" in one
    assert "3 monitors ·" in many and "2 need attention" in many
