"""The sdist and the wheel: built as a release would build them, checked as PyPI checks them
(``twine check --strict``), and holding every file the package reads at run time.

Built without build isolation (hatchling comes from the test extra), so nothing is fetched.
"""

from __future__ import annotations

import subprocess
import sys
import tarfile
import zipfile
from email.parser import HeaderParser
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PACKAGE = ROOT / "src" / "watchkeeper"


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """(sdist, wheel)"""
    out = tmp_path_factory.mktemp("dist")
    made = subprocess.run(
        [sys.executable, "-m", "build", "--no-isolation", "--outdir", str(out), str(ROOT)],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert made.returncode == 0, made.stdout + made.stderr
    (sdist,) = out.glob("watchkeeper-*.tar.gz")
    (wheel,) = out.glob("watchkeeper-*.whl")
    return sdist, wheel


def _shipped_sources() -> list[str]:
    """Every file of the package in the source tree, as git knows it (so a file left out of
    git by mistake is no excuse), relative to src/."""
    listed = subprocess.run(
        ["git", "ls-files", "-z", "--", "src/watchkeeper"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    files = [name for name in listed.stdout.split("\0") if name]
    return [str(Path(name).relative_to("src")) for name in files]


def test_twine_accepts_the_sdist_and_the_wheel(built: tuple[Path, Path]) -> None:
    checked = subprocess.run(
        [sys.executable, "-m", "twine", "check", "--strict", *map(str, built)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert checked.stdout.count("PASSED") == 2, checked.stdout


def test_the_wheel_holds_every_file_of_the_package(built: tuple[Path, Path]) -> None:
    with zipfile.ZipFile(built[1]) as wheel:
        names = set(wheel.namelist())
    sources = _shipped_sources()
    missing = [name for name in sources if name not in names]
    assert missing == []
    # what is read at run time besides modules: each kind is there, not only "no gaps"
    needed = {
        "watchkeeper/web/templates/base.html",
        "watchkeeper/web/templates/status.html",
        "watchkeeper/web/static/app.js",
        "watchkeeper/web/static/app.css",
        "watchkeeper/web/static/vendor/uplot/uPlot.iife.min.js",
        "watchkeeper/web/static/vendor/swagger-ui/swagger-ui-bundle.js",
        "watchkeeper/web/static/vendor/web-vitals/web-vitals.attribution.iife.js",
        "watchkeeper/web/scripts/rum-loader.js",
        "watchkeeper/store/migrations/script.py.mako",
    }
    assert needed <= names
    migrations = [n for n in names if n.startswith("watchkeeper/store/migrations/versions/")]
    on_disk = list((PACKAGE / "store" / "migrations" / "versions").glob("*.py"))
    assert len(migrations) >= len(on_disk) > 0
    # vendored scripts keep their licences beside them
    for vendored in ("uplot", "swagger-ui", "web-vitals"):
        assert f"watchkeeper/web/static/vendor/{vendored}/LICENSE" in names
    # and nothing else: no caches, no tests
    strays = [
        n for n in names if not n.startswith(("watchkeeper/", "watchkeeper-")) or "__pycache__" in n
    ]
    assert strays == []


def test_the_wheel_metadata_describes_the_project(built: tuple[Path, Path]) -> None:
    with zipfile.ZipFile(built[1]) as wheel:
        (metadata_name,) = [n for n in wheel.namelist() if n.endswith(".dist-info/METADATA")]
        metadata = HeaderParser().parsestr(wheel.read(metadata_name).decode())
        entry_points = next(
            wheel.read(n).decode() for n in wheel.namelist() if n.endswith("entry_points.txt")
        )
        names = wheel.namelist()
    assert metadata["Name"] == "watchkeeper"
    assert metadata["Requires-Python"] == ">=3.11"
    assert metadata["License-Expression"] == "Apache-2.0"
    assert any(n.endswith(".dist-info/licenses/LICENSE") for n in names)
    assert metadata["Description-Content-Type"] == "text/markdown"
    assert "Installing it for real" in metadata.get_payload()  # the README is the description
    classifiers = metadata.get_all("Classifier") or []
    assert "Topic :: System :: Monitoring" in classifiers
    assert "Programming Language :: Python :: 3.11" in classifiers
    assert "wk = watchkeeper.cli:main" in entry_points


def test_the_sdist_builds_the_same_package_and_carries_the_packaging_files(
    built: tuple[Path, Path],
) -> None:
    with tarfile.open(built[0]) as sdist:
        names = {name.split("/", 1)[1] for name in sdist.getnames() if "/" in name}
    assert {"pyproject.toml", "README.md", "LICENSE", "PKG-INFO"} <= names
    assert {f"src/{name}" for name in _shipped_sources()} <= names
    packaging = {
        "packaging/systemd/watchkeeper.service",
        "packaging/systemd/watchkeeper.yaml",
        "packaging/oci/Containerfile",
        "packaging/oci/build",
        "packaging/oci/watchkeeper.yaml",
    }
    assert packaging <= names
    assert not any("node_modules" in name or name.startswith(".venv/") for name in names)
