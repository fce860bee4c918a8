"""The page scanner finds the meta policies and scripts the scanner's DOM (jsdom, under Node)
finds, on generated pages full of comments, templates, raw-text elements, odd quoting and
broken tags; and it is linear on hostile pages."""

from __future__ import annotations

import random

import pytest
from tests.audit.observatory.linear import assert_linear
from tests.helpers.observatory import READ_STDIN, Scanner, run_module

from watchkeeper.audit.observatory.html_scan import start_tags, summarize

PIECES = [
    '<meta http-equiv="Content-Security-Policy" content="default-src \'self\'">',
    "<META HTTP-EQUIV='content-security-policy' CONTENT='script-src x'>",
    "<meta http-equiv=content-security-policy content=img-src>",
    '<meta http-equiv=" Content-Security-Policy " content="a &amp; b">',
    '<meta http-equiv="content-security-policy" content="">',
    '<meta http-equiv="content-security-policy">',
    '<meta content="object-src none" http-equiv="Content-Security-Policy" content="x">',
    '<meta name="referrer" content="no-referrer">',
    "<meta name=REFERRER content='unsafe-url'>",
    '<meta name="referrer" http-equiv="x" content="origin">',
    '<meta name="referrer">',
    '<script src="https://cdn.example/a.js" integrity="sha384-x"></script>',
    "<script src=//cdn.example/b.js></script>",
    "<script>var s = '<script src=\"evil\"></script>';</script>",
    "<script src='/c.js' crossorigin>",
    "</script>",
    '<!-- <script src="hidden.js"></script> -->',
    "<!---->",
    "<!-->",
    "<template><meta name=referrer content=origin><script src=t.js></script></template>",
    "<textarea><script src=no.js></script></textarea>",
    "<title><meta name=referrer content=origin></title>",
    "<style>a{} </style><script src=after-style.js></script>",
    "<noscript><script src=noscript.js></script></noscript>",
    "<div class=a title='x > y'>text</div>",
    "<p>1 < 2 and 3 > 2</p>",
    "<!DOCTYPE html>",
    "<? processing ?>",
    "</ >",
    "<script/src=slash.js></script>",
    '<script src="a.js" src="b.js"></script>',
    "<SCRIPT SRC=UPPER.JS></SCRIPT>",
    "<base href=https://base.example/>",
]
ENDINGS = ["", "<meta name=referrer content=", "<script src='unterminated", "<!-- open", "<"]


def random_page(rng: random.Random) -> str:
    body = "".join(rng.choice(PIECES) for _ in range(rng.randint(0, 8)))
    return body + (rng.choice(ENDINGS) if rng.random() < 0.2 else "")


SCRIPT = (
    READ_STDIN
    + """
import { JSDOM } from "jsdom";
import { parseHttpEquivHeaders } from "PKG/retriever/utils.js";
const out = input.map((html) => {
  const equiv = parseHttpEquivHeaders(html, "https://example.com/");
  const scripts = [...new JSDOM(html).window.document.querySelectorAll("script")].map(
    (s) => [s.getAttribute("src"), s.getAttribute("integrity"), s.getAttribute("crossorigin")]);
  return {
    csp: equiv.get("content-security-policy") ?? [],
    referrer: (equiv.get("referrer-policy") ?? [null])[0],
    scripts,
  };
});
console.log(JSON.stringify(out));
"""
)


@pytest.fixture(scope="module")
def scanner(tmp_path_factory: pytest.TempPathFactory) -> Scanner:
    return Scanner(tmp_path_factory.mktemp("scanner"))


def test_the_page_scanner_finds_what_the_scanners_dom_finds(scanner: Scanner) -> None:
    rng = random.Random(7)
    pages = [random_page(rng) for _ in range(500)]
    theirs = run_module(scanner, SCRIPT, pages)
    disagreements = []
    for page, expected in zip(pages, theirs, strict=True):
        summary = summarize(page)
        ours = {
            "csp": list(summary.csp),
            "referrer": summary.referrer,
            "scripts": [[s.src, s.integrity, s.crossorigin] for s in summary.scripts],
        }
        if ours != expected:
            disagreements.append((page, ours, expected))
    assert not disagreements, f"{len(disagreements)} of {len(pages)}: {disagreements[:2]}"


def test_hostile_pages_are_scanned_in_linear_time() -> None:
    shapes = {
        "many tags": lambda n: "<meta name=referrer content=x>" * n,
        "attributes without end": lambda n: "<a " + "b=c " * n,
        "comment openers": lambda n: "<!--" * n,
        "end tags in script": lambda n: "<script>" + "</scrip" * n,
        "less-than signs": lambda n: "<" * n,
        "quotes": lambda n: "<a b='" + "'" * n,
        "many scripts": lambda n: "<script src=a.js></script>" * n,
        "script escapes": lambda n: "<script>" + "<!--<script>" * n,
        "scripts in comments": lambda n: "<script><!--" + "<script></script>" * n,
    }
    for name, shape in shapes.items():
        assert_linear(lambda size, shape=shape: list(start_tags(shape(size))), [2_000, 8_000])
        list(start_tags(shape(100_000)))  # and finishes on a big one (work in C too)
        assert name


def test_template_contents_and_comments_are_not_the_page() -> None:
    summary = summarize(
        "<template><script src=a.js></script></template><!-- <script src=b.js> -->"
        "<script src=c.js></script>"
    )
    assert [script.src for script in summary.scripts] == ["c.js"]
