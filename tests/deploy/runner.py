"""Rendered deployment processes run as real local processes on loopback.

A process is taken exactly as rendered (its command and environment); only what cannot
exist on a test machine is rewritten: service host names and container ports to loopback
ports, ``0.0.0.0`` to 127.0.0.1, mounted secret paths to test files, and database URLs to
fresh databases on the CI PostgreSQL. Anything still naming a container host afterwards
fails the test, so a setting the rendering forgot cannot be papered over here.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from shared.settings import DATABASES, SERVICES
from tests.support.live import ROOT, free_port

SERVERS = (*SERVICES, "gateway")  # in start order; then the worker
PROCESSES = (*SERVERS, "worker")
VENV_BIN = Path(sys.executable).parent
URL = re.compile(r"\b(https?|redis)://([A-Za-z0-9.-]+):(\d+)")
DB_URL = re.compile(r"^RUTA_([A-Z]+)_DATABASE_URL$")


@dataclass
class Rendered:
    """One container of the rendering: what runs and with which settings."""

    name: str
    command: list[str]
    env: dict[str, str]
    job: bool = False
    mounts: dict[str, Path] = field(default_factory=dict)  # container path → local path


def serving_port(proc: Rendered) -> int:
    args = proc.command
    if "--port" in args:
        return int(args[args.index("--port") + 1])
    return int(proc.env.get("RUTA_PORT", "8000"))


def _url(match: re.Match[str], hosts: dict[str, tuple[int, int]]) -> str:
    scheme, host, port = match.group(1), match.group(2), int(match.group(3))
    short = host.split(".")[0]
    if scheme == "redis":
        assert short == "redis", f"unknown Redis host {host}"
        return f"redis://127.0.0.1:{os.environ.get('RUTA_TEST_REDIS_PORT', '6379')}"
    if short not in hosts:
        return match.group(0)  # a public URL (identity provider, public base URL)
    target_port, local = hosts[short]
    assert port == target_port, f"{host}:{port}: {short} serves on {target_port}"
    return f"{scheme}://127.0.0.1:{local}"


def _path(value: str, mounts: dict[str, Path]) -> str:
    for inside, outside in mounts.items():
        if value == inside or value.startswith(inside.rstrip("/") + "/"):
            return str(outside) + value[len(inside.rstrip("/")):]
    assert not value.startswith("/run/secrets"), f"{value} is not mounted in this container"
    return value


def localise(proc: Rendered, *, hosts: dict[str, tuple[int, int]], ports: dict[str, int],
             databases: dict[str, str]) -> tuple[list[str], dict[str, str]]:
    """The command and environment to run ``proc`` here (see the module's docstring)."""
    env: dict[str, str] = {}
    for key, value in proc.env.items():
        if (m := DB_URL.match(key)) and m.group(1).lower() in DATABASES:
            env[key] = databases[m.group(1).lower()]
            continue
        value = URL.sub(lambda mm: _url(mm, hosts), value)
        value = value.replace("0.0.0.0", "127.0.0.1")
        env[key] = _path(value, proc.mounts)
    command = [str(VENV_BIN / proc.command[0]) if proc.command[0] == "ruta" else
               proc.command[0], *proc.command[1:]]
    command = [c.replace("0.0.0.0", "127.0.0.1") for c in command]
    if proc.name in ports:
        if "--port" in command:
            command[command.index("--port") + 1] = str(ports[proc.name])
        env["RUTA_PORT"] = str(ports[proc.name])
    containers = (*hosts, "postgres", "redis")
    leftover = [v for v in [*env.values(), *command]
                for m in URL.finditer(v) if m.group(2).split(".")[0] in containers]
    assert not leftover, leftover
    base = {"PATH": f"{VENV_BIN}:/usr/bin:/bin", "HOME": os.environ.get("HOME", str(ROOT)),
            "LANG": "C.UTF-8"}
    return command, {**base, **env}


def _wait_ready(url: str, proc: subprocess.Popen[bytes], log: Path, timeout: float = 90
                ) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise AssertionError(f"{url} exited {proc.returncode}: {log.read_text()[-3000:]}")
        try:
            if httpx.get(url + "/readyz", timeout=2).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.2)
    raise AssertionError(f"{url} not ready in {timeout}s: {log.read_text()[-3000:]}")


@contextmanager
def deployed(rendered: list[Rendered], databases: dict[str, str], logs: Path
             ) -> Iterator[str]:
    """Run the jobs, then the servers (ready on /readyz) and the worker; yields the
    gateway's URL; stops everything on exit."""
    by_name = {p.name: p for p in rendered if not p.job}
    assert sorted(by_name) == sorted(PROCESSES), sorted(by_name)
    jobs = [p for p in rendered if p.job]
    assert {j.command[-1] for j in jobs} >= set(DATABASES), [j.command for j in jobs]
    ports = {name: free_port() for name in SERVERS}
    hosts = {name: (serving_port(by_name[name]), ports[name]) for name in SERVERS}
    logs.mkdir(parents=True, exist_ok=True)
    for job in jobs:
        cmd, env = localise(job, hosts=hosts, ports={}, databases=databases)
        run = subprocess.run(cmd, env=env, cwd=logs, capture_output=True, text=True,
                             timeout=300, check=False)
        assert run.returncode == 0, f"{job.name}: {run.stdout}{run.stderr}"
    procs: list[subprocess.Popen[bytes]] = []
    try:
        for name in PROCESSES:
            cmd, env = localise(by_name[name], hosts=hosts, ports=ports, databases=databases)
            log = logs / f"{name}.log"
            with log.open("wb") as out:
                proc = subprocess.Popen(cmd, env=env, cwd=logs, stdout=out,
                                        stderr=subprocess.STDOUT, start_new_session=True)
            procs.append(proc)
            if name in ports:
                _wait_ready(f"http://127.0.0.1:{ports[name]}", proc, log)
        yield f"http://127.0.0.1:{ports['gateway']}"
        for proc, name in zip(procs, PROCESSES, strict=False):
            assert proc.poll() is None, f"{name} died: {(logs / f'{name}.log').read_text()}"
    finally:
        for proc in procs:
            proc.terminate()
        for proc in procs:
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


__all__ = ["ROOT", "Rendered", "deployed"]
