"""``wk init`` writes a config that validates, with a notification route to start from: its
commented example validates too once uncommented."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

from watchkeeper.config import parse_config

SECRETS = {"SLACK_TOKEN": "T1JJ3T3L2/A1BRTD4JD/TIiajkdnlazkcOXrIdevi7FQ", "HOOK_SECRET": "s3cret"}


def wk(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "watchkeeper", *args],
        cwd=cwd,
        env={**os.environ, **SECRETS},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def uncommented(text: str) -> str:
    """The config with the notify: example and defaults' notify: line uncommented."""
    lines = text.splitlines()
    start = lines.index("# notify:")
    end = next(i for i in range(start + 1, len(lines)) if not lines[i].startswith("#   "))
    lines[start:end] = [line[2:] for line in lines[start:end]]
    return re.sub(r"^  # notify: ", "  notify: ", "\n".join(lines) + "\n", flags=re.MULTILINE)


def test_the_notify_example_of_init_validates_and_routes_every_monitor(tmp_path: Path) -> None:
    assert wk("init", cwd=tmp_path).returncode == 0
    written = (tmp_path / "watchkeeper.yaml").read_text()
    assert wk("validate", cwd=tmp_path).returncode == 0
    (tmp_path / "watchkeeper.yaml").write_text(uncommented(written))

    checked = wk("validate", cwd=tmp_path)

    assert checked.returncode == 0, checked.stderr
    config = parse_config(uncommented(written), "watchkeeper.yaml", env=SECRETS)
    assert {(r.name, r.kind) for r in config.routes} == {("ops", "apprise"), ("hook", "webhook")}
    assert all(monitor.notify == ("ops",) for monitor in config.monitors)
