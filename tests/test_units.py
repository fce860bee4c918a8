from __future__ import annotations

import pytest

from watchkeeper.units import format_duration, format_size, parse_duration, parse_size, plural


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        ("250ms", 0.25),
        ("30s", 30),
        ("5m", 300),
        ("1h30m", 5400),
        ("14d", 14 * 86400),
        ("2w", 14 * 86400),
        ("1y", 365 * 86400),
        ("1.5s", 1.5),
        ("500us", 0.0005),
    ],
)
def test_it_parses_durations_as_users_write_them(text: str, seconds: float) -> None:
    assert parse_duration(text) == pytest.approx(seconds)


@pytest.mark.parametrize("text", ["30", "", "s", "5 minutes", "1h-3m", "ms5"])
def test_it_rejects_bad_durations_with_a_hint(text: str) -> None:
    with pytest.raises(ValueError, match="bad duration"):
        parse_duration(text)


def test_a_bare_number_duration_suggests_a_unit() -> None:
    with pytest.raises(ValueError, match="30s"):
        parse_duration("30")


@pytest.mark.parametrize(
    ("text", "size"),
    [("1MiB", 1024**2), ("10KB", 10_000), ("512B", 512), ("1.5KiB", 1536), ("2GB", 2 * 10**9)],
)
def test_it_parses_sizes(text: str, size: int) -> None:
    assert parse_size(text) == size


def test_it_rejects_unknown_size_units() -> None:
    with pytest.raises(ValueError, match="bad size"):
        parse_size("5 parsecs")


@pytest.mark.parametrize(
    ("seconds", "text"),
    [
        (0.8123, "812ms"),
        (0.0042, "4.2ms"),
        (1.5, "1.5s"),
        (90, "1m30s"),
        (14 * 86400, "14d"),
        (3 * 3600 + 5, "3h"),
        (-2.0, "-2s"),
    ],
)
def test_it_prints_durations_briefly(seconds: float, text: str) -> None:
    assert format_duration(seconds) == text


def test_it_prints_sizes_in_binary_units() -> None:
    assert format_size(1024**2) == "1MiB"
    assert format_size(1536) == "1.5KiB"
    assert format_size(12) == "12B"


def test_milliseconds_and_series_values_read_short() -> None:
    from watchkeeper.units import format_ms, format_value

    assert format_ms(142.3) == "142ms" and format_ms(1234.0) == "1.23s"
    assert format_value(48.0) == "48" and format_value(0.0421) == "0.0421"
    assert format_value(1_050_000.0) == "1.05M" and format_value(250.0) == "250"
    assert format_value(3 * 1024**2, "redis.used_memory") == "3MiB"


def test_counts_read_as_a_sentence_says_them() -> None:
    assert plural(1, "finding") == "1 finding"
    assert plural(0, "finding") == "0 findings"
    assert plural(2, "open incident") == "2 open incidents"
    assert plural(1204, "monitor") == "1,204 monitors"
    assert plural(3, "success", "successes") == "3 successes"
    assert plural(1, "success", "successes") == "1 success"
