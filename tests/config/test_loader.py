from __future__ import annotations

import os
from pathlib import Path

import pytest

from watchkeeper.config import load_config, parse_config
from watchkeeper.config.example import EXAMPLE
from watchkeeper.errors import ConfigError


def problems(text: str, env: dict[str, str] | None = None) -> list[ConfigError]:
    with pytest.raises(ConfigError) as caught:
        parse_config(text, "wk.yaml", env=env or {})
    return caught.value.problems


def one(text: str, env: dict[str, str] | None = None) -> ConfigError:
    found = problems(text, env)
    assert len(found) == 1, [p.one_line() for p in found]
    return found[0]


def test_the_example_written_by_init_validates() -> None:
    config = parse_config(EXAMPLE, "watchkeeper.yaml", env={})
    assert {m.kind for m in config.monitors} == {"http", "tls", "dns", "tcp"}
    assert config.monitor("mail") is not None and config.monitor("mail").paused  # type: ignore[union-attr]


def test_defaults_apply_and_monitors_override_them() -> None:
    config = parse_config(
        """
defaults: {interval: 1m, timeout: 5s, confirm: 3, tags: [prod]}
monitors:
  - {name: a, http: "http://127.0.0.1:1/"}
  - {name: b, http: "http://127.0.0.1:1/", interval: 10s, confirm: 1, tags: [edge]}
""",
        "wk.yaml",
        env={},
    )
    a, b = config.monitors
    assert (a.interval, a.timeout, a.confirm, a.tags) == (60, 5, 3, ("prod",))
    assert (b.interval, b.timeout, b.confirm, b.tags) == (10, 5, 1, ("edge",))


def test_http_gets_a_status_expectation_unless_the_user_wrote_one() -> None:
    config = parse_config(
        """
monitors:
  - {name: a, http: "http://x/", expect: ["latency < 1s"]}
  - {name: b, http: "http://x/", expect: ["status == 503"]}
""",
        "wk.yaml",
        env={},
    )
    a, b = config.monitors
    assert [str(e) for e in a.expectations] == ["latency < 1s", "status < 400"]
    assert [str(e) for e in b.expectations] == ["status == 503"]


def test_variables_and_files_are_interpolated_and_remembered_as_secrets(tmp_path: Path) -> None:
    secret_file = tmp_path / "token"
    secret_file.write_text("s3cr3t-from-file\n")
    config = parse_config(
        f"""
monitors:
  - name: api
    http:
      url: "https://${{HOST}}/health?key=${{API_KEY}}"
      headers: {{Authorization: "Bearer ${{file:{secret_file}}}"}}
  - {{name: b, http: "http://${{MISSING:-127.0.0.1}}/"}}
""",
        "wk.yaml",
        env={"HOST": "api.example.com", "API_KEY": "k-123456"},
    )
    api = config.monitors[0]
    assert api.settings.url == "https://api.example.com/health?key=k-123456"  # type: ignore[attr-defined]
    assert api.settings.headers["Authorization"] == "Bearer s3cr3t-from-file"  # type: ignore[attr-defined]
    assert "k-123456" in config.secrets and "s3cr3t-from-file" in config.secrets
    assert "k-123456" not in api.target
    assert config.monitors[1].settings.url == "http://127.0.0.1/"  # type: ignore[attr-defined]


def test_a_relative_sqlite_store_lives_beside_the_config(tmp_path: Path) -> None:
    path = tmp_path / "conf" / "wk.yaml"
    path.parent.mkdir()
    path.write_text("storage: sqlite:///data/wk.db\nmonitors: []\n")
    config = load_config(path, env={})
    assert config.storage == f"sqlite:///{tmp_path}/conf/data/wk.db"
    postgres = parse_config("storage: postgresql://u@h/db\n", "x.yaml", env={})
    assert postgres.storage == "postgresql+psycopg://u@h/db"


# -- bad input: each names file:line, the monitor, and what to do -------------------------------
def test_malformed_yaml_names_the_line() -> None:
    error = one("monitors:\n  - name: a\n    http: [unclosed\n")
    assert error.file == "wk.yaml" and error.line == 4
    assert "malformed YAML" in error.message


def test_a_syntax_error_names_where_the_unclosed_construct_opened() -> None:
    """The parser notices an unclosed '[' only where the next construct starts: the line
    of the failure alone sends the reader to a line with nothing wrong on it."""
    error = one(
        "monitors:\n"
        "  - name: a\n"
        "    http: http://x/\n"
        "  - name: b\n"
        "    expect: [status == 200,\n"
        "  - name: c\n"
        "    http: http://y/\n"
    )
    assert error.line == 6
    assert error.message.startswith("malformed YAML: ")  # the parser's words, then ours
    assert error.message.endswith("(inside the '[' opened at line 5: is its ']' missing?)")
    error = one("monitors:\n  - {name: a, http: http://x/\n  - name: c\n")
    assert error.line == 3 and "(inside the '{' opened at line 2: is its '}' missing?)" in (
        error.message
    )
    error = one("monitors:\n  - name: 'a\n    http: http://x/\n  - name: b\n")
    assert (error.line, error.message) == (
        5,
        "malformed YAML: found unexpected end of stream "
        "(while scanning a quoted scalar started at line 2)",
    )
    error = one("monitors:\n  - {name: a, expect: [1, 2], http: [x y}\n")  # all on one line
    assert error.line == 2 and "opened at" not in error.message


def test_an_unknown_key_suggests_the_closest_valid_one() -> None:
    error = one("monitors:\n  - name: api\n    http: http://x/\n    intervall: 30s\n")
    assert (error.line, error.monitor) == (4, "api")
    assert "unknown key 'intervall' (did you mean 'interval'?)" in error.message


def test_a_misspelt_kind_suggests_the_kind() -> None:
    error = one("monitors:\n  - name: api\n    htpp: http://x/\n")
    assert error.line == 3 and "did you mean 'http'" in error.message


def test_an_unknown_section_suggests_the_closest() -> None:
    error = one("monitor:\n  - {name: a, http: http://x/}\n")
    assert error.line == 1 and "did you mean 'monitors'" in error.message


def test_a_wrong_type_says_what_was_expected() -> None:
    error = one("monitors:\n  - name: api\n    http: http://x/\n    confirm: twice\n")
    assert error.line == 4 and "confirm: expected a whole number, got 'twice'" in error.message


def test_a_bad_duration_names_the_line_and_the_fix() -> None:
    error = one("defaults:\n  interval: 30\n")
    assert error.line == 2 and "add a unit, e.g. 30s" in error.message


def test_a_bad_expectation_names_the_line_and_column() -> None:
    error = one(
        "monitors:\n  - name: api\n    http: http://x/\n    expect:\n"
        "      - status == 200\n      - latency < 500\n"
    )
    assert (error.line, error.monitor) == (6, "api")
    assert "expect[1]" in error.message and "column 11" in error.message


def test_a_duplicate_monitor_name_points_at_both() -> None:
    error = one("monitors:\n  - {name: api, http: http://x/}\n  - {name: api, tcp: 'x:1'}\n")
    assert error.line == 3 and "first defined at line 2" in error.message


def test_an_unset_variable_is_named() -> None:
    error = one("monitors:\n  - name: api\n    http: https://${API_HOST}/\n")
    assert error.line == 3 and "${API_HOST} is not set" in error.message


def test_an_unreadable_file_reference_is_named(tmp_path: Path) -> None:
    missing = tmp_path / "nope"
    error = one(f"monitors:\n  - name: api\n    http: 'https://x/?t=${{file:{missing}}}'\n")
    assert error.line == 3 and "cannot be read" in error.message


def test_a_monitor_needs_exactly_one_kind() -> None:
    assert "no check kind" in one("monitors:\n  - {name: a, interval: 5s}\n").message
    assert "more than one" in one("monitors:\n  - {name: a, http: http://x/, tcp: 'x:1'}\n").message


def test_kind_settings_are_validated_with_their_location() -> None:
    error = one("monitors:\n  - name: a\n    http:\n      url: ftp://x/\n")
    assert error.line == 4 and "http://" in error.message
    error = one("monitors:\n  - name: a\n    http: {url: 'http://x/', methd: GET}\n")
    assert "did you mean 'method'" in error.message


def test_dependencies_and_routes_must_exist_and_not_loop() -> None:
    assert (
        "did you mean 'db'"
        in one(
            "monitors:\n  - {name: db, tcp: 'x:1'}\n  - {name: api, http: http://x/, "
            "depends_on: [dbb]}\n"
        ).message
    )
    cycle = one(
        "monitors:\n  - {name: a, tcp: 'x:1', depends_on: [b]}\n"
        "  - {name: b, tcp: 'x:1', depends_on: [a]}\n"
    )
    assert "dependency cycle" in cycle.message
    assert "not defined" in one("monitors:\n  - {name: a, tcp: 'x:1', notify: [ops]}\n").message


def test_an_unknown_route_is_one_located_problem_whether_or_not_routes_are_defined() -> None:
    monitor = "monitors:\n  - name: api\n    http: http://x/\n    notify: [nope, nope]\n"
    error = one(monitor)
    assert (error.line, error.monitor) == (4, "api")
    assert error.message == "notify route 'nope' is not defined: add it under notify:"
    error = one("notify: [{name: ops, webhook: 'http://h/'}]\n" + monitor.replace("nope", "opz"))
    assert error.line == 5 and error.message == (
        "notify route 'opz' is not defined (did you mean 'ops'?)"
    )
    error = one(  # from the defaults: once, where it is written, not once per monitor
        "defaults:\n  notify: [nope]\n"
        "monitors:\n  - {name: a, tcp: 'x:1'}\n  - {name: b, tcp: 'x:1'}\n"
    )
    assert (error.line, error.monitor) == (2, None) and "'nope' is not defined" in error.message
    error = one(
        "monitors:\n  - name: api\n    http: http://x/\n"
        "    escalate:\n      after: 10m\n      to: [pager]\n"
    )
    assert (error.line, error.monitor) == (6, "api") and "'pager' is not defined" in (error.message)


def test_timeout_may_not_exceed_interval() -> None:
    error = one("monitors:\n  - {name: a, tcp: 'x:1', interval: 5s, timeout: 10s}\n")
    assert "exceeds the interval" in error.message


def test_duplicate_yaml_keys_are_refused() -> None:
    error = one("monitors:\n  - name: a\n    name: b\n    tcp: 'x:1'\n")
    assert error.line == 3 and "duplicate key 'name'" in error.message


def test_all_problems_are_reported_in_file_order() -> None:
    found = problems(
        "monitors:\n  - {name: a, tcp: 'x:1', interval: 3}\n"
        "  - {name: b, http: 'http://x/', expect: ['status = 1']}\n"
    )
    assert [p.line for p in found] == [2, 3]


def test_a_missing_file_is_one_clear_line(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as caught:
        load_config(tmp_path / "nope.yaml")
    assert "cannot read config" in caught.value.one_line()
    assert os.fspath(tmp_path / "nope.yaml") in caught.value.one_line()


def test_yaml_anchors_and_aliases_work() -> None:
    config = parse_config(
        """
monitors:
  - name: a
    http: {url: "http://x/", headers: &auth {X-Token: abc}}
  - name: b
    http: {url: "http://y/", headers: *auth}
""",
        "wk.yaml",
        env={},
    )
    assert config.monitors[1].settings.headers == {"X-Token": "abc"}  # type: ignore[attr-defined]


def test_a_second_yaml_document_is_refused() -> None:
    error = one("monitors: []\n---\nmonitors: []\n")
    assert error.line == 2 and "one YAML document" in error.message


def test_scalars_keep_their_yaml_types() -> None:
    config = parse_config(
        "monitors:\n  - {name: a, tcp: 'x:1', confirm: 3, public: yes, paused: false}\n",
        "wk.yaml",
        env={},
    )
    monitor = config.monitors[0]
    assert (monitor.confirm, monitor.public, monitor.paused) == (3, True, False)


def test_errors_never_quote_a_substituted_secret() -> None:
    found = problems(
        "monitors:\n"
        "  - {name: a, http: 'http://x/', expect: ['json.token == ${TOKEN}']}\n"
        "  - {name: b, http: 'ftp://user:${TOKEN}@host/'}\n",
        env={"TOKEN": "hunter2secret"},
    )
    assert len(found) == 2
    for problem in found:
        assert "hunter2secret" not in problem.one_line()
        assert "***" in problem.one_line()


def test_shown_expectations_mask_secrets() -> None:
    config = parse_config(
        "monitors:\n  - {name: a, http: 'http://x/', expect: [\"json.echo == '${TOKEN}'\"]}\n",
        "wk.yaml",
        env={"TOKEN": "hunter2secret"},
    )
    assert config.monitors[0].expect_texts == ("json.echo == '***'", "status < 400")


@pytest.mark.parametrize(
    ("retention", "words"),
    [
        ("{raw: 0s}", "raw must be at least 2d"),
        ("{raw: 30d, minute: 7d}", "minute must be at least as long as raw"),
        ("{minute: 90d, hour: 30d}", "hour must be at least as long as minute"),
    ],
)
def test_retention_keeps_coarser_history_longer(retention: str, words: str) -> None:
    error = one(f"retention: {retention}\n")
    assert error.line == 1 and words in error.message


def test_trusted_proxies_are_addresses_or_networks() -> None:
    config = parse_config(
        "server: {trusted_proxies: [10.0.0.0/8, '::1']}\nmonitors: []\n", "wk.yaml", env={}
    )
    assert config.server.trusted_proxies == ("10.0.0.0/8", "::1")
    assert parse_config("monitors: []\n", "wk.yaml", env={}).server.trusted_proxies == ()
    found = one("server:\n  trusted_proxies: [proxy.internal]\nmonitors: []\n")
    assert found.line == 2 and "'proxy.internal' is not an address or network" in found.message


@pytest.mark.parametrize(
    ("name", "words"),
    [
        ("café☃", "'☃' (U+2603) cannot be in a name"),
        ("deploy 🚀", "(U+1F680) cannot be in a name"),
        ("a/b", "'/' (U+002F) cannot be in a name"),
        ("a\\tb", "(U+0009) cannot be in a name"),
        ("a,b", "',' (U+002C) cannot be in a name"),
        (" api", "cannot start or end with a space: use letters and digits"),
    ],
)
def test_a_monitor_name_outside_the_documented_characters_is_refused(name: str, words: str) -> None:
    error = one(f'monitors:\n  - {{name: "{name}", tcp: "x:1"}}\n')
    assert error.line == 2 and words in error.message
    assert "letters and digits (any alphabet), spaces between words" in error.message


def test_monitor_names_may_be_letters_of_any_alphabet_digits_and_a_few_marks() -> None:
    names = ["db[replica]", "café", "監視 web", "API (prod)", "eu-1.web_2:443", "ops@home+1"]
    text = "monitors:\n" + "".join(f'  - {{name: "{n}", tcp: "x:1"}}\n' for n in names)
    config = parse_config(text, "wk.yaml", env={})
    assert [m.name for m in config.monitors] == names


def test_two_heartbeats_sharing_a_uuid_name_the_second_line_and_the_first_monitor() -> None:
    uuid = "6f9b8a52-3c1e-4d7e-9a55-1d2b3c4d5e6f"
    error = one(
        "monitors:\n"
        f"  - {{name: nightly, heartbeat: {{period: 1d, uuid: {uuid}}}}}\n"
        "  - {name: api, tcp: 'x:1'}\n"
        "  - name: hourly\n"
        "    heartbeat:\n"
        "      period: 1h\n"
        f"      uuid: {uuid.upper()}\n"
    )
    assert (error.line, error.monitor) == (7, "hourly")
    assert error.message.startswith(
        f"heartbeat uuid {uuid} is already used by monitor 'nightly' (line 2)"
    )
