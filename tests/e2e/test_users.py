"""``wk user`` and ``wk token`` as a person uses them, and ``wk up`` on a public address:
refused until somebody can log in, then served."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from pathlib import Path

import aiohttp
from tests.helpers.cli import free_port, wk


async def wk_input(*args: str, text: str) -> tuple[int, str, str]:
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "watchkeeper",
        *args,
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        env={**os.environ, "COLUMNS": "200"},
    )
    out, err = await asyncio.wait_for(process.communicate(text.encode()), 60)
    assert process.returncode is not None
    return process.returncode, out.decode(), err.decode()


async def test_users_and_tokens_from_the_command_line(tmp_path: Path) -> None:
    config = tmp_path / "wk.yaml"
    config.write_text("storage: sqlite:///wk.db\nmonitors: []\n")
    c = ("-c", str(config))
    code, out, err = await wk_input(
        "user", "add", "ann", "--role", "admin", "--password-stdin", *c, text="a long password\n"
    )
    assert code == 0 and out.strip() == "added admin 'ann'", err
    code, _, err = await wk_input("user", "add", "bo", "--password-stdin", *c, text="short\n")
    assert code == 2 and err.strip() == "a password needs at least 10 characters"
    code, _, err = await wk_input(
        "user", "add", "ann", "--password-stdin", *c, text="another password\n"
    )
    assert code == 2 and err.strip() == "a user named 'ann' exists already"
    bad_role = await wk("user", "add", "cy", "--role", "root", *c)
    assert bad_role.code == 2 and "unknown role 'root'" in bad_role.stderr
    listed = await wk("user", "list", "--json", *c)
    assert [(u["name"], u["role"]) for u in listed.json()] == [("ann", "admin")]

    made = await wk("token", "create", "--scope", "read", "--name", "prometheus", "--json", *c)
    assert made.code == 0, made.stderr
    token = made.json()
    assert token["token"].startswith("wkt_") and token["scope"] == "read"
    shown = await wk("token", "list", *c)
    assert "prometheus" in shown.stdout and token["token"][:12] in shown.stdout
    assert token["token"] not in shown.stdout, "a token is shown once, at creation"
    revoked = await wk("token", "revoke", str(token["id"]), *c)
    assert revoked.code == 0
    again = await wk("token", "revoke", str(token["id"]), *c)
    assert again.code == 2 and f"no live token with id {token['id']}" in again.stderr
    last = await wk("user", "remove", "ann", *c)
    assert last.code == 2 and "'ann' is the last admin" in last.stderr


async def test_a_public_address_is_refused_until_an_admin_exists(tmp_path: Path) -> None:
    port = free_port()
    config = tmp_path / "wk.yaml"
    config.write_text(
        f"storage: sqlite:///wk.db\nserver: {{listen: 0.0.0.0:{port}}}\nmonitors: []\n"
    )
    refused = await wk("up", "-c", str(config))
    assert refused.code == 2
    assert refused.stderr.strip() == (
        f"refusing to listen on 0.0.0.0:{port}: nobody can log in yet. Add an admin first "
        f"(wk user add NAME --role admin -c {config}), or listen on 127.0.0.1."
    )
    code, _, err = await wk_input(
        "user",
        "add",
        "ann",
        "--role",
        "admin",
        "--password-stdin",
        "-c",
        str(config),
        text="a long password\n",
    )
    assert code == 0, err
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "watchkeeper",
        "up",
        "-c",
        str(config),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        env={**os.environ, "COLUMNS": "200"},
    )
    try:
        async with aiohttp.ClientSession() as session:
            for _ in range(100):
                try:
                    async with session.get(
                        f"http://127.0.0.1:{port}/", allow_redirects=False
                    ) as answer:
                        assert answer.status == 303
                        assert answer.headers["Location"] == "/login?next=%2F", (
                            "no setup page off loopback"
                        )
                        break
                except aiohttp.ClientConnectionError:
                    await asyncio.sleep(0.1)
            else:
                raise AssertionError("wk up did not answer on the public address")
    finally:
        process.send_signal(signal.SIGTERM)
        await process.communicate()
    assert process.returncode == 0
