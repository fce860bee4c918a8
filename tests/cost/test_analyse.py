"""``analyse`` on a real SQLite store: the real host, node_exporter, Redis and PostgreSQL
checks run into it, and a fortnight of synthetic samples written through the store's write
path before them. What each finding should say is computed here from the samples written
and the catalog's CSV, not with the code under test."""

from __future__ import annotations

import csv
import time
from collections.abc import Iterator
from pathlib import Path
from random import Random

import numpy as np
import pytest
from tests.helpers.machines import DAY, daily, run_real_checks, write_history
from tests.helpers.node_exporter import NodeExporter
from tests.helpers.stores import fresh_sqlite

from watchkeeper.config import Config, parse_config
from watchkeeper.cost import analyse, catalog
from watchkeeper.cost.report import CostReport
from watchkeeper.findings import Finding, Severity
from watchkeeper.store import Store

GIB = 1024.0**3


def prices() -> list[dict[str, str]]:
    text = Path(catalog.__file__).with_name("catalog.csv").read_text()
    return list(csv.DictReader(line for line in text.splitlines() if not line.startswith("#")))


def cheapest_fit(provider: str, vcpu: float, memory_gib: float) -> dict[str, str]:
    """The cheapest dedicated size of ``provider`` with that many vCPUs and GiB."""
    fitting = [
        row
        for row in prices()
        if row["provider"] == provider
        and row["class"] != "shared"
        and float(row["vcpu"]) >= vcpu
        and float(row["memory_gib"]) >= memory_gib
    ]
    return min(fitting, key=lambda row: float(row["monthly_usd"]))


def listed(provider: str, type_: str) -> float:
    row = next(r for r in prices() if (r["provider"], r["type"]) == (provider, type_))
    return float(row["monthly_usd"])


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    url = f"sqlite:///{tmp_path / 'wk.db'}"
    fresh_sqlite(url)  # a migrated copy
    opened = Store.open(url)
    try:
        yield opened
    finally:
        opened.close()


def config_of(tmp_path: Path, monitors: str) -> Config:
    return parse_config(f"monitors:\n{monitors}", str(tmp_path / "watchkeeper.yaml"))


def only(report: CostReport, rule: str) -> Finding:
    found = [f for f in report.findings if f.rule == rule]
    assert len(found) == 1, [f.title for f in report.findings]
    return found[0]


async def test_a_few_real_host_checks_are_too_little_history_to_advise(
    tmp_path: Path, store: Store
) -> None:
    config = config_of(tmp_path, "  - {name: box, host: local, instance: aws/m6i.large}\n")
    results = await run_real_checks(store, config.monitors[0], 3)
    assert all("cpu.used_pct" in r.metrics and "memory.used_pct" in r.metrics for r in results)

    report = await analyse(config, store, now=time.time() + 1)

    finding = only(report, "too-little-history")
    assert finding.severity is Severity.info and finding.subject == "box"
    assert finding.evidence["days_of_data"] == 0.0
    assert finding.evidence["monthly_cost"] == 70.08
    assert not report.actionable
    assert report.summary["monthly_spend"] == 70.08 and report.summary["monthly_saving"] == 0


async def test_an_oversized_host_gets_the_cheapest_size_that_fits_and_its_saving(
    tmp_path: Path, store: Store
) -> None:
    config = config_of(tmp_path, "  - {name: web, host: local, instance: aws/m6i.2xlarge}\n")
    now = time.time()

    def busy(share: float, rng: Random) -> dict[str, float]:
        at = now - 14 * DAY * (1 - share)
        used = 30 + rng.uniform(0, 6)
        return {
            "cpu.used_pct": 4 + 26 * daily(at) + rng.uniform(0, 3),
            "memory.used_pct": used,
            "memory.available": 32 * GIB * (1 - used / 100),
            "net.in_bytes_per_s": 2e5 + rng.uniform(0, 1e4),
            "net.out_bytes_per_s": 4e5,
        }

    written = write_history(store, "web", "host", until=now - 60, days=14, values=busy)
    await run_real_checks(store, config.monitors[0], 2)  # the newest samples: this machine's
    store.rollup(now - 10 * DAY)  # the first 4 days from the rollups, the rest from raw samples

    report = await analyse(config, store, now=time.time() + 1)

    finding = only(report, "oversized")
    evidence = finding.evidence
    cpu_p95 = float(np.percentile([w["cpu.used_pct"] for w in written], 95))
    memory_p99 = float(np.percentile([w["memory.used_pct"] for w in written], 99))
    assert evidence["cpu_p95_pct"] == pytest.approx(cpu_p95, abs=0.6)
    assert evidence["memory_p99_pct"] == pytest.approx(memory_p99, abs=0.6)
    # 8 vCPU at the p95 must run at 65 % or less, 32 GiB at the p99 at 80 % or less
    wanted = cheapest_fit("aws", 8 * cpu_p95 / 100 / 0.65, 32 * memory_p99 / 100 / 0.8)
    assert evidence["suggested_type"] == f"aws/{wanted['type']}" == "aws/m6i.xlarge"
    saving = listed("aws", "m6i.2xlarge") - float(wanted["monthly_usd"])
    assert evidence["monthly_saving"] == pytest.approx(saving)
    assert finding.severity is Severity.warning and report.actionable
    assert report.summary["monthly_saving"] == pytest.approx(saving)
    assert report.summary["monthly_spend"] == listed("aws", "m6i.2xlarge")
    assert evidence["days_of_data"] == pytest.approx(14, abs=0.1)


async def test_a_machine_with_other_memory_than_its_type_is_noted_and_sized_by_its_own(
    tmp_path: Path, store: Store
) -> None:
    config = config_of(tmp_path, "  - {name: odd, host: local, instance: aws/m6i.2xlarge}\n")
    now = time.time()

    def eight_gib(share: float, rng: Random) -> dict[str, float]:
        used = 50 + rng.uniform(0, 10)
        return {
            "cpu.used_pct": 10 + rng.uniform(0, 5),
            "memory.used_pct": used,
            "memory.available": 8 * GIB * (1 - used / 100),
        }

    written = write_history(store, "odd", "host", until=now, days=4, values=eight_gib)

    report = await analyse(config, store, lookback=4 * DAY, now=now)

    noted = only(report, "instance-mismatch")
    assert noted.severity is Severity.info
    assert noted.evidence["memory_gib"] == pytest.approx(8, abs=0.01)
    sized = only(report, "oversized")
    cpu_p95 = float(np.percentile([w["cpu.used_pct"] for w in written], 95))
    memory_p99 = float(np.percentile([w["memory.used_pct"] for w in written], 99))
    wanted = cheapest_fit("aws", 8 * cpu_p95 / 100 / 0.65, 8 * memory_p99 / 100 / 0.8)
    assert sized.evidence["suggested_type"] == f"aws/{wanted['type']}"


async def test_an_idle_machine_saves_what_it_costs_unless_its_traffic_grows(
    tmp_path: Path, store: Store
) -> None:
    config = config_of(
        tmp_path,
        "  - {name: spare, host: local, instance: hetzner/ccx23}\n"
        "  - {name: growing, host: local, instance: hetzner/ccx23}\n"
        "  - {name: old-cron, host: local, cost: 40/month}\n",
    )
    now = time.time()

    def quiet(growth: float) -> object:
        def values(share: float, rng: Random) -> dict[str, float]:
            traffic = 5e4 * (1 + growth * share)
            return {
                "cpu.used_pct": rng.uniform(0.5, 3.5),
                "memory.used_pct": 20 + rng.uniform(0, 2),
                "net.in_bytes_per_s": traffic,
                "net.out_bytes_per_s": traffic / 2,
            }

        return values

    write_history(store, "spare", "host", until=now, days=14, values=quiet(0.0))  # type: ignore[arg-type]
    write_history(store, "growing", "host", until=now, days=14, values=quiet(1.0))  # type: ignore[arg-type]
    write_history(store, "old-cron", "host", until=now, days=10, values=quiet(0.0))  # type: ignore[arg-type]

    report = await analyse(config, store, now=now)

    idle = [f for f in report.findings if f.rule == "idle"]
    assert sorted(f.subject for f in idle) == ["old-cron", "spare"]
    spare = next(f for f in idle if f.subject == "spare")
    assert spare.evidence["monthly_saving"] == listed("hetzner", "ccx23")
    assert spare.evidence["traffic_growth_pct"] == pytest.approx(0, abs=1)
    cron = next(f for f in idle if f.subject == "old-cron")
    assert cron.evidence["monthly_saving"] == 40
    growing = [f for f in report.findings if f.subject == "growing"]
    assert [f.rule for f in growing] == ["oversized"]  # busy with more traffic: not idle
    assert growing[0].evidence["traffic_growth_pct"] > 10
    assert growing[0].evidence["suggested_type"] == "hetzner/ccx13"
    assert report.summary["monthly_saving"] == pytest.approx(
        listed("hetzner", "ccx23") + 40 + listed("hetzner", "ccx23") - listed("hetzner", "ccx13")
    )


async def test_a_machine_running_hot_is_a_risk_with_the_size_it_needs(
    tmp_path: Path, store: Store
) -> None:
    config = config_of(tmp_path, "  - {name: hot, host: local, instance: gcp/n2-standard-4}\n")
    now = time.time()
    written = write_history(
        store,
        "hot",
        "host",
        until=now,
        days=7,
        values=lambda share, rng: {
            "cpu.used_pct": 80 + rng.uniform(0, 18),
            "memory.used_pct": 60 + rng.uniform(0, 5),
        },
    )

    report = await analyse(config, store, lookback=7 * DAY, now=now)

    finding = only(report, "undersized")
    cpu_p95 = float(np.percentile([w["cpu.used_pct"] for w in written], 95))
    memory_p99 = float(np.percentile([w["memory.used_pct"] for w in written], 99))
    wanted = cheapest_fit("gcp", 4 * cpu_p95 / 100 / 0.65, 16 * memory_p99 / 100 / 0.8)
    assert finding.evidence["suggested_type"] == f"gcp/{wanted['type']}"
    assert finding.evidence["monthly_increase"] == pytest.approx(
        float(wanted["monthly_usd"]) - listed("gcp", "n2-standard-4"), abs=0.01
    )
    assert report.summary["monthly_saving"] == 0 and report.actionable


async def test_a_node_exporter_machine_is_sized_from_its_scraped_series(
    tmp_path: Path, store: Store
) -> None:
    exporter = NodeExporter().start()
    try:
        config = config_of(
            tmp_path,
            f"  - {{name: node, prometheus: '{exporter.url}', instance: azure/Standard_D8s_v5}}\n",
        )
        results = await run_real_checks(store, config.monitors[0], 2)
    finally:
        exporter.stop()
    names = set(results[-1].metrics)
    idle = 'metric.node_cpu_seconds_total{mode="idle"}'
    assert {f"{idle}.rate", f"{idle}.count", "metric.node_memory_MemTotal_bytes.value"} <= names
    assert "metric.node_memory_MemAvailable_bytes.value" in names
    cores = results[-1].metrics[f"{idle}.count"]
    total = results[-1].metrics["metric.node_memory_MemTotal_bytes.value"]
    now = time.time()
    # a fortnight before: 8 cores mostly idle, a quarter of the memory used
    written = write_history(
        store,
        "node",
        "prometheus",
        until=now - 60,
        days=14,
        values=lambda share, rng: {
            f"{idle}.rate": cores * (1 - rng.uniform(0.02, 0.15)),
            f"{idle}.count": cores,
            "metric.node_memory_MemTotal_bytes.value": total,
            "metric.node_memory_MemAvailable_bytes.value": total * rng.uniform(0.7, 0.8),
        },
    )

    report = await analyse(config, store, now=time.time() + 1)

    finding = only(report, "oversized")
    cpu = [100 * (1 - w[f"{idle}.rate"] / cores) for w in written]
    memory = [100 * (1 - w["metric.node_memory_MemAvailable_bytes.value"] / total) for w in written]
    cpu_p95, memory_p99 = np.percentile(cpu, 95), np.percentile(memory, 99)
    assert finding.evidence["cpu_p95_pct"] == pytest.approx(cpu_p95, abs=0.5)
    assert finding.evidence["memory_p99_pct"] == pytest.approx(memory_p99, abs=0.5)
    wanted = cheapest_fit("azure", 8 * cpu_p95 / 100 / 0.65, total / GIB * memory_p99 / 100 / 0.8)
    assert finding.evidence["suggested_type"] == f"azure/{wanted['type']}"


async def test_a_cache_far_above_its_working_set_gets_a_smaller_machine(
    tmp_path: Path, store: Store
) -> None:
    config = config_of(
        tmp_path,
        "  - {name: cache, redis: 'redis://127.0.0.1:6379/0', instance: aws/r6i.2xlarge}\n"
        "  - {name: db, postgres: 'postgresql://postgres@127.0.0.1:5432/postgres', "
        "cost: 300/month}\n",
    )
    results = await run_real_checks(store, config.monitors[0], 1)
    assert results[0].metrics["redis.used_memory"] > 0
    database = await run_real_checks(store, config.monitors[1], 1)
    assert database[0].metrics["pg.database_size"] > 1e6
    now = time.time()
    written = write_history(
        store,
        "cache",
        "redis",
        until=now - 60,
        days=14,
        values=lambda share, rng: {
            "redis.used_memory": rng.uniform(150, 200) * 1024**2,
            "redis.maxmemory": 0,
        },
    )

    report = await analyse(config, store, now=time.time() + 1)

    finding = only(report, "data-oversized")
    working_set = max(w["redis.used_memory"] for w in written)
    assert finding.evidence["working_set_bytes"] == pytest.approx(working_set, rel=0.01)
    # it keeps its 8 vCPUs and gets 2 x the working set + 1 GiB of memory
    wanted = cheapest_fit("aws", 8, 2 * working_set / GIB + 1)
    assert finding.evidence["suggested_type"] == f"aws/{wanted['type']}" == "aws/c6i.2xlarge"
    assert finding.evidence["monthly_saving"] == pytest.approx(
        listed("aws", "r6i.2xlarge") - float(wanted["monthly_usd"])
    )
    assert report.summary["monthly_spend"] == pytest.approx(listed("aws", "r6i.2xlarge") + 300)
