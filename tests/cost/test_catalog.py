"""The price catalog: the shipped one is whole and dated, a bad row is named by file:line,
and a refreshed one installed beside the config is what later runs read (a bad refresh
leaves the catalog in use as it was)."""

from __future__ import annotations

import csv
import datetime as dt
from pathlib import Path

import pytest

from watchkeeper.config import parse_config
from watchkeeper.cost import catalog
from watchkeeper.cost.catalog import CatalogError
from watchkeeper.errors import ConfigError

HEADER = "provider,type,family,class,vcpu,memory_gib,monthly_usd,region,source,date\n"
SHIPPED = Path(catalog.__file__).with_name("catalog.csv")


def test_the_shipped_catalog_prices_every_provider_family_with_a_source_and_date() -> None:
    lines = SHIPPED.read_text().splitlines()
    rows = list(csv.DictReader(line for line in lines if not line.startswith("#")))
    found = catalog.shipped()

    assert len(found.prices) == len(rows) >= 80
    assert found.providers() == ["aws", "azure", "digitalocean", "gcp", "hetzner"]
    families = {(p.provider, p.family) for p in found.prices}
    for wanted in [("aws", "t3"), ("aws", "m6i"), ("aws", "c6i"), ("aws", "r6i")]:
        assert wanted in families
    assert {("gcp", "e2"), ("gcp", "n2"), ("gcp", "c2"), ("hetzner", "ccx")} <= families
    assert {p.kind for p in found.of("azure")} == {"general", "compute", "memory", "shared"}
    assert all(p.source.startswith("https://") and p.date.year == 2025 for p in found.prices)
    # the header says what the prices are and that they age
    head = SHIPPED.read_text().split("provider,")[0]
    assert "list prices" in head and "refresh" in head
    m6i = found.find("AWS", "M6I.large")
    assert m6i is not None and (m6i.vcpu, m6i.memory_gib, m6i.monthly_usd) == (2, 8, 70.08)


@pytest.mark.parametrize(
    ("row", "why"),
    [
        ("aws,x1.big,x1,general,2,8,lots,us-east-1,https://a,2025-01-01", "monthly_usd 'lots'"),
        ("aws,x1.big,x1,general,2,8,-3,us-east-1,https://a,2025-01-01", "above zero"),
        ("aws,x1.big,x1,tiny,2,8,30,us-east-1,https://a,2025-01-01", "class 'tiny'"),
        ("aws,x1.big,x1,general,2,8,30,us-east-1,https://a,01/02/2025", "YYYY-MM-DD"),
        ("aws,x1.big,x1,general,2,8,30,us-east-1", "8 columns"),
        ("aws,m6i.large,m6i,general,2,8,70,us-east-1,https://a,2025-01-01", "listed twice"),
    ],
)
def test_a_bad_row_is_named_by_file_and_line(tmp_path: Path, row: str, why: str) -> None:
    source = tmp_path / "prices.csv"
    source.write_text(
        "# refreshed\n"
        + HEADER
        + "aws,m6i.large,m6i,general,2,8,70.08,us-east-1,https://a,2025-01-01\n"
        + row
        + "\n"
    )

    with pytest.raises(CatalogError) as caught:
        catalog.read(source)

    assert str(caught.value).startswith(f"{source}:4: ")
    assert why in str(caught.value)
    assert "\n" not in str(caught.value)


def test_a_header_without_a_column_says_which(tmp_path: Path) -> None:
    source = tmp_path / "prices.csv"
    source.write_text("provider,type,vcpu\naws,m6i.large,2\n")

    with pytest.raises(CatalogError, match=r":1: the header lacks family, class, memory_gib"):
        catalog.read(source)


def test_an_installed_catalog_is_what_later_runs_and_config_checks_read(tmp_path: Path) -> None:
    config = tmp_path / "watchkeeper.yaml"
    config.write_text("monitors: []\n")
    fresh = tmp_path / "fresh.csv"
    fresh.write_text(
        HEADER
        + "aws,m6i.large,m6i,general,2,8,65.00,us-east-1,https://a,2026-11-01\n"
        + "aws,m7i.large,m7i,general,2,8,73.58,us-east-1,https://a,2026-11-01\n"
    )
    assert catalog.current(config).origin == "shipped"
    with pytest.raises(ConfigError, match=r"has no type 'm7i\.large'"):
        parse_config(
            "monitors:\n  - {name: b, host: local, instance: aws/m7i.large}\n", str(config)
        )

    installed = catalog.install(fresh, config)

    assert Path(installed.origin) == tmp_path / catalog.INSTALLED_NAME
    now_in_use = catalog.current(config)
    assert now_in_use.date == dt.date(2026, 11, 1)
    price = now_in_use.find("aws", "m6i.large")
    assert price is not None and price.monthly_usd == 65.00
    loaded = parse_config(
        "monitors:\n  - {name: b, host: local, instance: aws/m7i.large}\n", str(config)
    )
    assert loaded.monitors[0].instance == ("aws", "m7i.large")

    broken = tmp_path / "broken.csv"
    broken.write_text(HEADER + "aws,m8i.large,m8i,general,2,8,,us-east-1,https://a,2026-12-01\n")
    with pytest.raises(CatalogError, match=r"broken.csv:2: monthly_usd '' is not a number"):
        catalog.install(broken, config)

    kept = catalog.current(config)
    assert kept.find("aws", "m7i.large") is not None and kept.find("aws", "m8i.large") is None


def test_a_catalog_is_stale_after_180_days() -> None:
    shipped = catalog.shipped()

    assert not shipped.stale(shipped.date + dt.timedelta(days=180))
    assert shipped.stale(shipped.date + dt.timedelta(days=181))


def test_the_config_names_an_unknown_provider_or_type_by_line() -> None:
    text = """monitors:
  - name: web
    host: local
    instance: {provider: aws, type: m6i.xlarge}
  - name: db-box
    host: local
    instance: {provider: amazon, type: m6i.large}
  - name: other
    host: local
    instance: gcp/n2-standard-3
  - name: api
    http: https://example.com
    cost: 84/month
"""
    with pytest.raises(ConfigError) as caught:
        parse_config(text, "wk.yaml")

    assert caught.value.lines() == [
        "wk.yaml:7: monitor 'db-box': instance: provider 'amazon' is not in the price catalog "
        "(known: aws, azure, digitalocean, gcp, hetzner)",
        "wk.yaml:10: monitor 'other': instance: the price catalog of gcp has no type "
        "'n2-standard-3' (did you mean 'n2-standard-8'?); add it with wk cost catalog update "
        "FILE.csv",
        "wk.yaml:13: monitor 'api': cost: prices a machine; only host, prometheus, postgres, "
        "redis, mysql monitors have one",
    ]


@pytest.mark.parametrize(
    ("written", "monthly"),
    [("84/month", 84.0), (84, 84.0), ("$84/month", 84.0), ("1008/year", 84.0), ("0.1/hour", 73.0)],
)
def test_a_cost_is_read_as_dollars_a_month(written: object, monthly: float) -> None:
    loaded = parse_config(
        f"monitors:\n  - {{name: b, host: local, cost: {written!r}}}\n".replace("'", '"'), "w.yaml"
    )

    assert loaded.monitors[0].monthly_cost == pytest.approx(monthly)


def test_a_mistake_inside_instance_names_the_keys_instance_takes() -> None:
    text = "monitors:\n  - name: c\n    host: local\n    instance: {provider: aws, size: 3}\n"

    with pytest.raises(ConfigError) as caught:
        parse_config(text, "wk.yaml")

    assert caught.value.lines() == [
        "wk.yaml:4: monitor 'c': missing required key 'instance.type'",
        "wk.yaml:4: monitor 'c': unknown key 'size'; valid keys: provider, type",
    ]
