"""The demo's config is a real config, and what it explains at start-up is about its monitors."""

from __future__ import annotations

from pathlib import Path

from watchkeeper.config import parse_config
from watchkeeper.demo.config import EXPLAINED, demo_yaml


def test_each_explained_monitor_is_in_the_demo_and_is_an_https_check(tmp_path: Path) -> None:
    config = parse_config(demo_yaml(1, 2, 3), str(tmp_path / "demo.yaml"), env={})
    names = {monitor.name for monitor in config.monitors}

    assert set(EXPLAINED) <= names
    assert config.monitor("shop-https").kind == "http"  # type: ignore[union-attr]
