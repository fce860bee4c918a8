"""The diff of two configs that a live reload reports and acts on: things matched by name (a
status page by path), compared by what they are, never by where they are written."""

from __future__ import annotations

from pathlib import Path

from watchkeeper.config import Config, parse_config
from watchkeeper.config.diff import (
    Changed,
    diff_configs,
    monitor_changes,
    with_running_settings,
)

BASE = """
storage: sqlite:///wk.db
server: {listen: 127.0.0.1:8844}
defaults: {interval: 30s, timeout: 5s}
notify:
  - {name: ops, webhook: "https://hooks.example.com/ops"}
  - {name: dba, webhook: "https://hooks.example.com/dba"}
maintenance:
  - {name: nightly, cron: "0 3 * * *", duration: 30m}
status_pages:
  - {path: /status, title: Acme, components: [{name: Web, monitors: [api]}]}
monitors:
  - {name: api, http: "https://api.example.com/health", expect: ["status == 200"]}
  - {name: db, tcp: "db.internal:5432", notify: [dba]}
  - {name: cert, tls: "example.com:443", interval: 1h}
"""


def load(text: str) -> Config:
    return parse_config(text, "/etc/wk/watchkeeper.yaml", env={})


def edit(*replacements: tuple[str, str]) -> Config:
    text = BASE
    for old, new in replacements:
        assert old in text, old
        text = text.replace(old, new)
    return load(text)


def test_the_same_file_with_things_moved_and_comments_added_changes_nothing() -> None:
    moved = edit(
        (
            '  - {name: api, http: "https://api.example.com/health", expect: ["status == 200"]}\n'
            '  - {name: db, tcp: "db.internal:5432", notify: [dba]}\n',
            '  # the database first now\n  - {name: db, tcp: "db.internal:5432", notify: [dba]}\n'
            "\n"
            '  - {name: api, http: "https://api.example.com/health", expect: ["status == 200"]}\n',
        ),
        ("  - {name: ops,", "  # ops\n  - {name: ops,"),
    )
    changes = diff_configs(load(BASE), moved)
    assert not changes, changes.lines()
    assert changes.lines() == []
    assert moved.monitor("api").line != load(BASE).monitor("api").line  # type: ignore[union-attr]


def test_monitors_added_removed_and_changed_are_named_with_the_keys_that_changed() -> None:
    new = load(
        BASE.replace('expect: ["status == 200"]', 'expect: ["status == 204"], interval: 10s')
        .replace('  - {name: db, tcp: "db.internal:5432", notify: [dba]}\n', "")
        .replace('tls: "example.com:443"', 'tls: "example.org:443"')
        + '  - {name: queue, tcp: "mq.internal:5672"}\n'
    )
    monitors = diff_configs(load(BASE), new).monitors
    assert monitors.added == ("queue",)
    assert monitors.removed == ("db",)
    assert monitors.changed == (
        Changed("api", ("interval", "expect")),
        Changed("cert", ("tls",)),
    )
    assert monitors.summary("monitors") == (
        "monitors: +queue, -db, ~api (interval, expect), ~cert (tls)"
    )


def test_a_new_default_changes_every_monitor_that_inherits_it() -> None:
    changes = diff_configs(load(BASE), edit(("interval: 30s", "interval: 1m")))
    assert changes.monitors.changed == (
        Changed("api", ("interval",)),
        Changed("db", ("interval",)),
    ), "cert sets its own interval"
    assert changes.settings == ("defaults",)


def test_a_kind_change_is_one_change_however_much_else_differs() -> None:
    old = load(BASE).monitor("db")
    new = edit(('tcp: "db.internal:5432"', 'postgres: "postgresql://app@db.internal/app"'))
    assert old is not None
    assert monitor_changes(old, new.monitor("db")) == ("kind",)  # type: ignore[arg-type]


def test_routes_pages_and_maintenance_windows_are_matched_by_name_or_path() -> None:
    new = edit(
        ("hooks.example.com/dba", "hooks.example.com/dba2"),
        ('  - {name: ops, webhook: "https://hooks.example.com/ops"}\n', ""),
        ("title: Acme", "title: Acme Inc"),
        (
            "duration: 30m}",
            'duration: 1h}\n  - {name: upgrade, start: "2030-01-01T02:00:00", duration: 2h}',
        ),
        ("monitors:\n  - {name: api", "monitors:\n  - {name: api, notify: [dba]"),
    )
    changes = diff_configs(load(BASE), new)
    assert changes.routes.removed == ("ops",)
    assert changes.routes.changed == (Changed("dba", ("webhook",)),)
    assert changes.status_pages.changed == (Changed("/status", ("title",)),)
    assert changes.maintenance.added == ("upgrade",)
    assert changes.maintenance.changed == (Changed("nightly", ("duration",)),)
    assert changes.lines() == [
        "monitors: ~api (notify)",
        "routes: -ops, ~dba (webhook)",
        "status pages: ~/status (title)",
        "maintenance: +upgrade, ~nightly (duration)",
    ]


def test_settings_a_running_server_cannot_change_are_reported_and_kept() -> None:
    old = load(BASE)
    new = edit(
        ("sqlite:///wk.db", "sqlite:///other.db"),
        (
            "listen: 127.0.0.1:8844}",
            "listen: 127.0.0.1:9000, trusted_proxies: [10.0.0.1]}\n"
            "engine: {concurrency: 5, resolvers: [9.9.9.9], flush_timeout: 5s}\n"
            "retention: {raw: 3d}",
        ),
    )
    changes = diff_configs(old, new)
    assert changes.restart == (
        "storage",
        "server.listen",
        "server.trusted_proxies",
        "engine.concurrency",
        "engine.resolvers",
    )
    assert changes.settings == ("retention", "engine.flush_timeout")
    assert changes.lines()[-1].startswith("needs a restart (running values kept): storage, ")

    applied = with_running_settings(old, new)
    assert applied.storage == old.storage
    assert applied.server.listen == "127.0.0.1:8844"
    assert applied.server.trusted_proxies == ()
    assert applied.engine.concurrency == old.engine.concurrency
    assert applied.engine.resolvers == ()
    assert applied.engine.flush_timeout == 5.0
    assert applied.retention.raw == 3 * 86400
    assert applied.monitors == new.monitors


def test_the_files_a_config_reads_are_listed_for_the_watch(tmp_path: Path) -> None:
    secret = tmp_path / "token"
    secret.write_text("s3cret-token\n")
    path = tmp_path / "watchkeeper.yaml"
    text = (
        "monitors:\n  - name: api\n    http:\n      url: https://a.example.com\n"
        f'      headers: {{X-Token: "${{file:{secret}}}"}}\n'
    )
    path.write_text(text)
    config = parse_config(text, str(path), env={})
    assert config.files == (str(path), str(secret))
