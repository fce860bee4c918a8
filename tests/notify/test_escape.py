"""Escaped for Markdown, any text renders as the text it was: no link, image, tag, emphasis,
code or mention, whatever a target put in it."""

from __future__ import annotations

from html import unescape

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from tests.helpers.markdown import Rendered, rendered

from watchkeeper.notify.escape import escape_markdown

INERT_TAGS = {"p", "br", "ul", "ol", "li", "hr", "h1", "h2"}
"""What plain text may still become: paragraphs, lists and a setext heading are layout."""


def shown(text: str) -> Rendered:
    return rendered(escape_markdown(text))


@pytest.mark.parametrize(
    ("text", "escaped"),
    [
        ("[click](http://evil)", "\\[click\\]\\(http://evil\\)"),
        ("<http://evil|click>", "\\<http://evil\\|click\\>"),
        ("![x](http://evil/p.png)", "\\!\\[x\\]\\(http://evil/p.png\\)"),
        ("<img src=x onerror=alert(1)>", "\\<img src=x onerror=alert\\(1\\)\\>"),
        ("**bold** _it_ `code` ~~gone~~ ||spoiler||", None),
        ("@everyone and <@123> and mail@example.com", None),
        ("see https://wk.example.com/monitors/api_v2?x=1#top", None),
    ],
)
def test_markup_a_target_sent_is_escaped(text: str, escaped: str | None) -> None:
    result = escape_markdown(text)
    if escaped is not None:
        assert result == escaped
    seen = shown(text)
    assert seen.tags <= INERT_TAGS, seen.tags
    assert "".join(seen.text).replace("\u200b", "") == text


def test_a_bare_url_stays_whole_and_mentions_are_broken() -> None:
    url = "https://wk.example.com/monitors/api_v2?x=1#top"
    assert escape_markdown(f"runbook: {url}") == f"runbook: {url}"
    assert escape_markdown("@everyone @here") == "@\u200beveryone @\u200bhere"


@settings(max_examples=500, deadline=None)
@given(st.text(alphabet=st.sampled_from(list("ab []()<>!*_~`|#@\\:/.=-\n&;")), max_size=40))
def test_any_text_renders_as_itself_with_no_markup(text: str) -> None:
    seen = shown(text)
    assert seen.tags <= INERT_TAGS, (text, seen.tags)
    if seen.tags & {"ul", "ol", "hr", "h1", "h2"}:
        return  # a list, rule or heading takes its '-', '=' markers as layout
    visible = unescape("".join(seen.text)).replace("\u200b", "")
    assert visible.split() == text.split(), (text, visible)


def test_it_is_linear_in_the_length_of_the_text() -> None:
    """A quadratic escaper would take hours on this; the test would hang."""
    text = "@" * 2_000_000 + "[" * 2_000_000 + "https://" + "a" * 2_000_000
    assert len(escape_markdown(text)) > len(text)
