"""Make a plain-text message inert in a destination that reads Markdown.

A notification's text quotes what targets sent (``json.status '<img src=x onerror=…>'``,
``[click](http://evil)``, ``@everyone``) and names users wrote. For a destination that reads
the text as plain text or HTML, Apprise is told the body is text and does the escaping itself
(``&lt;`` in HTML mail, ``&amp; &lt; &gt;`` for Slack). Chat services that render Markdown
even from "text" (Discord, Mattermost, Zulip, ...) and Markdown-only ones get the text through
``escape_markdown`` instead: every character that opens Markdown (or a service's own markup:
Discord's ``<@id>``, Slack-style ``<url|label>``) is backslash-escaped and each ``@name`` gets
a zero-width space, so nothing becomes a link, an image, a heading or a mention. A bare
``https://`` URL is left whole (escaping inside it would break the link); it shows what it
points to.
"""

from __future__ import annotations

_SPECIAL = frozenset("\\`*_~|[]()<>#{}!")
"""ASCII punctuation every CommonMark renderer (and Discord's) lets a backslash escape."""
_URL_CHARS = frozenset(
    "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-._~:/?#@!$&'()*+,;=%"
)
_WORD = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_")
_ZERO_WIDTH_SPACE = "\u200b"
_NO_BREAK_SPACE = "\u00a0"


def escape_markdown(text: str) -> str:
    """``text`` shown literally by a Markdown renderer; linear in its length."""
    out: list[str] = []
    start = 0
    length = len(text)
    line_start = True
    while start < length:
        char = text[start]
        if char.isspace():
            # indentation would make a code block: a no-break space is not indentation
            out.append(_NO_BREAK_SPACE if line_start and char in " \t" else char)
            line_start = (line_start and char in " \t") or char == "\n"
            start += 1
            continue
        line_start = False
        end = start
        while end < length and not text[end].isspace():
            end += 1
        out.append(_escape_word(text[start:end]))
        start = end
    return "".join(out)


def _escape_word(word: str) -> str:
    if _bare_url(word):
        return word
    out: list[str] = []
    for index, char in enumerate(word):
        if char in _SPECIAL:
            out.append("\\" + char)
        elif char == "@" and word[index + 1 : index + 2] in _WORD:
            out.append("@" + _ZERO_WIDTH_SPACE)  # no @everyone, @channel or @someone
        else:
            out.append(char)
    return "".join(out)


def _bare_url(word: str) -> bool:
    """A whole ``http(s)://`` URL with nothing a renderer could read as markup around it
    (no brackets, angle brackets, pipes, backticks or backslashes)."""
    if not word.startswith(("https://", "http://")):
        return False
    return all(char in _URL_CHARS and char not in "()" for char in word)
