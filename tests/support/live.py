"""The embedded shape as a user starts it (`ruta migrate`, `ruta seed-demo`, `ruta serve`) on
a free loopback port and SQLite files in a folder of its own, for checks that need a real
server: the docs in Chromium, the generated clients, the README's examples."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[2]
RUTA = str(Path(sys.executable).with_name("ruta"))


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


@dataclass(frozen=True)
class LiveServer:
    base_url: str
    env: dict[str, str]

    def token(self, role: str = "caseworker") -> str:
        """A development token the server accepts (`ruta token --as ROLE`)."""
        return subprocess.run([RUTA, "token", "--as", role], env=self.env, cwd=ROOT,
                              check=True, capture_output=True, text=True).stdout.strip()


def server_env(data_dir: Path, port: int) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("RUTA_")}
    env.update(RUTA_DATA_DIR=str(data_dir), RUTA_HOST="127.0.0.1", RUTA_PORT=str(port),
               RUTA_LOG_LEVEL="WARNING", PATH=f"{Path(sys.executable).parent}:{env['PATH']}")
    return env


@contextmanager
def serving(env: dict[str, str], log_path: Path, port: int, *, timeout: float = 60.0,
            stop_timeout: float = 15.0) -> Iterator[str]:
    """`ruta serve` with ``env`` (its output in ``log_path``) until /readyz answers 200; its
    base URL; stopped by SIGTERM on exit, as an operator stops it (killed after
    ``stop_timeout``)."""
    with log_path.open("wb") as log:
        proc = subprocess.Popen([RUTA, "serve"], env=env, cwd=ROOT, stdout=log,
                                stderr=subprocess.STDOUT)
        base_url = f"http://127.0.0.1:{port}"
        try:
            deadline = time.monotonic() + timeout
            while True:
                try:
                    if httpx.get(base_url + "/readyz", timeout=2).status_code == 200:
                        break
                except httpx.TransportError:
                    pass
                if proc.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError("ruta serve did not start: "
                                       + log_path.read_text()[-2000:])
                time.sleep(0.2)
            yield base_url
        finally:
            proc.terminate()
            try:
                proc.wait(timeout=stop_timeout)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


@contextmanager
def live_server(data_dir: Path, timeout: float = 60.0) -> Iterator[LiveServer]:
    """Migrated, seeded with the demo data and answering /readyz; stopped on exit."""
    port = free_port()
    env = server_env(data_dir, port)
    for command in (["migrate"], ["seed-demo"]):
        subprocess.run([RUTA, *command], env=env, cwd=ROOT, check=True, capture_output=True)
    with serving(env, data_dir / "serve.log", port, timeout=timeout) as base_url:
        yield LiveServer(base_url, env)
