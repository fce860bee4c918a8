"""The README's config example is real: it validates."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from watchkeeper.config import parse_config
from watchkeeper.demo.config import demo_yaml

README = Path(__file__).resolve().parents[1] / "README.md"


def test_the_readme_config_example_validates(tmp_path: Path) -> None:
    blocks = re.findall(r"```yaml\n(.*?)```", README.read_text(), flags=re.DOTALL)
    example = next(block for block in blocks if "monitors:" in block)
    ca_file = tmp_path / "ca.pem"
    ca_file.write_text("")  # only its existence is checked when the config loads
    example = example.replace("/etc/watchkeeper/internal-ca.pem", str(ca_file))
    env = {
        "API_TOKEN": "t0k3n",
        "SLACK_TOKEN": "a/b/c",
        "PD_INTEGRATION_KEY": "abc123def456",
        "PD_API_KEY": "xyz789uvw456",
        "HOOK_SECRET": "s3cret-hook",
    }
    config = parse_config(example, str(tmp_path / "watchkeeper.yaml"), env=env)
    assert {m.kind for m in config.monitors} == {"http", "tcp", "tls", "dns"}
    assert {r.kind for r in config.routes} == {"apprise", "webhook", "alertmanager"}
    assert len(config.maintenance) == 2
    assert "t0k3n" in config.secrets


def test_the_readme_stack_example_validates(tmp_path: Path) -> None:
    blocks = re.findall(r"```yaml\n(.*?)```", README.read_text(), flags=re.DOTALL)
    example = next(block for block in blocks if "slos:" in block)
    # the SLOs watch the first example's api monitor, and page its pager route
    example = (
        "notify:\n  - {name: pager, webhook: 'https://hooks.example.com/wk'}\n"
        + example.replace(
            "monitors:\n", "monitors:\n  - {name: api, http: https://example.com}\n", 1
        )
    )
    config = parse_config(example, str(tmp_path / "watchkeeper.yaml"), env={"DB_PASSWORD": "pw"})
    kinds = {m.kind for m in config.monitors}
    assert kinds == {"http", "postgres", "mysql", "redis", "host", "prometheus", "heartbeat", "slo"}
    slos = [m for m in config.monitors if m.kind == "slo"]
    assert [m.name for m in slos] == ["api-availability", "api-latency"]
    assert slos[0].notify == ("pager",)


def test_the_readme_backup_example_validates(tmp_path: Path) -> None:
    blocks = re.findall(r"```yaml\n(.*?)```", README.read_text(), flags=re.DOTALL)
    example = next(block for block in blocks if "backup:" in block and "s3:" in block)
    env = {"S3_KEY": "AKIDEXAMPLE", "S3_SECRET": "s3cret"}

    config = parse_config(example, str(tmp_path / "watchkeeper.yaml"), env=env)

    assert [m.kind for m in config.monitors] == ["backup"] * 3
    assert [m.interval for m in config.monitors] == [300.0] * 3
    assert "s3cret" in config.secrets


def test_the_readme_drill_example_validates(tmp_path: Path) -> None:
    blocks = re.findall(r"```yaml\n(.*?)```", README.read_text(), flags=re.DOTALL)
    example = next(block for block in blocks if "drill:" in block)

    config = parse_config(example, str(tmp_path / "watchkeeper.yaml"), env={})

    assert [(m.name, m.kind) for m in config.monitors] == [
        ("orders-backup", "backup"),
        ("orders-backup drill", "drill"),
        ("shop-mariadb", "backup"),
        ("shop-mariadb drill", "drill"),
        ("sessions", "backup"),
        ("sessions drill", "drill"),
    ]
    drill = config.monitor("orders-backup drill")
    assert drill is not None and drill.interval == 7 * 86400


_NUMBERS = [
    "zero",
    "one",
    "two",
    "three",
    "four",
    "five",
    "six",
    "seven",
    "eight",
    "nine",
    "ten",
    "eleven",
    "twelve",
]


def test_the_quick_start_counts_the_demos_services_and_activates_the_venv(
    tmp_path: Path,
) -> None:
    text = README.read_text()
    said = re.search(r"wk up --demo +# watch (\w+) demo services", text)
    assert said is not None, "the quick start says how many services the demo watches"
    demo = parse_config(demo_yaml(1, 2, 3), str(tmp_path / "demo.yaml"), env={})

    assert _NUMBERS.index(said[1]) == len(demo.monitors)
    quick_start = text.split("## 60-second quick start", 1)[1].split("\n## ", 1)[0]
    assert ". .venv/bin/activate" in quick_start.split("wk up --demo")[0]


def test_the_readme_projects_example_validates(tmp_path: Path) -> None:
    blocks = re.findall(r"```yaml\n(.*?)```", README.read_text(), flags=re.DOTALL)
    example = next(block for block in blocks if "projects:" in block)

    config = parse_config(
        example, str(tmp_path / "watchkeeper.yaml"), env={"SHOP_SENTRY_KEY": "a" * 32}
    )

    (shop,) = config.projects
    assert (shop.name, str(shop.rate_limit), shop.key_reference) == (
        "shop",
        "600/m",
        "${SHOP_SENTRY_KEY}",
    )


def test_the_readme_rum_example_validates(tmp_path: Path) -> None:
    blocks = re.findall(r"```yaml\n(.*?)```", README.read_text(), flags=re.DOTALL)
    example = next(block for block in blocks if "rum:" in block and "origins:" in block)
    example = "notify:\n  - {name: ops, webhook: 'https://hooks.example.com/wk'}\n" + example

    config = parse_config(example, str(tmp_path / "watchkeeper.yaml"), env={})

    assert config.rum is not None
    assert [page.name for page in config.rum.pages] == ["home", "product", "checkout"]
    assert [(m.name, m.kind) for m in config.monitors] == [("product-lcp", "rum")]


def test_the_readme_cost_example_validates(tmp_path: Path) -> None:
    blocks = re.findall(r"```yaml\n(.*?)```", README.read_text(), flags=re.DOTALL)
    example = next(block for block in blocks if "instance:" in block)

    config = parse_config(example, str(tmp_path / "watchkeeper.yaml"), env={})

    machines = {m.name: (m.instance, m.monthly_cost) for m in config.monitors}
    assert machines == {
        "web-1": (("aws", "m6i.2xlarge"), None),
        "worker": (("hetzner", "ccx23"), None),
        "old-batch": (None, 120.0),
        "cache": (("aws", "r6i.xlarge"), None),
    }


def test_the_readme_chaos_experiment_validates(tmp_path: Path) -> None:
    blocks = re.findall(r"```yaml\n(.*?)```", README.read_text(), flags=re.DOTALL)
    example = next(block for block in blocks if "experiments:" in block)
    config = parse_config(example, str(tmp_path / "watchkeeper.yaml"))
    [experiment] = config.experiments
    assert experiment.steady_state.monitors == ("api",)
    assert experiment.method[0].toxic is not None
    assert experiment.method[0].toxic.attributes == {"latency": 1500}
    assert experiment.fail_fast[0].latency == 0.6


def test_every_kind_has_a_row_in_the_readme_kind_table() -> None:
    from watchkeeper import checks

    text = README.read_text()
    table = text[text.index("## Check kinds") :].split("\n## ", 1)[0]
    rows = [line for line in table.splitlines() if line.startswith("| `")]
    documented = {k for row in rows for k in re.findall(r"`([a-z0-9_]+)`", row.split("|")[1])}
    assert set(checks.WRITTEN) <= documented, set(checks.WRITTEN) - documented
    for kind in documented:  # and every fact the table names exists
        check = checks.get(kind)
        row = next(r for r in rows if f"`{kind}`" in r.split("|")[1])
        for fact in re.findall(r"`([a-z_0-9]+\.[a-z_0-9]+)`", row.split("|")[3]):
            assert fact in check.subjects or any(
                s.endswith(".*") and fact.startswith(s[:-1]) for s in check.subjects
            ), (kind, fact)


@pytest.mark.parametrize(
    ("heading", "kind"),
    [("### icmp (ping)", "icmp"), ("### websocket", "websocket"), ("### grpc", "grpc")],
)
def test_the_readme_examples_of_the_network_kinds_validate(
    tmp_path: Path, heading: str, kind: str
) -> None:
    section = README.read_text().split(f"\n{heading}\n", 1)[1].split("\n#", 1)[0]
    (example,) = re.findall(r"```yaml\n(.*?)```", section, flags=re.DOTALL)
    ca_file = tmp_path / "ca.pem"
    ca_file.write_text("")  # only its existence is checked when the config loads
    example = example.replace("/etc/watchkeeper/internal-ca.pem", str(ca_file))

    config = parse_config(example, str(tmp_path / "watchkeeper.yaml"), env={"WS_TOKEN": "t"})

    assert [m.kind for m in config.monitors] == [kind, kind]
