"""Fixtures: real `caplet serve` processes on temporary sockets.

The `caplet` binary is `$CAPLET_BIN`, or the repository's debug build
(`target/debug/caplet`, made by `cargo build`). A server is ready when it
prints `READY` on stdout; nothing here sleeps to wait.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from dataclasses import dataclass, field
from typing import Iterator, List, Optional

import pytest

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..", ".."))


def caplet_bin() -> str:
    path = os.environ.get("CAPLET_BIN") or os.path.join(ROOT, "target", "debug", "caplet")
    if not os.access(path, os.X_OK):
        pytest.fail(f"{path} is missing: run `cargo build -p caplet-cli` or set CAPLET_BIN")
    return path


@dataclass
class Server:
    """A `caplet serve` process; `socket` (and `tcp`) is where it listens."""

    dir: str
    args: List[str]
    socket: str = ""
    tcp: Optional[str] = None
    process: Optional["subprocess.Popen[str]"] = None
    stderr_path: str = ""
    extra: List[str] = field(default_factory=list)

    def start(self) -> None:
        self.stderr_path = os.path.join(self.dir, "stderr.log")
        stderr = open(self.stderr_path, "a")
        self.process = subprocess.Popen(
            [caplet_bin(), "serve", *self.args],
            stdout=subprocess.PIPE,
            stderr=stderr,
            text=True,
            cwd=self.dir,
        )
        stderr.close()
        assert self.process.stdout is not None
        ready = 0
        want = 2 if "--listen" in self.args else 1
        while ready < want:
            line = self.process.stdout.readline()
            if not line:
                raise RuntimeError(f"caplet serve exited before READY: {self.stderr()}")
            if line.startswith("READY tcp://"):
                self.tcp = line.split("tcp://", 1)[1].strip()
                ready += 1
            elif line.startswith("READY "):
                self.socket = line.split(" ", 1)[1].strip()
                ready += 1

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(timeout=20)
        self.process = None

    def restart(self) -> None:
        self.stop()
        self.start()

    def stderr(self) -> str:
        with open(self.stderr_path) as f:
            return f.read()


def make_server(extra: List[str], listen: bool = False) -> Iterator[Server]:
    folder = tempfile.mkdtemp(prefix="caplet-py-")
    args = ["--hosts", "1", "--socket", os.path.join(folder, "caplet.sock"), "--data", os.path.join(folder, "data")]
    if listen:
        tokens = os.path.join(folder, "tokens")
        with open(tokens, "w") as f:
            f.write("alice:alice-token-0123456789\n")
        args += ["--listen", "127.0.0.1:0", "--token-file", tokens]
    server = Server(folder, args + extra)
    server.start()
    try:
        yield server
    finally:
        server.stop()
        shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture
def server() -> Iterator[Server]:
    yield from make_server([])


@pytest.fixture
def tcp_server() -> Iterator[Server]:
    yield from make_server([], listen=True)
