"""Config errors of the stack kinds and SLOs: one located line each."""

from __future__ import annotations

import textwrap

import pytest

from watchkeeper.config import parse_config
from watchkeeper.errors import ConfigError


def problems(text: str) -> list[str]:
    with pytest.raises(ConfigError) as caught:
        parse_config(textwrap.dedent(text), "wk.yaml")
    return caught.value.lines()


def test_slo_mistakes_name_the_line_and_the_slo() -> None:
    found = problems("""
        monitors:
          - {name: api, http: "https://example.com"}
          - {name: nested, slo: {monitor: api-slo, objective: 99%}}
        slos:
          - {name: api-slo, monitor: apii, objective: 99.9%}
          - {name: over, monitor: api, objective: 100%}
          - {name: short, monitor: api, objective: 99%, window: 10m}
          - {name: api, monitor: api, objective: 99%}
          - {monitor: api, objective: 99%}
        """)
    text = "\n".join(found)
    assert "wk.yaml:6: monitor 'api-slo': monitor 'apii' is not defined" in text
    assert "(did you mean 'api'?)" in text
    assert "wk.yaml:7: monitor 'over': objective: objective '100%' must be between" in text
    assert "wk.yaml:8: monitor 'short': window: window must be at least 1h" in text
    assert "wk.yaml:9:" in text and "the name 'api' is taken by a monitor (line 3)" in text
    assert "wk.yaml:4: monitor 'nested': an SLO watches a monitor's checks, not another SLO" in text
    assert any(line.startswith("wk.yaml:10:") and "name" in line for line in found)


def test_an_slo_takes_routes_and_timing_like_a_monitor() -> None:
    config = parse_config(
        textwrap.dedent("""
        notify:
          - {name: pager, webhook: "https://hooks.example.com/x"}
        monitors:
          - {name: api, http: "https://example.com", interval: 10s}
        slos:
          - {name: api-slo, monitor: api, objective: "99.95%", notify: [pager], interval: 1m}
          - {name: api-fast, monitor: api, objective: 0.99, latency: 250ms, window: 7d}
        """),
        "wk.yaml",
    )
    slo, fast = (m for m in config.monitors if m.kind == "slo")
    assert slo.notify == ("pager",) and slo.interval == 60 and slo.confirm == 1
    assert slo.settings.objective == pytest.approx(0.9995)
    assert fast.settings.objective == pytest.approx(0.99)
    assert fast.settings.latency == pytest.approx(0.25) and fast.settings.window == 7 * 86400
    assert fast.interval == 30 and fast.timeout == 30


def test_prometheus_and_host_settings_are_checked_at_load() -> None:
    found = problems("""
        monitors:
          - {name: node, prometheus: {url: "http://x:9100/metrics", series: ["bad name{"]}}
          - {name: box, host: {source: remote}}
          - {name: scrape, prometheus: "ftp://x/metrics"}
        """)
    text = "\n".join(found)
    assert "wk.yaml:3: monitor 'node'" in text and "is not a metric selector" in text
    assert "wk.yaml:4: monitor 'box'" in text
    assert "wk.yaml:5: monitor 'scrape'" in text and "is not an http(s):// URL" in text
