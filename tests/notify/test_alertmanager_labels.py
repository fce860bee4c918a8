"""What Alertmanager is sent for an error alert: one alert per issue, named apart from the
monitors' (``WatchkeeperError``, labelled with its project and issue), summarised by its
title. (A real Alertmanager takes monitors' alerts in tests/e2e/test_alert_receivers.py.)"""

from __future__ import annotations

from watchkeeper.notify.alertmanager import AlertmanagerSettings, alert_of
from watchkeeper.notify.base import AlertItem

SETTINGS = AlertmanagerSettings(url="http://127.0.0.1:9093", labels={"team": "web"})


def test_an_error_alert_is_one_alert_per_issue_labelled_with_its_project() -> None:
    item = AlertItem(
        "shop",
        "new",
        "",
        1000.0,
        990.0,
        kind="error",
        target="shop.cart in total",
        reason="ValueError: bad",
        url="https://wk.example.com/errors/12",
        severity="critical",
        event="new",
        issue=12,
    )

    alert = alert_of(item, SETTINGS, 1000.0, None)

    assert alert["labels"] == {
        "team": "web",
        "alertname": "WatchkeeperError",
        "project": "shop",
        "issue": "12",
        "severity": "critical",
        "kind": "error",
    }
    assert alert["annotations"]["summary"] == "ValueError: bad"
    assert alert["generatorURL"] == "https://wk.example.com/errors/12"


def test_a_monitors_alert_keeps_its_labels() -> None:
    item = AlertItem("api", "down", "up", 1000.0, 990.0, kind="http")

    labels = alert_of(item, SETTINGS, 1000.0, None)["labels"]

    assert labels == {
        "team": "web",
        "alertname": "WatchkeeperMonitor",
        "monitor": "api",
        "severity": "critical",
        "kind": "http",
    }
