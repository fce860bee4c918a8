"""A backup monitor with ``drill:`` settings brings a drill monitor of its own; drill
settings are checked when the config loads, each problem one located line."""

from __future__ import annotations

import pytest

from watchkeeper.config import parse_config
from watchkeeper.errors import ConfigError

CONFIG = """\
notify:
  - {name: ops, webhook: "http://127.0.0.1:9/hook"}
monitors:
  - name: orders-backup
    backup:
      path: /var/backups/orders/*.dump
      max_age: 26h
      drill:
        every: 1d
        timeout: 30m
        into: "postgresql://drill:s3cret@db.internal:5432/postgres"
        tables: [orders]
        rto: 20m
    notify: [ops]
    tags: [db]
    severity: warning
  - {name: sessions, backup: /var/backups/redis/}
"""


def _problems(text: str) -> list[str]:
    with pytest.raises(ConfigError) as caught:
        parse_config(text, "wk.yaml", env={})
    return [p.one_line() for p in caught.value.problems]


def test_a_backup_with_a_drill_brings_a_drill_monitor() -> None:
    config = parse_config(CONFIG, "wk.yaml", env={})
    assert [(m.name, m.kind) for m in config.monitors] == [
        ("orders-backup", "backup"),
        ("orders-backup drill", "drill"),
        ("sessions", "backup"),
    ]
    drill = config.monitor("orders-backup drill")
    assert drill is not None
    assert drill.interval == 86400 and drill.timeout == 30 * 60 + 60
    assert drill.confirm == 1 and drill.recover == 1
    assert drill.notify == ("ops",) and drill.tags == ("db",) and drill.severity == "warning"
    assert drill.settings.monitor == "orders-backup"  # type: ignore[attr-defined]
    assert drill.settings.backup.drill.rto == 20 * 60  # type: ignore[attr-defined]
    assert "s3cret" not in drill.target and drill.target.startswith(
        "/var/backups/orders/*.dump into"
    )
    backup = config.monitor("orders-backup")
    assert backup is not None and backup.interval == 300  # the kind's default: every 5 minutes


def test_drill_is_not_a_kind_written_by_hand() -> None:
    assert _problems("monitors:\n  - name: x\n    drill: {every: 7d}\n") == [
        "wk.yaml:3: monitor 'x': drill: goes inside a backup monitor: "
        "backup: {path: ..., drill: {every: 7d}}"
    ]


def test_drill_settings_are_checked_where_they_are_written() -> None:
    found = _problems(
        "monitors:\n"
        "  - name: b\n"
        "    backup:\n"
        "      path: /backups\n"
        "      drill:\n"
        "        into: ftp://elsewhere\n"
    )
    assert len(found) == 1
    assert found[0].startswith("wk.yaml:6: monitor 'b': ")
    assert "into 'ftp://elsewhere' must be cluster, redis, auto or a server URL" in found[0]
    assert (
        "compare: source needs source"
        in _problems(
            "monitors:\n  - name: b\n    backup:\n      path: /backups\n"
            "      drill: {compare: source}\n"
        )[0]
    )
    assert (
        "'orders; drop' is not a table name"
        in _problems(
            "monitors:\n  - name: b\n    backup:\n      path: /backups\n"
            "      drill: {tables: ['orders; drop']}\n"
        )[0]
    )
    assert (
        "timeout cannot exceed every"
        in _problems(
            "monitors:\n  - name: b\n    backup:\n      path: /backups\n"
            "      drill: {every: 1h, timeout: 2h}\n"
        )[0]
    )


def test_a_relative_path_is_refused() -> None:
    assert "must be absolute" in _problems("monitors:\n  - {name: b, backup: backups/}\n")[0]


def test_the_drills_name_may_not_be_taken() -> None:
    found = _problems(
        "monitors:\n"
        "  - {name: b drill, tcp: 'localhost:1'}\n"
        "  - name: b\n"
        "    backup: {path: /backups, drill: {}}\n"
    )
    assert len(found) == 1
    assert "its drill is named 'b drill', which is taken (line 2)" in found[0]


@pytest.mark.parametrize(
    "url", ["postgresql://drill:p%ss@db/postgres", "mysql://root:pa ss@db/", "ftp://u:s3cr%et@x"]
)
def test_a_url_the_drivers_cannot_read_is_refused_without_quoting_its_password(url: str) -> None:
    found = _problems(
        "monitors:\n  - name: b\n    backup:\n      path: /backups\n"
        f'      drill: {{into: "{url}"}}\n'
    )
    assert len(found) == 1 and found[0].startswith("wk.yaml:5: monitor 'b': drill.into: ")
    password = url.split(":")[2].split("@")[0]
    assert password not in found[0]
    source = _problems(
        "monitors:\n  - name: b\n    backup:\n      path: /backups\n"
        f'      drill: {{compare: source, source: "{url.replace("ftp", "postgresql")}"}}\n'
    )
    assert len(source) == 1 and password not in source[0]


def test_cluster_settings_are_checked() -> None:
    config = parse_config(
        "cluster: {enabled: true, name: a, beat: 2s, ttl: 8s}\n", "wk.yaml", env={}
    )
    assert config.cluster.enabled and config.cluster.name == "a" and config.cluster.ttl == 8.0
    assert not parse_config("monitors: []\n", "wk.yaml", env={}).cluster.enabled
    (found,) = _problems("cluster: {enabled: true, beat: 5s, ttl: 8s}\n")
    assert "ttl must be at least two beats" in found
    (found,) = _problems("cluster: {enabld: true}\n")
    assert "enabled" in found
