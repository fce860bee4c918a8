"""``wk evidence`` on a store a real ``wk up`` filled (results, an incident, activity) plus
audit and drill reports stored as their monitors store them: the zip holds every file, the
manifest's hashes are the files', the index links each one, and what the files say is what
the store and the other commands say."""

from __future__ import annotations

import asyncio
import csv
import hashlib
import io
import json
import os
import time
import zipfile
from pathlib import Path
from typing import Any

from tests.e2e.test_activity import add_user, open_incident
from tests.helpers.cli import Running, wk
from tests.helpers.ports import free_port

from watchkeeper.backup.evidence import evidence
from watchkeeper.config import load_config
from watchkeeper.model import Phases, Result
from watchkeeper.store import Store
from watchkeeper.store import alerts as alert_rows

DATA_FILES = {
    "uptime.json",
    "slo.json",
    "incidents.json",
    "security-audits.json",
    "restore-drills.json",
    "backups.json",
    "access-control.json",
    "activity.csv",
    "activity.json",
}


def config(tmp_path: Path, closed_port: int) -> str:
    backups = tmp_path / "backups"
    backups.mkdir()
    (backups / "shop-2026-12-01.dump").write_bytes(b"PGDMP" + b"x" * 100)
    return f"""
storage: sqlite:///wk.db
server: {{trusted_proxies: [127.0.0.1]}}
defaults: {{interval: 1s, timeout: 1s, confirm: 1, recover: 1}}
monitors:
  - {{name: gone, tcp: "127.0.0.1:{closed_port}"}}
  - {{name: site-audit, audit: "https://127.0.0.1:{closed_port}/", interval: 1d}}
  - name: shop
    interval: 1d
    backup:
      path: {backups}
      max_age: 1d
      drill: {{into: cluster, workdir: {tmp_path}, tables: [orders], rto: 10m}}
"""


def _stored_reports(tmp_path: Path) -> tuple[list[dict[str, Any]], str, list[dict[str, Any]]]:
    """Audit grades and a drill stored the way their monitors store them."""
    loaded = load_config(str(tmp_path / "watchkeeper.yaml"))
    store = Store.open(loaded.storage, existing=True)
    now = time.time()
    try:
        audits = [
            {"target": "https://shop.test/", "grade": grade, "score": score, "findings": []}
            for grade, score in (("C", 55), ("B+", 80))
        ]
        store.write(
            [
                Result("site-audit", "audit", now - 60 + n, True, Phases(total=0.1), detail=body)
                for n, body in enumerate(audits)
            ]
        )
        (row,) = evidence(loaded.monitors, store)
        drill = {
            "ok": True,
            "started_at": now - 30,
            "backup": {"name": "shop-2026-12-01.dump"},
            "rto_s": 42.0,
            "rpo_s": 3600.0,
            "warnings": [],
        }
        store.write([Result(row.drill, "drill", now - 30, True, Phases(total=42.0), detail=drill)])
    finally:
        store.close()
    return audits, row.drill, [drill]


async def test_the_bundle_holds_what_the_store_holds_with_hashes_and_an_index(
    tmp_path: Path,
) -> None:
    (tmp_path / "watchkeeper.yaml").write_text(config(tmp_path, free_port()))
    await add_user(tmp_path, "ann", "admin")
    up = await Running(cwd=tmp_path).start()
    try:
        incident = await open_incident(up)
        status, _ = await up.request("POST", f"/api/v1/incidents/{incident}/ack")
        assert status == 200
    finally:
        await up.stop()
    audits, drill_name, drills = _stored_reports(tmp_path)

    made = await wk("evidence", "--since", "1d", "-o", "out.zip", cwd=tmp_path)
    assert made.code == 0, made.stderr
    assert [name for name in os.listdir(tmp_path) if name.startswith(".out.zip")] == []

    with zipfile.ZipFile(tmp_path / "out.zip") as bundle:
        files = {name: bundle.read(name) for name in bundle.namelist()}
    assert set(files) == DATA_FILES | {"index.html", "index.md", "manifest.json"}

    manifest = json.loads(files["manifest.json"])
    listed = {item["name"]: item for item in manifest["files"]}
    assert set(listed) == set(files) - {"manifest.json"}
    for name, item in listed.items():
        assert item["sha256"] == hashlib.sha256(files[name]).hexdigest()
        assert item["bytes"] == len(files[name])
    period = manifest["period"]
    assert 86_399 <= period["until"] - period["since"] <= 86_401

    page = files["index.html"].decode()
    for name in set(files) - {"index.html"}:
        assert f'href="{name}"' in page
    for name in DATA_FILES:
        assert listed[name]["sha256"] in page
    assert "src=" not in page and "https://" not in page and "http://" not in page

    # what the files say is what the store and the other commands say
    stored = await _store_view(tmp_path, period["since"], period["until"])
    incidents = json.loads(files["incidents.json"])
    assert [i["id"] for i in incidents] == stored["incident_ids"]
    (mine,) = [i for i in incidents if i["id"] == incident]
    assert mine["acked_by"] == stored["acked_by"] and mine["acked_by"]
    assert [(e["kind"], e["text"]) for e in mine["timeline"]] == stored["timeline"]

    uptime = {row["monitor"]: row for row in json.loads(files["uptime.json"])}
    assert uptime["gone"]["checks"] == stored["checks"] > 0
    assert uptime["gone"]["failures"] == stored["checks"]
    assert uptime["gone"]["uptime_pct"] == 0

    (site,) = json.loads(files["security-audits.json"])
    assert [(r["grade"], r["score"]) for r in site["runs"]] == [
        (a["grade"], a["score"]) for a in audits
    ]
    restore = json.loads(files["restore-drills.json"])
    assert restore["drills"][drill_name] == drills
    assert restore["backups"][0]["rto_s"] == drills[0]["rto_s"]
    assert [b["monitor"] for b in json.loads(files["backups.json"])] == ["shop"]

    access = json.loads(files["access-control.json"])
    users = await wk("user", "list", "--json", cwd=tmp_path)
    tokens = await wk("token", "list", "--json", cwd=tmp_path)
    assert [(u["name"], u["role"]) for u in access["users"]] == [
        (u["name"], u["role"]) for u in users.json()
    ]
    assert [(t["name"], t["scope"]) for t in access["tokens"]] == [
        (t["name"], t["scope"]) for t in tokens.json()
    ]
    assert access["settings"]["trusted_proxies"] == ["127.0.0.1"]
    assert access["settings"]["public_bind"] is False
    assert up.token is not None
    for name, data in files.items():
        assert up.token.encode() not in data, name
        for token in tokens.json():
            assert token["prefix"].encode() not in data, name

    log = await wk("activity", "--json", "--since", "1d", "--limit", "100000", cwd=tmp_path)
    expected = sorted(row["id"] for row in log.json())
    activity = json.loads(files["activity.json"])
    assert [row["id"] for row in activity] == expected
    assert "incident.ack" in {row["action"] for row in activity}
    table = list(csv.DictReader(io.StringIO(files["activity.csv"].decode())))
    assert [int(row["id"]) for row in table] == expected
    assert [row["action"] for row in table] == [row["action"] for row in activity]


async def _store_view(tmp_path: Path, since: float, until: float) -> dict[str, Any]:
    def read() -> dict[str, Any]:
        loaded = load_config(str(tmp_path / "watchkeeper.yaml"))
        store = Store.open(loaded.storage, existing=True)
        try:
            with store.read() as connection:
                found = alert_rows.incidents(connection, open_only=False, limit=1000)
                first = min(found, key=lambda i: i.id)
                timeline = alert_rows.timeline(connection, first.id)
            checks = len(store.results("gone", since, until, limit=100_000))
        finally:
            store.close()
        return {
            "incident_ids": sorted(i.id for i in found),
            "acked_by": first.acked_by,
            "timeline": [(e.kind, e.text) for e in timeline],
            "checks": checks,
        }

    return await asyncio.to_thread(read)


async def test_bad_input_is_one_line_and_exit_2(tmp_path: Path) -> None:
    (tmp_path / "watchkeeper.yaml").write_text(config(tmp_path, free_port()))
    await add_user(tmp_path, "ann", "admin")  # makes the store

    for args in (
        ("--since", "soon"),
        ("-o", "evidence.tar"),
        ("-o", str(tmp_path / "no-such-folder" / "e.zip")),
    ):
        done = await wk("evidence", *args, cwd=tmp_path)
        assert done.code == 2, (args, done.stdout, done.stderr)
        assert len(done.stderr.strip().splitlines()) == 1, done.stderr
        assert "Traceback" not in done.stderr
    assert not [name for name in os.listdir(tmp_path) if name.endswith(".zip")]
