"""``wk cost`` as a user runs it: on a store holding a fortnight of one machine's samples and a
day of another's, in every format, with its exit codes; and ``wk cost catalog`` showing and
refreshing the prices (a refresh changes what the next ``wk cost`` says)."""

from __future__ import annotations

import datetime as dt
import time
from pathlib import Path
from random import Random

import pytest
from tests.helpers.cli import wk
from tests.helpers.machines import write_history

from watchkeeper.store import Store

CONFIG = """storage: sqlite:///wk.db
monitors:
  - name: web
    host: local
    instance: {provider: aws, type: m6i.2xlarge}
  - name: fresh
    host: local
    instance: aws/c6i.large
"""
HEADER = "provider,type,family,class,vcpu,memory_gib,monthly_usd,region,source,date\n"


def light(share: float, rng: Random) -> dict[str, float]:
    return {
        "cpu.used_pct": 10 + rng.uniform(0, 10),
        "memory.used_pct": 25 + rng.uniform(0, 5),
        "net.in_bytes_per_s": 1e5 * (1 + share),
        "net.out_bytes_per_s": 1e5,
    }


@pytest.fixture
def workdir(tmp_path: Path) -> Path:
    (tmp_path / "watchkeeper.yaml").write_text(CONFIG)
    store = Store.open(f"sqlite:///{tmp_path / 'wk.db'}")
    try:
        now = time.time()
        write_history(store, "web", "host", until=now, days=14, values=light)
        write_history(store, "fresh", "host", until=now, days=1, values=light)
    finally:
        store.close()
    return tmp_path


async def test_savings_exit_1_and_the_json_sums_them(workdir: Path) -> None:
    done = await wk("cost", "--format", "json", cwd=workdir)

    assert done.code == 1, done.stderr
    found = done.json()
    assert set(found) >= {"findings", "summary"}
    web, fresh = found["findings"]
    assert (web["subject"], web["severity"], web["source"]) == ("web", "warning", "cost")
    assert web["evidence"]["suggested_type"] == "aws/m6i.xlarge"
    assert web["evidence"]["monthly_saving"] == pytest.approx(280.32 - 140.16)
    assert (fresh["subject"], fresh["severity"], fresh["rule"]) == (
        "fresh",
        "info",
        "too-little-history",
    )
    summary = found["summary"]
    assert summary["machines"] == 2
    assert summary["monthly_spend"] == pytest.approx(280.32 + 62.05)
    assert summary["monthly_saving"] == pytest.approx(web["evidence"]["monthly_saving"])
    assert summary["lookback_days"] == 14
    assert summary["catalog"]["origin"] == "shipped" and summary["catalog"]["stale"] is True


async def test_too_little_history_is_nothing_to_act_on(workdir: Path) -> None:
    done = await wk("cost", "--lookback", "12h", cwd=workdir)

    assert done.code == 0, done.stderr
    assert "web: 0.5 d of CPU and memory history, 3 d needed to size it" in done.stdout
    assert "the catalog is over 180 days old" in done.stdout


async def test_markdown_and_html_reports_carry_the_findings_and_summary(workdir: Path) -> None:
    done = await wk("cost", "--format", "md", "-o", "cost.md", cwd=workdir)
    assert done.code == 1, done.stderr
    markdown = (workdir / "cost.md").read_text()
    assert markdown.startswith("# wk cost\n")
    assert "WARNING · web is oversized: m6i.2xlarge → m6i.xlarge saves $140.16/month" in markdown
    assert "$342.37/month known" in markdown

    done = await wk("cost", "--format", "html", "-o", "cost.html", cwd=workdir)
    assert done.code == 1, done.stderr
    page = (workdir / "cost.html").read_text()
    assert "<h1>wk cost</h1>" in page and "m6i.2xlarge → m6i.xlarge" in page
    assert "the advice below saves $140.16/month" in page


@pytest.mark.parametrize(
    ("args", "said"),
    [
        (("--lookback", "fortnight"), "--lookback: "),
        (("--lookback", "0s"), "--lookback: must be above zero"),
    ],
)
async def test_bad_input_is_one_line_and_exit_2(
    workdir: Path, args: tuple[str, ...], said: str
) -> None:
    done = await wk("cost", *args, cwd=workdir)

    assert done.code == 2
    assert done.stderr.startswith(said) and done.stderr.count("\n") == 1, done.stderr


async def test_an_unknown_type_in_the_config_is_its_file_and_line(tmp_path: Path) -> None:
    (tmp_path / "watchkeeper.yaml").write_text(CONFIG.replace("c6i.large", "c6i.larg"))

    done = await wk("cost", cwd=tmp_path)

    assert done.code == 2
    assert done.stderr.strip() == (
        "watchkeeper.yaml:8: monitor 'fresh': instance: the price catalog of aws has no type "
        "'c6i.larg' (did you mean 'c6i.large'?); add it with wk cost catalog update FILE.csv"
    )
    assert "Traceback" not in done.stderr


async def test_a_refreshed_catalog_changes_the_next_run_and_a_bad_one_changes_nothing(
    workdir: Path,
) -> None:
    shown = await wk("cost", "catalog", "--json", cwd=workdir)
    assert shown.code == 0, shown.stderr
    assert shown.json()["date"] == "2025-06-01" and shown.json()["origin"] == "shipped"
    text = await wk("cost", "catalog", cwd=workdir)
    assert "warning: older than 180 days" in text.stdout

    today = dt.date.today().isoformat()
    bad = workdir / "bad.csv"
    bad.write_text(
        HEADER
        + f"aws,m6i.xlarge,m6i,general,4,16,120,us-east-1,https://a,{today}\n"
        + f"aws,m6i.2xlarge,m6i,general,8,32,two hundred,us-east-1,https://a,{today}\n"
    )
    refused = await wk("cost", "catalog", "update", "bad.csv", cwd=workdir)
    assert refused.code == 2
    assert refused.stderr.strip() == "bad.csv:3: monthly_usd 'two hundred' is not a number"
    assert not (workdir / "watchkeeper-prices.csv").exists()

    good = workdir / "good.csv"
    good.write_text(
        HEADER
        + f"aws,m6i.xlarge,m6i,general,4,16,120,us-east-1,https://a,{today}\n"
        + f"aws,m6i.2xlarge,m6i,general,8,32,250,us-east-1,https://a,{today}\n"
        + f"aws,c6i.large,c6i,compute,2,4,60,us-east-1,https://a,{today}\n"
    )
    installed = await wk("cost", "catalog", "update", "good.csv", cwd=workdir)
    assert installed.code == 0, installed.stderr
    assert "3 prices of aws dated" in installed.stdout

    done = await wk("cost", "--format", "json", cwd=workdir)
    assert done.code == 1, done.stderr
    web = done.json()["findings"][0]
    assert web["evidence"]["monthly_cost"] == 250
    assert web["evidence"]["monthly_saving"] == 130
    catalog = done.json()["summary"]["catalog"]
    assert catalog["origin"].endswith("watchkeeper-prices.csv") and catalog["stale"] is False


async def test_without_a_store_it_says_so_in_one_line(tmp_path: Path) -> None:
    (tmp_path / "watchkeeper.yaml").write_text(CONFIG)

    done = await wk("cost", cwd=tmp_path)

    assert done.code == 2
    assert "no store at" in done.stderr and done.stderr.count("\n") == 1
