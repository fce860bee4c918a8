"""``checks.prepare(kind)`` imports everything the kind's probe would import on first use.

The kinds import their drivers inside the probe so that loading a config stays light; an
import there would run on the event loop inside the probe's timeout, holding up every check
in flight (aiohttp alone takes a fifth of a second). ``CheckKind.runtime`` lists them for
``prepare``; this test reads the function-level imports out of each kind's module (and of the
``watchkeeper.checks`` helpers it uses) and checks, in a fresh interpreter, that ``prepare``
has imported every one.
"""

from __future__ import annotations

import ast
import importlib.util
import json
import subprocess
import sys
from pathlib import Path

import pytest

from watchkeeper import checks

_PROBE = (
    "import json, sys; from watchkeeper import checks; checks.prepare(checks.get(sys.argv[1])); "
    "print(json.dumps(sorted(sys.modules)))"
)


def _source(module: str) -> Path:
    spec = importlib.util.find_spec(module)
    assert spec is not None and spec.origin is not None
    return Path(spec.origin)


def _is_module(name: str) -> bool:
    try:
        return importlib.util.find_spec(name) is not None
    except ModuleNotFoundError:
        return False


def _imports(node: ast.AST) -> list[str]:
    if isinstance(node, ast.Import):
        return [alias.name for alias in node.names]
    if isinstance(node, ast.ImportFrom) and node.module:
        found = [node.module]
        found += [
            f"{node.module}.{a.name}" for a in node.names if _is_module(f"{node.module}.{a.name}")
        ]
        return found
    return []


def deferred_imports(module: str, seen: set[str] | None = None) -> set[str]:
    """Modules imported inside functions of ``module`` and of the checks helpers it uses
    (``watchkeeper.resolver`` among them: the fault proxy shares it)."""
    seen = set() if seen is None else seen
    seen.add(module)
    tree = ast.parse(_source(module).read_text())
    deferred: set[str] = set()
    used: set[str] = set()
    for function in ast.walk(tree):
        if isinstance(function, ast.FunctionDef | ast.AsyncFunctionDef):
            for node in ast.walk(function):
                deferred.update(_imports(node))
    for node in ast.walk(tree):
        used.update(_imports(node))
    for helper in sorted(used | deferred):
        shared = helper.startswith("watchkeeper.checks.") or helper == "watchkeeper.resolver"
        if shared and helper not in seen:
            deferred |= deferred_imports(helper, seen)
    return deferred


@pytest.mark.parametrize("kind", sorted(checks.KINDS))
def test_prepare_imports_what_the_probe_would(kind: str) -> None:
    wanted = deferred_imports(checks.KINDS[kind])
    done = subprocess.run(
        [sys.executable, "-c", _PROBE, kind], capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr

    loaded = set(json.loads(done.stdout))

    assert wanted - loaded == set(), f"add these to {kind}'s CheckKind.runtime"


def test_the_scan_finds_the_drivers_a_probe_imports() -> None:
    assert {"aiohttp", "watchkeeper.checks._http_session", "aiodns"} <= deferred_imports(
        "watchkeeper.checks.http"
    )
    assert "psycopg" in deferred_imports("watchkeeper.checks.postgres")
