"""One run of ``ruta import-profiles`` as the operator lives it: the sheet checked first, the
gateway reached (or one clear line naming it and the settings that choose it), a progress
bar on stderr, and on Ctrl-C how many rows were sent and the command that resumes. The
import itself (batches, state, lock) is services/registry/importer.py."""

from __future__ import annotations

import asyncio
import sys
from dataclasses import dataclass
from pathlib import Path

import httpx
import typer

from services.registry.importer import ImportAborted, ImportSummary, rows_answered, run_import
from services.registry.sheets import read_sheet

CONNECT_TIMEOUT = 3.0  # a gateway on this network answers a connect in far less


class GatewayUnreachable(Exception):
    """Nothing answers at the gateway's address."""


async def check_gateway(client: httpx.AsyncClient, url: str) -> None:
    """Any HTTP answer will do (even 503 while it starts): only a failed connection is
    fatal, and it is said at once instead of after the import's retries."""
    try:
        await client.get("/readyz")
    except httpx.TransportError as exc:
        raise GatewayUnreachable(url) from exc


@dataclass
class ImportRun:
    file: Path
    url: str
    token: str
    batch_size: int
    results: Path | None
    language: str
    ignore_unknown_columns: bool
    resume: str
    total: int = 0

    def run(self) -> None:
        results = self.results or self.file.with_name(self.file.stem + ".results.csv")
        state = results.with_name(results.name + ".state.json")
        try:
            summary = asyncio.run(self._go(results, state))
        except KeyboardInterrupt:
            self._stopped(state, "interrumpida / interrupted")
            raise typer.Exit(130) from None
        except GatewayUnreachable:
            typer.echo(f"no se pudo conectar con la pasarela en {self.url} / cannot reach the "
                       f"gateway at {self.url}: ¿está en marcha `ruta serve`? Elija otra con "
                       f"--url o RUTA_HOST/RUTA_PORT / is it running? Choose another with "
                       f"--url or RUTA_HOST/RUTA_PORT", err=True)
            raise typer.Exit(3) from None
        except httpx.TransportError:
            self._stopped(state, f"la pasarela {self.url} dejó de responder / the gateway "
                                 f"stopped answering")
            raise typer.Exit(3) from None
        except ImportAborted as exc:
            typer.echo(f"importación detenida / import stopped: {exc}", err=True)
            if rows_answered(state):
                typer.echo(f"para continuar / to resume: {self.resume}", err=True)
            raise typer.Exit(1) from None
        typer.echo(f"{summary.rows} filas: {summary.created} creadas ({summary.warnings} con "
                   f"avisos), {summary.duplicate} duplicadas, {summary.invalid} no válidas "
                   f"({summary.batches_sent} lotes enviados, {summary.batches_skipped} ya "
                   f"hechos) → {results}")

    def _stopped(self, state: Path, why: str) -> None:
        typer.echo(f"\nimportación {why}: {rows_answered(state)} de {self.total} filas "
                   f"enviadas / rows sent. Para continuar / to resume: {self.resume}", err=True)

    async def _go(self, results: Path, state: Path) -> ImportSummary:
        self.total = len(read_sheet(self.file,
                                    ignore_unknown=self.ignore_unknown_columns).rows)
        timeout = httpx.Timeout(120, connect=CONNECT_TIMEOUT)
        async with httpx.AsyncClient(base_url=self.url.rstrip("/"), timeout=timeout) as client:
            await check_gateway(client, self.url)
            with typer.progressbar(length=self.total, label="importando",
                                   file=sys.stderr) as bar:
                return await run_import(
                    self.file, client, token=self.token, results=results, state_path=state,
                    batch_size=self.batch_size, on_batch=bar.update, language=self.language,
                    ignore_unknown_columns=self.ignore_unknown_columns)
