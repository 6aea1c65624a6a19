"""Spreadsheet import for NGOs: CSV or .xlsx rows → ``POST /v1/profiles/bulk`` in batches.

Resumable without duplicating anyone: each batch's ``Idempotency-Key`` is derived from the
file's content and the batch number, and a state file next to the results records every
batch answered. Rerunning after an interruption skips the answered batches and resends the
others with the same keys (the server replays a batch it had already committed). A changed
file is refused, so a key never covers two different batches.

Spanish headers and values as NGOs write them are understood (services/registry/sheets.py):
the sheet is refused before anything is sent when its headers are wrong, and rows whose dates
or region the client can already judge are reported without being sent. One run at a time
per import (a file lock).
"""

from __future__ import annotations

import asyncio
import csv
import fcntl
import json
import os
from collections.abc import Awaitable, Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from services.registry.sheets import ImportAborted, convert_row, read_sheet, row_to_payload

RETRY_STATUSES = {409, 429, 500, 502, 503, 504}
__all__ = ["ImportAborted", "ImportLocked", "read_sheet", "row_to_payload", "run_import"]


class ImportLocked(ImportAborted):
    """Another run of the same import (same results and state files) holds the lock."""


@contextmanager
def import_lock(results: Path) -> Iterator[None]:
    """One run at a time per import: two runs would send the same batches and race on the
    state file. An advisory ``flock`` on ``RESULTS.lock``, released when the run ends, even
    when it is killed (the kernel drops it with the process)."""
    path = results.with_name(results.name + ".lock")
    with path.open("a") as fh:
        try:
            fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise ImportLocked(
                f"otra importación de este archivo está en curso ({path.name}); espere a que "
                f"termine / another import of this file is running; wait for it to finish"
            ) from None
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


@dataclass
class ImportState:
    file_sha256: str
    batch_size: int
    batches: dict[str, list[dict[str, Any]]] = field(default_factory=dict)

    @classmethod
    def load(cls, path: Path) -> ImportState | None:
        if not path.exists():
            return None
        data = json.loads(path.read_text(encoding="utf-8"))
        return cls(data["file_sha256"], int(data["batch_size"]), data.get("batches", {}))

    def save(self, path: Path) -> None:
        tmp = path.with_suffix(path.suffix + ".tmp")
        tmp.write_text(json.dumps({"file_sha256": self.file_sha256,
                                   "batch_size": self.batch_size,
                                   "batches": self.batches}), encoding="utf-8")
        os.replace(tmp, path)  # atomic: an interruption never leaves half a state


@dataclass
class ImportSummary:
    rows: int
    created: int
    duplicate: int
    invalid: int
    batches_sent: int
    batches_skipped: int
    warnings: int = 0


def batch_key(file_sha256: str, batch_size: int, number: int) -> str:
    return f"import-{file_sha256[:32]}-{batch_size}-{number:06d}"


RESULT_COLUMNS = ["row", "status", "profile_id", "existing_profile_id", "duplicate_of_row",
                  "errors", "warnings"]


def write_results(path: Path, rows: list[tuple[int, dict[str, str]]], state: ImportState
                  ) -> None:
    tmp = path.with_suffix(path.suffix + ".tmp")
    with tmp.open("w", newline="", encoding="utf-8") as fh:
        writer = csv.DictWriter(fh, fieldnames=RESULT_COLUMNS)
        writer.writeheader()
        for n in sorted(state.batches, key=int):
            start = int(n) * state.batch_size
            for r in state.batches[n]:
                line = rows[start + r["index"]][0]
                dup_of = r.get("duplicate_of_index")
                writer.writerow({
                    "row": line, "status": r["status"], "profile_id": r.get("id") or "",
                    "existing_profile_id": r.get("existing_profile_id") or "",
                    "duplicate_of_row": rows[start + dup_of][0] if dup_of is not None else "",
                    "errors": _listed(r.get("errors")), "warnings": _listed(r.get("warnings")),
                })
    os.replace(tmp, path)


def _listed(problems: list[dict[str, str]] | None) -> str:
    return "; ".join(f"{p['field']}: {p['message']}" for p in problems or [])


def _merge(local: list[list[dict[str, str]]], sent: list[int], answer: list[dict[str, Any]]
           ) -> list[dict[str, Any]]:
    """The batch's results by row: the server's (its indexes are of the rows sent) and the
    rows refused here."""
    results: list[dict[str, Any]] = [
        {"index": i, "status": "invalid", "errors": errors} for i, errors in enumerate(local)]
    for r in answer:
        r = {**r, "index": sent[r["index"]]}
        if r.get("duplicate_of_index") is not None:
            r["duplicate_of_index"] = sent[r["duplicate_of_index"]]
        results[r["index"]] = r
    return results


async def _post(client: httpx.AsyncClient, url: str, body: dict[str, Any],
                headers: dict[str, str], retries: int,
                sleep: Callable[[float], Awaitable[None]]) -> dict[str, Any]:
    delay = 1.0
    for attempt in range(retries + 1):
        try:
            resp = await client.post(url, json=body, headers=headers)
        except httpx.TransportError:
            if attempt == retries:
                raise
        else:
            if resp.status_code == 200:
                out: dict[str, Any] = resp.json()
                return out
            if resp.status_code not in RETRY_STATUSES or attempt == retries:
                detail = resp.text[:500]
                raise ImportAborted(f"HTTP {resp.status_code}: {detail}")
            retry_after = resp.headers.get("retry-after", "")
            if retry_after.isdigit():
                delay = max(delay, float(retry_after))
        await sleep(delay)
        delay = min(delay * 2, 30.0)
    raise ImportAborted("unreachable")  # pragma: no cover


@dataclass
class _Batches:
    """The import's batches: row numbers, what is sent and the state of what was answered."""

    rows: list[tuple[int, dict[str, str]]]
    digest: str
    date_format: str
    size: int
    language: str

    def chunks(self) -> Iterator[tuple[int, list[tuple[int, dict[str, str]]]]]:
        for number, start in enumerate(range(0, len(self.rows), self.size)):
            yield number, self.rows[start:start + self.size]

    def convert(self, chunk: list[tuple[int, dict[str, str]]]
                ) -> tuple[list[dict[str, Any]], list[list[dict[str, str]]], list[int]]:
        """The bodies to send, each row's local errors, and which rows are sent."""
        converted = [convert_row(r, self.date_format, self.language) for _, r in chunk]
        sent = [i for i, (_, errors) in enumerate(converted) if not errors]
        return ([converted[i][0] for i in sent], [errors for _, errors in converted], sent)


async def run_import(
    file: Path, client: httpx.AsyncClient, *, token: str, results: Path, state_path: Path,
    batch_size: int = 500, retries: int = 5,
    on_batch: Callable[[int], None] | None = None,
    sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    language: str = "es", ignore_unknown_columns: bool = False,
) -> ImportSummary:
    """Reads and checks the whole sheet first (nothing is sent when it is refused), then
    sends its batches under the import's lock, recording each answer before the next."""
    sheet = read_sheet(file, ignore_unknown=ignore_unknown_columns)
    with import_lock(results):
        return await _run(_Batches(sheet.rows, sheet.sha256, sheet.date_format, batch_size,
                                   language), client, token=token, results=results,
                          state_path=state_path, retries=retries, on_batch=on_batch,
                          sleep=sleep)


async def _run(batches: _Batches, client: httpx.AsyncClient, *, token: str, results: Path,
               state_path: Path, retries: int, on_batch: Callable[[int], None] | None,
               sleep: Callable[[float], Awaitable[None]]) -> ImportSummary:
    rows, digest, batch_size = batches.rows, batches.digest, batches.size
    state = ImportState.load(state_path)
    if state is not None and (state.file_sha256 != digest or state.batch_size != batch_size):
        raise ImportAborted(
            "the file or the batch size changed since the interrupted import; finish it with "
            "the same file and batch size, or remove the state file to start again")
    state = state or ImportState(digest, batch_size)
    sent_batches = skipped = 0
    for number, chunk in batches.chunks():
        if str(number) in state.batches:
            skipped += 1
        else:
            items, local, sent = batches.convert(chunk)
            answer: list[dict[str, Any]] = []
            if items:
                headers = {"Authorization": f"Bearer {token}",
                           "Idempotency-Key": batch_key(digest, batch_size, number),
                           "Accept-Language": batches.language}
                answer = (await _post(client, "/v1/profiles/bulk", {"items": items}, headers,
                                      retries, sleep))["results"]
                sent_batches += 1
            state.batches[str(number)] = _merge(local, sent, answer)
            state.save(state_path)
            write_results(results, rows, state)
        if on_batch:
            on_batch(len(chunk))
    write_results(results, rows, state)
    all_results: Iterable[dict[str, Any]] = (r for b in state.batches.values() for r in b)
    counts = {"created": 0, "duplicate": 0, "invalid": 0, "warnings": 0}
    for r in all_results:
        counts[r["status"]] += 1
        counts["warnings"] += bool(r.get("warnings"))
    return ImportSummary(len(rows), counts["created"], counts["duplicate"], counts["invalid"],
                         sent_batches, skipped, counts["warnings"])


def rows_answered(state_path: Path) -> int:
    """How many rows of an interrupted import have their answer recorded."""
    state = ImportState.load(state_path)
    return sum(len(b) for b in state.batches.values()) if state else 0
