"""Settings read from files, and the public base URL's rule.

Secrets do not belong in environment variables that ``docker inspect``, ``/proc/*/environ``
and crash reports show: compose mounts its secrets under ``/run/secrets`` and Kubernetes a
Secret as a volume. So any setting may come from a file: ``RUTA_<NAME>_FILE`` names the file
of one setting, and ``RUTA_SECRETS_DIR`` a folder whose files are named after the settings
(``RUTA_INTERNAL_SECRET`` or ``internal_secret``). A setting given both in the environment
and as ``RUTA_<NAME>_FILE`` is refused rather than one silently winning.
"""

from __future__ import annotations

import ipaddress
import os
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from pydantic.fields import FieldInfo
from pydantic_settings import PydanticBaseSettingsSource

PREFIX = "RUTA_"
LOOPBACK_NAMES = {"localhost"}


class SecretFileError(ValueError):
    """Settings files that cannot be used; names the settings and files, never contents."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("; ".join(problems))
        self.problems = problems


def _read(path: Path) -> str:
    # a file ends with a newline more often than not; a secret never does
    return path.read_text(encoding="utf-8").rstrip("\r\n")


class SecretFilesSource(PydanticBaseSettingsSource):
    """``RUTA_<NAME>_FILE`` first, then the files of ``RUTA_SECRETS_DIR``; below the
    environment and explicit arguments."""

    def get_field_value(self, field: FieldInfo, field_name: str) -> tuple[Any, str, bool]:
        return None, field_name, False  # everything is read at once in __call__

    def __call__(self) -> dict[str, Any]:
        environ = {k.upper(): v for k, v in os.environ.items()}
        values: dict[str, Any] = {}
        problems: list[str] = []
        folder = self.current_state.get("secrets_dir") or environ.get(f"{PREFIX}SECRETS_DIR")
        for name in self.settings_cls.model_fields:
            if name == "secrets_dir":
                continue
            env_name = f"{PREFIX}{name.upper()}"
            file_name = environ.get(f"{env_name}_FILE")
            if file_name:
                if env_name in environ:
                    problems.append(f"{env_name}: set it or {env_name}_FILE, not both")
                    continue
                try:
                    values[name] = _read(Path(file_name))
                except (OSError, UnicodeDecodeError):
                    problems.append(f"{env_name}_FILE: cannot read the file it names")
                continue
            if folder and name not in self.current_state:
                for candidate in (Path(folder) / env_name, Path(folder) / name):
                    if candidate.is_file():
                        try:
                            values[name] = _read(candidate)
                        except (OSError, UnicodeDecodeError):
                            problems.append(f"{env_name}: cannot read {candidate.name} in "
                                            f"RUTA_SECRETS_DIR")
                        break
        if folder and not Path(folder).is_dir():
            problems.append("RUTA_SECRETS_DIR: not a readable folder")
        if problems:
            raise SecretFileError(problems)
        return values


def _is_loopback(host: str) -> bool:
    if host.lower() in LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def public_base_url_problem(url: str | None) -> str | None:
    """Why ``url`` cannot be production's public base URL (None: it can). Unset is a
    problem: verifiable credentials would name a development address as their issuer."""
    if url is None:
        return "RUTA_PUBLIC_BASE_URL must be set in production (the API's public https URL)"
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname or parts.query \
            or parts.fragment:
        return "RUTA_PUBLIC_BASE_URL must be an http(s) URL without query or fragment"
    if parts.scheme != "https" and not _is_loopback(parts.hostname):
        return "RUTA_PUBLIC_BASE_URL must use https (http only on loopback)"
    return None


def with_password(url: str, password: str | None) -> str:
    """``url`` with ``password`` when it is a server URL naming none (unchanged otherwise)."""
    if not password or url.startswith("sqlite"):
        return url
    from sqlalchemy.engine import make_url

    parsed = make_url(url)
    if parsed.password is not None:
        return url
    return parsed.set(password=password).render_as_string(hide_password=False)
