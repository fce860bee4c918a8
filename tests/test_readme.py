"""The README's config example is real: it validates."""

from __future__ import annotations

import re
from pathlib import Path

from watchkeeper.config import parse_config

README = Path(__file__).resolve().parents[1] / "README.md"


def test_the_readme_config_example_validates(tmp_path: Path) -> None:
    blocks = re.findall(r"```yaml\n(.*?)```", README.read_text(), flags=re.DOTALL)
    example = next(block for block in blocks if "monitors:" in block)
    ca_file = tmp_path / "ca.pem"
    ca_file.write_text("")  # only its existence is checked when the config loads
    example = example.replace("/etc/watchkeeper/internal-ca.pem", str(ca_file))
    config = parse_config(example, str(tmp_path / "watchkeeper.yaml"), env={"API_TOKEN": "t0k3n"})
    assert {m.kind for m in config.monitors} == {"http", "tcp", "tls", "dns"}
    assert "t0k3n" in config.secrets
