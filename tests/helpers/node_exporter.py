"""A real node_exporter (Debian's prometheus-node-exporter) on a free loopback port."""

from __future__ import annotations

import shutil
import subprocess
import time
import urllib.request

from tests.helpers.ports import free_port as _free_port


class NodeExporter:
    def __init__(self) -> None:
        binary = shutil.which("prometheus-node-exporter") or shutil.which("node_exporter")
        if binary is None:
            raise RuntimeError(
                "node_exporter is not installed (Debian: prometheus-node-exporter; .ci/run "
                "installs it)"
            )
        self.binary = binary
        self.port = _free_port()
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/metrics"

    def start(self) -> NodeExporter:
        self.process = subprocess.Popen(
            [self.binary, f"--web.listen-address=127.0.0.1:{self.port}"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            try:
                with urllib.request.urlopen(self.url, timeout=1) as answer:
                    if answer.status == 200:
                        return self
            except OSError:
                time.sleep(0.1)
        self.stop()
        raise RuntimeError(f"node_exporter did not answer on port {self.port}")

    def stop(self) -> None:
        if self.process is not None:
            self.process.kill()
            self.process.wait(10)
            self.process = None
