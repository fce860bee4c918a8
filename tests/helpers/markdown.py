"""What a Markdown renderer makes of a text: the tags it produced and the text they hold
(Apprise's own Markdown-to-HTML conversion, as chat services that read Markdown would)."""

from __future__ import annotations

from html.parser import HTMLParser

from apprise.conversion.format import markdown_to_html


class Rendered(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: set[str] = set()
        self.text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.add(tag)

    def handle_data(self, data: str) -> None:
        self.text.append(data)


def rendered(markdown: str) -> Rendered:
    """The tags and text of ``markdown`` once rendered to HTML."""
    seen = Rendered()
    seen.feed(markdown_to_html(markdown))
    seen.close()
    return seen
