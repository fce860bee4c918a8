"""The ``projects:`` section: each problem one line at its file:line."""

from __future__ import annotations

import pytest

from watchkeeper.config import parse_config
from watchkeeper.errors import ConfigError

KEY = "0123456789abcdef0123456789abcdef"


def lines(text: str, env: dict[str, str] | None = None) -> list[str]:
    with pytest.raises(ConfigError) as caught:
        parse_config(text, "wk.yaml", env=env or {})
    return caught.value.lines()


def test_a_project_takes_its_settings() -> None:
    config = parse_config(
        """
notify:
  - {name: ops, webhook: "https://hooks.example.com/wk"}
projects:
  - name: shop
    key: ${SHOP_KEY}
    rate_limit: 600/m
    origins: [https://Shop.example.com/, "https://*.example.org"]
    notify: ops
  - {name: api, rate_limit: 50}
""",
        "wk.yaml",
        env={"SHOP_KEY": KEY},
    )

    shop, api = config.projects
    assert (shop.key, shop.key_reference, shop.line) == (KEY, "${SHOP_KEY}", 5)
    assert (shop.rate_limit.count, shop.rate_limit.per, str(shop.rate_limit)) == (
        600,
        60.0,
        "600/m",
    )
    assert shop.origins == ("https://shop.example.com", "https://*.example.org")
    assert shop.notify == ("ops",)
    assert (api.key, str(api.rate_limit), api.origins) == (None, "50/m", ())


def test_each_problem_is_one_line_at_its_place() -> None:
    found = lines(
        f"""
notify:
  - {{name: ops, webhook: "https://hooks.example.com/wk"}}
projects:
  - {{name: shop, key: {KEY}}}
  - {{name: shop}}
  - {{name: twin, key: {KEY}}}
  - {{name: a, rate_limit: lots}}
  - {{name: b, key: short}}
  - {{name: c, key: 1234567890123456789012}}
  - {{name: d, origins: [ftp://files.example.com]}}
  - {{name: e, notify: [opz]}}
  - {{name: f, colour: red}}
  - {{name: "g/h"}}
"""
    )

    assert found == [
        "wk.yaml:6: duplicate project name 'shop' (first at line 5)",
        "wk.yaml:7: project 'twin' has the key of project 'shop': each project needs its own",
        "wk.yaml:8: rate_limit: bad rate limit 'lots': use N/DURATION, e.g. 600/m, 50/s, 10000/1h",
        "wk.yaml:9: key: a project key must be 16-128 letters, digits, - and _ "
        "(Sentry's are 32 hex digits)",
        "wk.yaml:10: key: write the key in quotes: YAML reads a key of digits as a number",
        "wk.yaml:11: origins: origin 'ftp://files.example.com' must be * or like "
        "https://shop.example.com or https://*.example.com",
        "wk.yaml:12: notify route 'opz' is not defined (did you mean 'ops'?)",
        "wk.yaml:13: unknown key 'colour'; valid keys: name, key, rate_limit, origins, notify",
        "wk.yaml:14: name: '/' (U+002F) cannot be in a name: use letters and digits "
        "(any alphabet), spaces between words, and . _ - : ( ) [ ] @ +",
    ]


def test_projects_must_be_a_list() -> None:
    assert lines("projects: {name: shop}\n") == [
        "wk.yaml:1: projects must be a list, e.g. - {name: shop} (wk project add makes one too)"
    ]
