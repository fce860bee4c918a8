"""The OCI image of packaging/oci: built here from Debian packages and the project's wheels
(no registry is asked for a base image), and ``wk up`` answering from inside it.

The containers run through ``buildah run --isolation chroot``: it shares the machine's
network, as ``podman run --network host`` does. ``podman run`` itself cannot start a
container on this machine (crun refuses the cgroup hierarchy here, "cgroups in hybrid mode not
supported", and Debian 12 has no runc); the image is the same either way.

Slow (about six minutes, most of it mmdebstrap and pip): ``pytest -m slow tests/packaging``.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import shutil
import subprocess
import sys
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import aiohttp
import pytest
from tests.helpers.ports import free_port

pytestmark = [pytest.mark.slow, pytest.mark.timeout(1800)]

BUILD = Path(__file__).resolve().parents[2] / "packaging" / "oci" / "build"
UID = 8844
"""The image's watchkeeper user."""


def _tool(name: str) -> str:
    found = shutil.which(name)
    assert found, f"{name} is missing: apt-get install {name} (.ci/run installs it)"
    return found


@pytest.fixture(scope="module")
def image(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    buildah = _tool("buildah")
    _tool("mmdebstrap")
    tag = f"localhost/watchkeeper-test:{os.getpid()}"
    work = tmp_path_factory.mktemp("oci")
    built = subprocess.run(
        [str(BUILD), tag],
        env={**os.environ, "PYTHON": sys.executable, "WORKDIR": str(work)},
        capture_output=True,
        text=True,
        timeout=1500,
        check=False,
    )
    try:
        assert built.returncode == 0, built.stdout + built.stderr[-4000:]
        yield tag
    finally:
        shutil.rmtree(work, ignore_errors=True)
        subprocess.run(
            [buildah, "rmi", "--force", tag], capture_output=True, timeout=120, check=False
        )


@contextlib.contextmanager
def _container(image: str) -> Iterator[str]:
    buildah = _tool("buildah")
    made = subprocess.run(
        [buildah, "from", "--pull-never", image],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    name = made.stdout.strip().splitlines()[-1]
    try:
        yield name
    finally:
        subprocess.run([buildah, "rm", name], capture_output=True, timeout=120, check=False)


def _run_args(container: str, *command: str, state: Path | None = None) -> list[str]:
    volume = ["--volume", f"{state}:/var/lib/watchkeeper"] if state else []
    return [
        _tool("buildah"), "run", "--isolation", "chroot", *volume, container, "--", *command
    ]  # fmt: skip


async def _run(
    container: str, *command: str, state: Path | None = None, stdin: bytes = b""
) -> tuple[int, str]:
    process = await asyncio.create_subprocess_exec(
        *_run_args(container, *command, state=state),
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    out, _ = await asyncio.wait_for(process.communicate(stdin), 120)
    assert process.returncode is not None
    return process.returncode, out.decode(errors="replace")


@contextlib.asynccontextmanager
async def _serving(
    container: str, *command: str, state: Path | None = None
) -> AsyncIterator[asyncio.subprocess.Process]:
    process = await asyncio.create_subprocess_exec(
        *_run_args(container, *command, state=state),
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    try:
        yield process
    finally:
        if process.returncode is None:
            process.terminate()
        try:
            await asyncio.wait_for(process.communicate(), 30)
        except TimeoutError:
            process.kill()
            await process.communicate()


async def _health(port: int, process: asyncio.subprocess.Process) -> dict[str, object]:
    """/healthz from outside the container, once it answers (60 s at most)."""
    url = f"http://127.0.0.1:{port}/healthz"
    timeout = aiohttp.ClientTimeout(total=5)
    async with aiohttp.ClientSession(timeout=timeout) as session:
        for _ in range(600):
            assert process.returncode is None, "wk up inside the container exited"
            with contextlib.suppress(aiohttp.ClientError, TimeoutError):
                async with session.get(url) as response:
                    if response.status == 200:
                        answer: dict[str, object] = await response.json()
                        return answer
            await asyncio.sleep(0.1)
    raise AssertionError(f"{url} did not answer in 60 s")


def test_the_image_is_one_layer_from_scratch_running_wk_as_its_own_user(image: str) -> None:
    inspected = subprocess.run(
        [_tool("buildah"), "inspect", "--type", "image", image],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    oci = json.loads(inspected.stdout)["OCIv1"]
    config = oci["config"]
    assert config["User"] == "watchkeeper"
    assert config["Entrypoint"] == ["wk"]
    assert config["Cmd"] == ["up"]
    assert set(config["ExposedPorts"]) == {"8844/tcp"}
    assert set(config["Volumes"]) == {"/var/lib/watchkeeper"}
    assert "WATCHKEEPER_CONFIG=/etc/watchkeeper/watchkeeper.yaml" in config["Env"]
    # FROM scratch: the first step of its history adds the Debian root, nothing came before
    assert oci["history"][0]["created_by"].startswith("/bin/sh -c #(nop) ADD file:")
    assert len(oci["rootfs"]["diff_ids"]) == 1


async def test_the_demo_inside_the_image_answers_from_outside(image: str) -> None:
    port = free_port()
    with _container(image) as container:
        async with _serving(
            container, "wk", "up", "--demo", "--listen", f"127.0.0.1:{port}"
        ) as process:
            health = await _health(port, process)
    assert health["status"] == "ok"


async def test_the_image_listens_publicly_once_an_admin_exists(image: str, tmp_path: Path) -> None:
    state = tmp_path / "state"  # the volume, owned by the image's user as podman would make it
    state.mkdir()
    os.chown(state, UID, UID)
    port = free_port()
    with _container(image) as container:
        code, out = await _run(container, "wk", "up", "--listen", f"0.0.0.0:{port}", state=state)
        assert code == 2
        assert "nobody can log in yet" in out

        code, out = await _run(
            container, "wk", "user", "add", "admin", "--role", "admin", "--password-stdin",
            state=state, stdin=b"a long enough password\n",
        )  # fmt: skip
        assert code == 0, out

        async with _serving(
            container, "wk", "up", "--listen", f"0.0.0.0:{port}", state=state
        ) as process:
            health = await _health(port, process)
    assert health["status"] == "ok"
    assert (state / "watchkeeper.db").stat().st_uid == UID
