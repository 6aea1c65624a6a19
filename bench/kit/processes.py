"""Processes a benchmark starts (servers, workers, load generators), waited for and always
stopped: every one is in ``STARTED`` from the moment it is spawned, and ``kill_everything``
ends each whole process group, whatever interrupted the run."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import traceback
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from kit import ROOT, app

# Every process (and load generator) started here, so that all of them die with us.
STARTED: list[subprocess.Popen[bytes]] = []


class BenchError(RuntimeError):
    """The run itself failed (not the system under test): said on one line, exit 1."""


def kill_group(proc: subprocess.Popen[bytes], timeout: float = 10.0) -> None:
    if proc.poll() is None:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=5)
    else:  # the leader is gone; stragglers in its group must not outlive the run
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(proc.pid, signal.SIGKILL)
    with contextlib.suppress(ValueError):
        STARTED.remove(proc)


def kill_everything() -> None:
    for proc in list(STARTED):
        kill_group(proc, timeout=5)


@contextlib.contextmanager
def shielded() -> Iterator[None]:
    """Cleanup that SIGINT / SIGTERM / the time budget cannot cut short (it is bounded)."""
    sigs = (signal.SIGINT, signal.SIGTERM, signal.SIGALRM)
    previous = {sig: signal.signal(sig, signal.SIG_IGN) for sig in sigs}
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def clean_environ() -> None:
    """Servers started here and tokens minted here must agree on secrets: both use the
    development defaults, whatever RUTA_* this shell has."""
    for key in [k for k in os.environ if k.startswith("RUTA_")]:
        del os.environ[key]


def base_env(extra: dict[str, str]) -> dict[str, str]:
    """This process's environment without its ``RUTA_*``, plus ``extra``."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("RUTA_")}
    env.update(extra)
    return env


def spawn(cmd: list[str], env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    """A process in its own session (its group can be killed), output appended to ``log``."""
    log.parent.mkdir(parents=True, exist_ok=True)
    with log.open("ab") as out:  # the child keeps its own copy of the descriptor
        proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT,
                                start_new_session=True)
    STARTED.append(proc)
    return proc


class Server:
    """One uvicorn process (own session, so its whole group can be killed), on a free port,
    healthy (``/healthz``) once entered; its log is ``<log_dir>/<name>.log``."""

    def __init__(self, name: str, target: str, env: dict[str, str], log_dir: Path,
                 app_dir: Path | None = None, *, factory: bool = True,
                 timeout: float = 30) -> None:
        self.name = name
        self.port = app.free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        cmd = [sys.executable, "-m", "uvicorn", target, "--host", "127.0.0.1",
               "--port", str(self.port), "--loop", "uvloop", "--http", "httptools",
               "--no-access-log", "--no-server-header", "--workers", "1",
               "--log-level", "warning"]
        if factory:
            cmd.insert(4, "--factory")
        if app_dir is not None:
            cmd[3:3] = ["--app-dir", str(app_dir)]
        self.cmd = cmd
        self.env = env
        self.timeout = timeout
        self.log_path = log_dir / f"{name}.log"
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def pid(self) -> int:
        """Its process (group) id, once started."""
        assert self.proc is not None, "the server is not started"
        return self.proc.pid

    def __enter__(self) -> Server:
        self.proc = spawn(self.cmd, self.env, self.log_path)
        try:
            app.wait_healthy(self.url, timeout=self.timeout, proc=self.proc)
        except Exception as exc:
            self.__exit__(None, None, None)
            raise BenchError(f"{self.name} did not start: {exc}; see {self.log_path}") from exc
        return self

    def __exit__(self, *_: object) -> None:
        if self.proc is not None:
            kill_group(self.proc)


def distributed_system(urls: dict[str, str], env: dict[str, str], log_dir: Path
                       ) -> app.DistributedSystem:
    """``ruta.distributed.DistributedSystem`` whose processes are also in ``STARTED``, from
    the moment each one is spawned: an interrupt during start-up or shutdown still kills
    them."""

    class Tracked(app.DistributedSystem):
        def start_one(self, name: str) -> None:
            try:
                super().start_one(name)
            finally:
                proc = self.procs.get(name)
                if proc is not None and proc not in STARTED:
                    STARTED.append(proc)

    return Tracked(urls, env=env, log_dir=log_dir)


def _on_signal(signum: int, _frame: Any) -> None:
    if signum == signal.SIGALRM:
        raise TimeoutError("the benchmark exceeded its overall time budget")
    raise KeyboardInterrupt(f"signal {signum}")


def run_guarded(run: Callable[[], int], budget_seconds: int = 0) -> int:
    """``run()``'s exit code; 130 when interrupted (SIGINT, SIGTERM), 1 when it failed or
    overran ``budget_seconds`` (0: no budget). Whatever happens, every process started here
    is stopped before this returns."""
    signal.signal(signal.SIGINT, _on_signal)  # even when started with SIGINT ignored
    signal.signal(signal.SIGTERM, _on_signal)
    signal.signal(signal.SIGALRM, _on_signal)
    signal.alarm(budget_seconds)
    code = 1
    try:
        code = run()
    except KeyboardInterrupt:
        print("\ninterrupted; stopping everything", file=sys.stderr)
        code = 130
    except (BenchError, TimeoutError) as exc:
        print(f"benchmark failed: {exc}", file=sys.stderr)
    except Exception:
        traceback.print_exc()
        print("benchmark failed (unexpected error above); processes stopped",
              file=sys.stderr)
    finally:
        signal.alarm(0)
        with shielded():
            kill_everything()
    return code
