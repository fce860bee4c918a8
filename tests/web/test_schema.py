"""Schemathesis against the running API with a write token: generated requests (examples,
edge cases, fuzzing and stateful sequences) never get a 5xx, and every answer matches what
``/api/openapi.json`` documents (status, content type, body schema)."""

from __future__ import annotations

import asyncio
import shutil
import sys
from pathlib import Path

from tests.helpers.site import Site
from tests.helpers.web_app import ProbeTargetServer


def config(web: ProbeTargetServer) -> str:
    return f"""
storage: sqlite:///wk.db
defaults: {{interval: 1s, timeout: 500ms}}
notify:
  - {{name: ops, webhook: "{web.url("/hook")}"}}
monitors:
  - {{name: api, http: "{web.url("/health")}", tags: [core], notify: [ops]}}
  - {{name: db, tcp: "127.0.0.1:9", tags: [core]}}
rum:
  origins: ["*"]
  pages: [{{name: product, pattern: "/product/*"}}]
"""


async def test_schemathesis_finds_no_server_error_and_no_undocumented_answer(
    tmp_path: Path, web: ProbeTargetServer
) -> None:
    async with Site(config(web), tmp_path) as site:
        # everything with a write token but the agents' routes, which take only an agent's
        # token (scope agent:<location>): those with one
        write = site.token("write")
        async with site.client(write) as client, client.get("/api/openapi.json") as answer:
            schema = await answer.text()
        await asyncio.to_thread((tmp_path / "openapi.json").write_text, schema)
        await _schemathesis(site, write, tmp_path, "--exclude-path-regex")
        agent = site.auth.create_token("test-agent", "agent:eu-west")[1]
        await _schemathesis(site, agent, tmp_path, "--include-path-regex")


async def _schemathesis(site: Site, token: str, folder: Path, agents: str) -> None:
    """Schemathesis over the schema (read beforehand: an agent's token may not) with
    ``token``, on the agents' routes or on all but them (``agents``)."""
    binary = shutil.which("schemathesis", path=str(Path(sys.executable).parent))
    assert binary, "schemathesis is a test dependency"
    process = await asyncio.create_subprocess_exec(
        binary,
        "run",
        str(folder / "openapi.json"),
        "--url",
        site.url,
        "--header",
        f"Authorization: Bearer {token}",
        agents,
        "^/api/v1/agent/",
        "--checks",
        "not_a_server_error,status_code_conformance,content_type_conformance,"
        "response_schema_conformance",
        "--max-examples",
        "15",
        "--seed",
        "7",
        "--workers",
        "1",
        "--generation-database",
        "none",
        "--no-color",
        "--request-timeout",
        "10",
        cwd=folder,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    out, _ = await asyncio.wait_for(process.communicate(), 240)
    report = out.decode(errors="replace")
    assert process.returncode == 0, report[-6000:]
    assert ("Tested: " in report and "No issues found" in report) or "passed" in report, report
