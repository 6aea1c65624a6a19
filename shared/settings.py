"""Process settings, read once from the environment (prefix ``RUTA_``) and validated at start-up.

One class serves every process shape: each process reads only the fields it needs. In
production a missing or development-default secret refuses to start, because a default
secret in a public-sector system holding refugees' data is a breach waiting to happen.
"""

from __future__ import annotations

import base64
import json
import os
import sys
from collections.abc import Iterable
from datetime import date
from pathlib import Path
from typing import Annotated, Literal

from pydantic import Field, ValidationError, model_validator
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict

from shared.http1 import parse_base_url
from shared.oidc_issuers import issuer_problems
from shared.peer_deployments import peer_problems
from shared.secret_files import (
    SecretFileError,
    SecretFilesSource,
    public_base_url_problem,
    with_password,
)

SERVICES = ("registry", "referrals", "credentials")
DATABASES = ("gateway", *SERVICES)

# Development defaults: obviously fake, refused when RUTA_ENV=production.
DEV_INTERNAL_SECRET = "dev-internal-secret-not-for-production-0000000000"
DEV_CURSOR_SECRET = "dev-cursor-secret-not-for-production-000000000000"
# 32-byte AES key (base64) for sensitive data at rest in development only.
DEV_DATA_KEYS = '{"dev-1": "ZGV2LWtleS1ub3QtZm9yLXByb2R1Y3Rpb24tMDAwMDA="}'
DEV_SECRETS = {DEV_INTERNAL_SECRET, DEV_CURSOR_SECRET}


def _service_url_ok(url: str | None) -> bool:
    """Unset, or a base URL the gateway and the peers can use (shared.http1 speaks plain
    HTTP/1.1: TLS between pods is the mesh's or the network's)."""
    if url is None:
        return True
    try:
        parse_base_url(url)
    except ValueError:
        return False
    return True


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="RUTA_", env_file=None, extra="ignore", frozen=True
    )

    env: Literal["development", "production"] = "development"
    host: str = "127.0.0.1"
    port: int = Field(8000, ge=1, le=65535)
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    log_json: bool = True

    data_dir: Path = Path("data")
    gateway_database_url: str | None = None
    registry_database_url: str | None = None
    referrals_database_url: str | None = None
    credentials_database_url: str | None = None
    database_pool_size: int = Field(20, ge=1, le=200)
    # The password of every PostgreSQL URL above that names none: the URLs stay plain
    # configuration and the password a secret (RUTA_DATABASE_PASSWORD_FILE).
    database_password: str | None = None
    # Per database, where each has its own credentials (Kubernetes: one CloudNativePG
    # `<cluster>-app` Secret per database, all four mounted in the worker that purges them).
    gateway_database_password: str | None = None
    registry_database_password: str | None = None
    referrals_database_password: str | None = None
    credentials_database_password: str | None = None

    # Distributed shape: base URLs of the services as seen from the gateway. When unset the
    # gateway runs the service in its own process (embedded shape).
    registry_url: str | None = None
    referrals_url: str | None = None
    credentials_url: str | None = None
    upstream_timeout_seconds: float = Field(10.0, gt=0, le=120)
    upstream_connect_timeout_seconds: float = Field(2.0, gt=0, le=30)
    upstream_pool_size: int = Field(100, ge=1, le=2000)
    # How long the gateway keeps an idle connection to a service: shorter than the service's
    # own keep-alive timeout (uvicorn's 5 s), so that the gateway, not the service, closes
    # it, and a request never leaves on a connection the service is closing.
    upstream_keepalive_seconds: float = Field(4.0, gt=0, le=300)

    # Secrets. The internal secret signs the gateway's identity assertion to the services;
    # the cursor secret makes pagination cursors tamper-evident.
    internal_secret: str = DEV_INTERNAL_SECRET
    cursor_secret: str = DEV_CURSOR_SECRET
    # Event-feed cursors made before cursors named their caller are honoured (each re-bound to
    # the first client that presents it) until the end of this day, UTC; then they are a 400.
    legacy_feed_cursors_until: date = date(2027, 6, 30)

    # Keys for sensitive data at rest: JSON {key_id: base64 32-byte key}; the active key
    # encrypts, every listed key decrypts (rotation without re-encrypting everything at once).
    data_keys: str = DEV_DATA_KEYS
    data_active_key: str = "dev-1"
    # Where the public API is reachable from outside (VC issuer URLs, Location headers).
    # Production requires it, https unless on loopback: a VC names it as issuer for good.
    public_base_url: str = "http://127.0.0.1:8000"
    # A folder of files named after settings (RUTA_INTERNAL_SECRET, ...), one secret each:
    # compose secrets under /run/secrets, a Kubernetes Secret volume. RUTA_<NAME>_FILE names
    # the file of one setting. The environment wins over a file, a _FILE over the folder.
    secrets_dir: Path | None = None

    jwt_issuer: str = "ruta-empleabilidad"
    jwt_audience: str = "ruta-api"
    access_token_ttl_seconds: int = Field(900, ge=60, le=86400)
    identity_assertion_ttl_seconds: int = Field(60, ge=5, le=600)
    idempotency_ttl_hours: int = Field(24, ge=24, le=24 * 30)
    max_body_bytes: int = Field(2_000_000, ge=1024)

    # Gateway protection. Rate limits: JSON {"read"|"write"|"token"|"public":
    # {"capacity": N, "window_seconds": S}}; shared across replicas through Redis when set.
    redis_url: str | None = None
    rate_limits: str = "{}"
    cors_origins: str = ""  # comma-separated origins of the frontends allowed to call the API
    max_header_bytes: int = Field(16_384, ge=1024)
    client_secret_overlap_hours: int = Field(24, ge=0, le=24 * 30)

    # Event relay and webhook delivery inside this process (off for tests that drive them).
    background_tasks: bool = True
    event_poll_seconds: float = Field(0.2, gt=0, le=60)
    # With nothing to do the relay waits this long on a service's outbox (long poll, woken by
    # the service's own commits) and the dispatcher and worker check at least this often.
    event_idle_seconds: float = Field(2.0, gt=0, le=30)
    # Retention (shared/retention.py; README "Retention"): how long each kind of record is
    # kept once its purpose is served (Ley 29733 / D.S. 016-2024-JUS, LOPDP 2021).
    retention_purge_enabled: bool = True
    retention_interval_seconds: float = Field(3600.0, ge=10, le=7 * 86400)
    retention_batch_size: int = Field(1000, ge=1, le=50_000)
    retention_idempotency_grace_hours: int = Field(0, ge=0, le=24 * 30)
    retention_outbox_days: int = Field(7, ge=1, le=3650)
    retention_feed_days: int = Field(90, ge=30, le=3650)
    retention_webhook_days: int = Field(30, ge=1, le=3650)
    retention_inbound_days: int = Field(90, ge=7, le=3650)
    retention_signing_key_grace_days: int = Field(1, ge=0, le=365)
    retention_audit_years: int = Field(10, ge=1, le=100)
    # Reports: cells counting fewer people than this are suppressed (small-cell rule).
    report_min_cell: int = Field(5, ge=0, le=1000)
    # Document-expiry watch (services/registry/watch.py): horizons in days before expiry,
    # JSON like [60, 30, 7] (none: shared/work_authorisation.json's); how often the registry
    # runs it (0: never in the service, only `ruta watch-documents`); how long after expiry
    # a lapse it never saw is still announced.
    document_watch_horizons_days: list[Annotated[int, Field(ge=1, le=365)]] | None = Field(
        None, min_length=1, max_length=6)
    document_watch_interval_seconds: float = Field(3600.0, ge=0, le=86_400)
    document_watch_expired_lookback_days: int = Field(30, ge=1, le=3650)

    bootstrap_admin_client_id: str | None = None
    bootstrap_admin_client_secret: str | None = None
    # Identity providers trusted for people, each bounded: see shared/oidc_issuers.py.
    oidc_issuers: str = "[]"
    allow_private_webhook_targets: bool = False
    # Portable records (issue 21): who this deployment is, and the other countries'
    # deployments it trusts (shared/peer_deployments.py).
    deployment_id: str = Field("ruta-pe", pattern=r"^[a-z0-9][a-z0-9-]{1,62}$")
    deployment_country: str = Field("PE", pattern=r"^[A-Z]{2}$")
    peer_deployments: str = "[]"
    # JSON {peer id: secret}: the secret of the inbound source each peer registered for us,
    # to sign the arrival notice to its POST /v1/inbound/{our id} (Standard Webhooks).
    peer_callback_secrets: str = "{}"

    @classmethod
    def settings_customise_sources(
        cls, settings_cls: type[BaseSettings], init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource, dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        """Arguments, then the environment, then secret files (``RUTA_*_FILE``, then the
        ``RUTA_SECRETS_DIR`` folder)."""
        return (init_settings, env_settings, SecretFilesSource(settings_cls))

    @model_validator(mode="after")
    def _data_keys_are_usable(self) -> Settings:
        keys = self.data_key_map()
        if self.data_active_key not in keys:
            raise ValueError("RUTA_DATA_ACTIVE_KEY must name one of RUTA_DATA_KEYS")
        return self

    def data_key_map(self) -> dict[str, bytes]:
        """RUTA_DATA_KEYS parsed: key id → 32-byte AES key."""
        try:
            raw = json.loads(self.data_keys)
            keys = {str(k): base64.b64decode(v, validate=True) for k, v in raw.items()}
        except (ValueError, AttributeError, TypeError) as exc:
            raise ValueError("RUTA_DATA_KEYS must be a JSON object of base64 keys") from exc
        if not keys or any(len(v) != 32 for v in keys.values()):
            raise ValueError("RUTA_DATA_KEYS: every key must be 32 bytes (base64)")
        return keys

    @model_validator(mode="after")
    def _refuses_unsafe_settings(self) -> Settings:
        """Every problem at once: identity providers trusted beyond bounds (in production,
        also without bounds) and, in production, development defaults."""
        problems = issuer_problems(self.oidc_issuers, production=self.is_production)
        problems += peer_problems(self.peer_deployments)
        problems += [f"RUTA_{name.upper()}_URL must be http://host[:port][/path]: the "
                     "services are reached over plain HTTP inside the deployment"
                     for name in SERVICES if not _service_url_ok(getattr(self, f"{name}_url"))]
        if self.is_production:
            problems += self._production_problems()
        if problems:
            raise ValueError("; ".join(problems))
        return self

    def _production_problems(self) -> list[str]:
        problems = []
        for name in ("internal_secret", "cursor_secret"):
            value = getattr(self, name)
            if value in DEV_SECRETS or len(value) < 32:
                problems.append(f"RUTA_{name.upper()} must be set to a secret of 32+ characters")
        if self.data_keys == DEV_DATA_KEYS:
            problems.append("RUTA_DATA_KEYS must be set (the development key is public)")
        if self.allow_private_webhook_targets:
            problems.append("RUTA_ALLOW_PRIVATE_WEBHOOK_TARGETS is a development setting")
        if self.bootstrap_admin_client_secret is not None and len(
            self.bootstrap_admin_client_secret
        ) < 24:
            problems.append("RUTA_BOOTSTRAP_ADMIN_CLIENT_SECRET must have 24+ characters")
        url_problem = public_base_url_problem(
            self.public_base_url if "public_base_url" in self.model_fields_set else None)
        if url_problem:
            problems.append(url_problem)
        return problems

    @property
    def is_production(self) -> bool:
        return self.env == "production"

    def database_url(self, name: str) -> str:
        """The SQLAlchemy URL of one service's database; a SQLite file under data_dir by default."""
        if name not in DATABASES:
            raise KeyError(name)
        url: str | None = getattr(self, f"{name}_database_url")
        if url:
            own: str | None = getattr(self, f"{name}_database_password")
            return with_password(url, own or self.database_password)
        if self.is_production:
            # only the databases a process actually opens must be configured
            raise ValueError(f"RUTA_{name.upper()}_DATABASE_URL must be set in production")
        return f"sqlite+aiosqlite:///{(self.data_dir / f'{name}.db').resolve()}"

    @property
    def event_wait_seconds(self) -> float:
        """The relay's long-poll wait: the idle period, well inside the upstream timeout."""
        return min(self.event_idle_seconds, self.upstream_timeout_seconds / 2)

    def upstream_url(self, name: str) -> str | None:
        url: str | None = getattr(self, f"{name}_url")
        return url.rstrip("/") if url else None

    @property
    def embedded(self) -> bool:
        return not any(self.upstream_url(s) for s in SERVICES)


def load_settings_or_exit(databases: Iterable[str] = ()) -> Settings:
    """The settings for a command or a process that starts, with the ``databases`` it opens.

    When anything is missing or invalid, one message on stderr lists every problem at once —
    the invalid settings and, in production, each of those databases whose URL is not set —
    naming the settings, never echoing their values (which may be secrets); then exit 2.
    """
    problems: list[str] = []
    settings: Settings | None
    try:
        settings = Settings()
        production = settings.is_production
    except SecretFileError as exc:
        problems += exc.problems
        settings, production = None, _production_asked()
    except ValidationError as exc:
        for e in exc.errors(include_url=False, include_input=False):
            where = ".".join(str(p) for p in e["loc"])
            message = str(e["msg"]).removeprefix("Value error, ")
            problems += [f"{where}: {m}" if where else m for m in message.split("; ")]
        settings, production = _configured_anyway(), _production_asked()
    if production:
        problems += [f"RUTA_{name.upper()}_DATABASE_URL must be set in production"
                     for name in databases if not _database_url_set(settings, name)]
    if settings is not None and not problems:
        return settings
    print("configuración no válida / invalid configuration:",
          *(f"  - {p}" for p in problems), sep="\n", file=sys.stderr)
    raise SystemExit(2)


def _database_url_set(settings: Settings | None, name: str) -> bool:
    if settings is not None:
        return bool(getattr(settings, f"{name}_database_url"))
    return bool(os.environ.get(f"RUTA_{name.upper()}_DATABASE_URL"))


def _production_asked() -> bool:
    return os.environ.get("RUTA_ENV", "").strip().lower() == "production"


def _configured_anyway() -> Settings | None:
    """What is configured, read as development would, to report the rest of the problems."""
    try:
        return Settings(env="development")
    except (ValidationError, ValueError):
        return None


def load_settings(**overrides: object) -> Settings:
    return Settings(**overrides)  # type: ignore[arg-type]
