"""The distributed shape as real processes: one uvicorn per service and one for the gateway.

Used by ``make run-distributed``, by the tests that prove the shape, and by the benchmarks.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from shared.settings import DATABASES, SERVICES

ROOT = Path(__file__).resolve().parent.parent


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_healthy(url: str, timeout: float = 30.0, proc: subprocess.Popen[bytes] | None = None
                 ) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"process for {url} exited with {proc.returncode}")
        try:
            with urllib.request.urlopen(url + "/healthz", timeout=1) as resp:  # noqa: S310
                if resp.status == 200:
                    return
        except OSError:
            time.sleep(0.1)
    raise TimeoutError(f"{url} did not become healthy in {timeout}s")


class DistributedSystem:
    """Gateway + services as separate processes on loopback, each with its own database."""

    def __init__(self, database_urls: dict[str, str], *, env: dict[str, str] | None = None,
                 ports: dict[str, int] | None = None, workers: int = 1,
                 log_dir: Path | None = None, inherit_settings: bool = False) -> None:
        self.database_urls = database_urls
        self.ports = ports or {name: free_port() for name in DATABASES}
        self.extra_env = env or {}
        # the launcher passes the operator's RUTA_* settings on; tests start from none
        self.inherit_settings = inherit_settings
        self.workers = workers
        self.log_dir = log_dir
        self.procs: dict[str, subprocess.Popen[bytes]] = {}

    def url(self, name: str) -> str:
        return f"http://127.0.0.1:{self.ports[name]}"

    def env_for(self, name: str) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items()
               if self.inherit_settings or not k.startswith("RUTA_")}
        env.update(self.extra_env)
        env.update({f"RUTA_{db.upper()}_DATABASE_URL": url
                    for db, url in self.database_urls.items()})
        # the gateway forwards to the services; services call their siblings' APIs
        env.update({f"RUTA_{s.upper()}_URL": self.url(s) for s in SERVICES if s != name})
        return env

    def start_one(self, name: str) -> None:
        cmd = [sys.executable, "-m", "uvicorn", "--factory", f"ruta.asgi:{name}",
               "--host", "127.0.0.1", "--port", str(self.ports[name]), "--loop", "uvloop",
               "--http", "httptools", "--no-access-log", "--no-server-header",
               "--workers", str(self.workers),
               "--log-level", "warning"]
        with contextlib.ExitStack() as stack:
            out: Any = subprocess.DEVNULL
            if self.log_dir is not None:
                self.log_dir.mkdir(parents=True, exist_ok=True)
                # the child inherits its own descriptor; the parent's copy closes here
                out = stack.enter_context((self.log_dir / f"{name}.log").open("ab"))
            proc = subprocess.Popen(cmd, cwd=ROOT, env=self.env_for(name), stdout=out,
                                    stderr=out, start_new_session=True,
                                    preexec_fn=_die_with_parent)
        self.procs[name] = proc
        wait_healthy(self.url(name), proc=proc)

    def stop_one(self, name: str, sig: int = signal.SIGTERM) -> None:
        proc = self.procs.pop(name, None)
        if proc is None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, sig)
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=5)

    def start(self) -> None:
        for name in SERVICES:
            self.start_one(name)
        self.start_one("gateway")

    def stop(self) -> None:
        """Every child at once: SIGTERM to each process group, then wait (SIGKILL after
        10 s), so a slow child does not keep the others running."""
        procs, self.procs = self.procs, {}
        for proc in procs.values():
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGTERM)
        deadline = time.monotonic() + 10
        for proc in procs.values():
            try:
                proc.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(timeout=5)

    @contextlib.contextmanager
    def running(self) -> Iterator[DistributedSystem]:
        try:
            self.start()
            yield self
        finally:
            self.stop()


def _die_with_parent() -> None:
    """In the child before exec (Linux): SIGTERM when the launcher dies, even by SIGKILL,
    so no server outlives it."""
    with contextlib.suppress(OSError, AttributeError):
        import ctypes

        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG


class Stopped(Exception):
    """SIGTERM or SIGINT reached the launcher."""


def _stop_on_signals() -> None:
    def stop(signum: int, frame: object) -> None:
        # once stopping, further signals (a second Ctrl-C) must not interrupt the cleanup
        for s in (signal.SIGINT, signal.SIGTERM):
            signal.signal(s, signal.SIG_IGN)
        raise Stopped(signum)

    for s in (signal.SIGINT, signal.SIGTERM):
        signal.signal(s, stop)


def token_command(system: DistributedSystem) -> str:
    """How to mint a development token this gateway accepts: ``ruta token`` signs with the
    key in the gateway's database, so it must be pointed at that database."""
    ruta = Path(sys.executable).with_name("ruta")
    return (f"RUTA_GATEWAY_DATABASE_URL={system.database_urls['gateway']} "
            f"{ruta} token --as caseworker")


async def prepare_databases(database_urls: dict[str, str]) -> None:
    from services.referrals.usecases.catalogue import seed_catalogue
    from shared.db import Database
    from shared.migrate import ensure_postgres_database, upgrade

    for name, url in database_urls.items():
        await ensure_postgres_database(url)
        await upgrade(name, url)
    db = Database(database_urls["referrals"])
    try:
        await seed_catalogue(db=db)
    finally:
        await db.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description="Run the distributed shape locally.")
    parser.add_argument("--pg-url", default="postgresql+asyncpg://postgres@127.0.0.1:5432")
    parser.add_argument("--prefix", default="ruta")
    parser.add_argument("--port", type=int, default=int(os.environ.get("RUTA_PORT", "8000")))
    parser.add_argument("--log-dir", type=Path, default=ROOT / "data" / "logs")
    args = parser.parse_args()
    _stop_on_signals()
    urls = {name: f"{args.pg_url.rstrip('/')}/{args.prefix}_{name}" for name in DATABASES}
    ports = {name: free_port() for name in SERVICES}
    ports["gateway"] = args.port
    # RUTA_* settings of the environment reach every process (the URLs set here win)
    system = DistributedSystem(urls, ports=ports, log_dir=args.log_dir, inherit_settings=True)
    with contextlib.suppress(Stopped, KeyboardInterrupt):
        asyncio.run(prepare_databases(urls))
        with system.running():
            print(f"gateway on {system.url('gateway')}; services: "
                  + ", ".join(f"{s} {system.url(s)}" for s in SERVICES), flush=True)
            print(f"token: {token_command(system)}", flush=True)
            print(f"logs in {args.log_dir}/; Ctrl-C to stop", flush=True)
            while all(p.poll() is None for p in system.procs.values()):
                time.sleep(0.5)


if __name__ == "__main__":
    main()
