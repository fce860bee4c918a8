"""Pure rules of the tracker: keys, rate-limit answers, release order and regressions."""

from __future__ import annotations

import pytest

from watchkeeper.config.projects import ProjectConfig, parse_rate_limit
from watchkeeper.engine.buckets import TokenBuckets
from watchkeeper.errortrack import keys
from watchkeeper.errortrack.lifecycle import Resolution, Resolved, is_newer, reopens
from watchkeeper.errortrack.limits import ProjectRates, Refusal, rate_limit_headers

KEY = "0123456789abcdef0123456789abcdef"


def test_keys_where_sdks_put_them() -> None:
    assert (
        keys.from_auth_header(f"Sentry sentry_version=7, sentry_key={KEY}, sentry_client=x") == KEY
    )
    assert keys.from_auth_header(f'sentry sentry_key="{KEY}"') == KEY
    assert keys.from_auth_header(f"DSN https://{KEY}@wk.example.com/4") == KEY
    assert keys.from_auth_header("Bearer wkt_something") is None
    assert keys.from_query(f"sentry_version=7&sentry_key={KEY}") == KEY
    assert keys.from_dsn(f"https://{KEY}@wk.example.com/prefix/4") == (KEY, "4")
    assert keys.from_dsn(12) == (None, None)
    assert (
        keys.dsn("https://wk.example.com/prefix/", KEY, 4)
        == f"https://{KEY}@wk.example.com/prefix/4"
    )
    assert len(keys.new_key()) == 32 and keys.new_key() != keys.new_key()


def test_a_limited_category_is_answered_as_sdks_read_it() -> None:
    headers = dict(
        rate_limit_headers([Refusal(("error", "default"), 12), Refusal(("session",), 3)])
    )

    assert headers == {
        b"retry-after": b"12",
        b"x-sentry-rate-limits": b"12:error;default:project, 3:session:project",
    }
    assert rate_limit_headers([]) == []


def test_a_project_bucket_refills_at_its_rate() -> None:
    now = [0.0]
    rates = ProjectRates(TokenBuckets(clock=lambda: now[0]))
    limit = parse_rate_limit("3/30s")

    takes = [rates.take_event(1, limit.count, limit.per_second) for _ in range(4)]
    assert takes[:3] == [0.0, 0.0, 0.0] and takes[3] == pytest.approx(10.0)
    assert rates.take_event(2, limit.count, limit.per_second) == 0.0, "projects apart"
    assert rates.take_other(1, limit.count, limit.per_second) == 0.0, "other items apart"
    now[0] = 10.0
    assert rates.take_event(1, limit.count, limit.per_second) == 0.0


@pytest.mark.parametrize(
    ("text", "count", "per"),
    [("600/m", 600, 60.0), ("50/s", 50, 1.0), ("10000/1h", 10000, 3600.0), ("3/30s", 3, 30.0)],
)
def test_rate_limits_as_written(text: str, count: int, per: float) -> None:
    limit = parse_rate_limit(text)
    assert (limit.count, limit.per) == (count, per)


@pytest.mark.parametrize("text", ["600", "lots/m", "0/m", "5/0s", "5/9d", "-1/m", "1/2"])
def test_bad_rate_limits(text: str) -> None:
    with pytest.raises(ValueError, match="rate limit"):
        parse_rate_limit(text)


def test_origins() -> None:
    project = ProjectConfig("web", origins=("https://shop.example.com", "https://*.example.org"))

    assert project.allows_origin("https://shop.example.com")
    assert project.allows_origin("https://admin.example.org")
    assert not project.allows_origin("https://example.org")
    assert not project.allows_origin("https://evilexample.org")
    assert not project.allows_origin("http://shop.example.com")
    assert ProjectConfig("any").allows_origin("https://anything.test")


def test_releases_order_by_version_else_by_first_sight() -> None:
    seen = {"abc123": 10.0, "def456": 20.0, "1.0": 5.0}

    assert is_newer("1.10.0", "1.9.2", seen)
    assert is_newer("shop@2.0.0", "shop@1.4.7", seen)
    assert not is_newer("1.2.0-rc1", "1.2.0", seen)
    assert is_newer("def456", "abc123", seen)
    assert not is_newer("abc123", "def456", seen)
    assert is_newer("never-seen", "abc123", seen), "a release not seen before is the newest"
    assert is_newer("1.0", "1.0", seen, or_same=True) and not is_newer("1.0", "1.0", seen)


def test_when_an_event_reopens_a_resolved_issue() -> None:
    seen = {"1.0": 1.0, "1.1": 2.0, "2.0": 3.0}
    plain = Resolved(Resolution.NOW, "1.1", at=100.0)
    in_release = Resolved(Resolution.IN_RELEASE, "2.0", at=100.0)
    without = Resolved(Resolution.NOW, None, at=100.0)

    assert not reopens(plain, "1.1", 200.0, seen), "the release it was resolved in"
    assert not reopens(plain, "1.0", 200.0, seen), "an old server"
    assert reopens(plain, "2.0", 200.0, seen)
    assert reopens(plain, None, 200.0, seen)
    assert not reopens(plain, "2.0", 50.0, seen), "received before it was resolved"
    assert not reopens(in_release, "1.1", 200.0, seen), "before the fix shipped"
    assert reopens(in_release, "2.0", 200.0, seen), "the fix did not fix it"
    assert reopens(without, "1.0", 200.0, seen)
