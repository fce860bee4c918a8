"""Page groups: simple globs, compiled to RE2, first match wins, unmatched is 'other'."""

from __future__ import annotations

import pytest

from watchkeeper.rum.pages import OTHER, PageGroups, pattern_problem

GROUPS = PageGroups(
    [("product", "/product/*"), ("docs", "/docs/**"), ("home", "/"), ("catchall", "/p*")]
)


@pytest.mark.parametrize(
    ("path", "group"),
    [
        ("/product/42", "product"),
        ("/product/", "product"),
        ("/product/42/reviews", OTHER),
        ("/docs/a/b/c", "docs"),
        ("/docs", OTHER),
        ("/", "home"),
        ("/pricing", "catchall"),
        ("/about", OTHER),
        ("/product/a.b(c)[d]+", "product"),
    ],
)
def test_a_path_falls_in_the_first_group_whose_pattern_matches_it(path: str, group: str) -> None:
    assert GROUPS.group(path) == group


def test_pattern_characters_other_than_stars_match_themselves() -> None:
    groups = PageGroups([("dot", "/a.b")])
    assert groups.group("/a.b") == "dot"
    assert groups.group("/axb") == OTHER


def test_a_long_hostile_path_is_matched_in_linear_time() -> None:
    groups = PageGroups([("deep", "/**a**a**a**a**b")])
    assert groups.group("/" + "a" * 200_000) == OTHER


@pytest.mark.parametrize("pattern", ["product/*", "/a?b=1", "/a#x", "/" + "x" * 600])
def test_a_bad_pattern_says_why(pattern: str) -> None:
    assert pattern_problem(pattern) is not None
