"""What processes cost, read from Linux's /proc: CPU seconds of the machine, of a process
group and of the PostgreSQL backends serving the bench databases; peak memory of a group."""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Iterator
from pathlib import Path

_HZ = os.sysconf("SC_CLK_TCK")


def _proc_stats() -> Iterator[tuple[int, bytes, list[bytes]]]:
    """(pid, comm, fields after the comm) of every live process (Linux /proc)."""
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat", "rb") as f:
                raw = f.read()
        except OSError:
            continue
        close = raw.rindex(b")")
        # after "pid (comm) ": state ppid pgrp ... utime(11) stime(12) cutime(13) cstime(14)
        yield int(entry), raw[raw.index(b"(") + 1:close], raw[close + 2:].split()


def _ticks(fields: list[bytes], children: bool = False) -> int:
    own = int(fields[11]) + int(fields[12])
    return own + (int(fields[13]) + int(fields[14]) if children else 0)


def system_busy_seconds() -> float:
    """CPU seconds all processes on the machine have used since boot (Linux /proc/stat)."""
    with open("/proc/stat") as f:
        fields = [int(x) for x in f.readline().split()[1:]]
    idle = fields[3] + (fields[4] if len(fields) > 4 else 0)  # idle + iowait
    return (sum(fields[:8]) - idle) / _HZ


def group_cpu_seconds(pgid: int) -> float:
    """CPU of every live process in a process group."""
    return sum(_ticks(f) for _, _, f in _proc_stats() if int(f[2]) == pgid) / _HZ


class PostgresMeter:
    """CPU of the local PostgreSQL backends serving our databases (0 when the server runs
    elsewhere), sampled every 0.2 s in a thread so that the backends of connections closed
    during the run still count (up to their last sample). Other people's sessions on the
    same server are not counted; they show up as "other"."""

    def __init__(self, databases: list[str], interval: float = 0.2) -> None:
        self._names = [b" " + d.encode() + b" " for d in databases]
        self._interval = interval
        self._base: dict[int, int] = {}
        self._seen: dict[int, int] = {}
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def _sample(self) -> dict[int, int]:
        out = {}
        for pid, comm, fields in _proc_stats():
            if comm != b"postgres":
                continue
            try:
                with open(f"/proc/{pid}/cmdline", "rb") as f:
                    title = f.read()
            except OSError:
                continue
            # a backend's title: "postgres: 15/main: user database host(port) state"
            if title.startswith(b"postgres: ") and any(n in title for n in self._names):
                out[pid] = _ticks(fields)
        return out

    def _loop(self) -> None:
        while not self._stop.wait(self._interval):
            self._seen.update(self._sample())

    def __enter__(self) -> PostgresMeter:
        self._base = self._sample()
        self._seen = dict(self._base)
        self._thread = threading.Thread(target=self._loop, daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
        self._seen.update(self._sample())

    @property
    def seconds(self) -> float:
        return sum(t - self._base.get(pid, 0) for pid, t in self._seen.items()) / _HZ


def peak_rss_mb(pid: int) -> float:
    """VmHWM (peak resident set) of one process, MB; 0 when gone."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


def group_pids(pgid: int) -> list[int]:
    out = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                if os.getpgid(int(entry)) == pgid:
                    out.append(int(entry))
            except OSError:
                continue
    return out


def group_peak_rss_mb(pgid: int) -> float:
    """The largest peak resident set of any process of the group, MB."""
    return max((peak_rss_mb(p) for p in group_pids(pgid)), default=0.0)


def wait_quiet(pgids: list[int], *, below: float = 0.05, window: float = 1.0,
               windows: int = 3, timeout: float = 180.0) -> float:
    """Wait until the process groups use less than ``below`` of a core in each of
    ``windows`` consecutive windows of ``window`` seconds (one quiet second was seen between
    two batches of a catch-up); the seconds waited (``timeout`` at most).

    A measurement starts from a settled system: the writes of the phase before (the mix,
    the bulk-created people) leave the event hub seconds of projection to catch up on, and a
    read measured during that catch-up measured the catch-up (2026-12-05: the first run's
    embedded read 2,347/s, the next two 1,850 and 1,698, the same code, after a mix)."""
    start = time.monotonic()
    before = sum(group_cpu_seconds(g) for g in pgids)
    quiet = 0
    while quiet < windows and time.monotonic() - start < timeout:
        time.sleep(window)
        now = sum(group_cpu_seconds(g) for g in pgids)
        quiet = quiet + 1 if now - before < below * window else 0
        before = now
    return time.monotonic() - start
